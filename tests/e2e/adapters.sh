#!/usr/bin/env bash
# peft adapters and merged export end to end on a micro PaliGemma: pgc run checkpoints hold adapter_model.safetensors +
# adapter_config.json in peft's format; --adapter loads them into pgc run and pgc generate; pgc export --merge writes a
# Hugging Face folder whose weights are W + scaling * B A (checked with f64 loops in Python, no pgc code); bad adapters
# and exports end with one error line, exit code 1 and nothing written; pgc quantize against a Python NF4 decoder.
# Usage: adapters.sh PGC_SOURCE_DIR PGC_BINARY_DIR WORK_DIR
set -u
src=$1 bin=$2 work=$3
pgc=$bin/pgc
py=/usr/bin/python3
ref=$src/tests/unit/weights
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/common.sh"

micro_set "$work/data" "$work/micro.json" 16 4
# r 4, alpha 6 (scaling 1.5, so that the merge must multiply).
printf 'freeze: ["**"]\nlora: {r: 4, alpha: 6, targets: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]}\n' \
  > "$work/lora.yaml"
for name in full:$src/policies/full.yaml lora:$work/lora.yaml qlora:$src/policies/seed-qlora.yaml; do
  "$pgc" compile --model paligemma --config "$work/micro.json" --policy "${name#*:}" --batch 2 --seq-len 24 \
    --target cpu -o "$work/${name%%:*}.pgc" > "$work/compile-${name%%:*}.log" 2>&1 \
    || { cat "$work/compile-${name%%:*}.log"; echo "compile ${name%%:*} failed"; exit 1; }
done
"$pgc" inspect "$work/lora.pgc" --no-steps | grep -q '^  lora: {' && ok "inspect shows the recorded LoRA settings" \
  || fail "inspect: no lora metadata line"

# Base weights: every parameter of a full-policy run after one step (all of them train, so all are saved).
"$pgc" run "$work/full.pgc" --data "$work/data" --init random --seed 3 --init-std 0.1 --max-steps 1 \
  --max-new-tokens 2 --output-dir "$work/base" > "$work/base.log" 2>&1 || { cat "$work/base.log"; exit 1; }
base=$work/base/checkpoint-1/model.safetensors
train=(--data "$work/data" --weights "$base" --seed 4 --lr 5e-2 --max-new-tokens 2 --save-steps 0)
# Runs start from an adapter folder written here with non-zero A and B (so that every adapter gets gradients and the
# merge has something to add), which also exercises --adapter on a minimal folder peft could have written.
init_adapter() { # ARTIFACT DIR R ALPHA: every LoRA parameter of ARTIFACT, from a fixed formula
  mkdir -p "$2"
  "$pgc" inspect "$1" --no-steps > "$2.txt" || fail "inspect $1"
  $py - "$ref" "$2" "$2.txt" "$3" "$4" <<'PY'
import math, re, sys
sys.path.insert(0, sys.argv[1])
import safetensors_reference as r
tensors = {}
for line in open(sys.argv[3]):
    m = re.match(r"  (\S+\.lora_[AB]\.weight) f32\[(\d+), (\d+)\]", line)
    if m:
        name, rows, cols = m.group(1), int(m.group(2)), int(m.group(3))
        values = [0.2 * math.sin(1.7 * i + len(name)) for i in range(rows * cols)]
        tensors["base_model.model." + name] = ("F32", [rows, cols], r.encode("F32", values))
assert len(tensors) == 20, len(tensors)
r.write(sys.argv[2] + "/adapter_model.safetensors", tensors, {"format": "pt"})
open(sys.argv[2] + "/adapter_config.json", "w").write(
    '{"peft_type": "LORA", "r": %s, "lora_alpha": %s}' % (sys.argv[4], sys.argv[5]))
PY
}
init_adapter "$work/lora.pgc" "$work/init-adapter" 4 6
"$pgc" run "$work/lora.pgc" "${train[@]}" --adapter "$work/init-adapter" --max-steps 2 --output-dir "$work/lora" \
  > "$work/lora.log" 2>&1 || { cat "$work/lora.log"; exit 1; }
ckpt=$work/lora/checkpoint-2

# The adapter files as peft writes them: keys base_model.model.<module>.lora_{A,B}.weight, F32, back to back (the
# reference reader applies HF's layout rule), the same values as the checkpoint's own model.safetensors.
$py - "$ref" "$ckpt" <<'PY' && ok "checkpoint adapter files: peft keys, F32, contiguous, adapter_config.json" \
  || fail "checkpoint adapter files"
import json, subprocess, sys
ref, ckpt = sys.argv[1], sys.argv[2]
def read(path):
    out = subprocess.run(["/usr/bin/python3", ref + "/safetensors_reference.py", path], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return {t["name"]: t for t in map(json.loads, out[1:])}
adapter, model = read(ckpt + "/adapter_model.safetensors"), read(ckpt + "/model.safetensors")
want = {"base_model.model." + n: t for n, t in model.items() if ".lora_A." in n or ".lora_B." in n}
assert set(adapter) == set(want) and len(want) == 20, (sorted(adapter), sorted(want))
for key, t in adapter.items():
    assert t["dtype"] == "F32" and t["shape"] == want[key]["shape"] and t["values"] == want[key]["values"], key
config = json.load(open(ckpt + "/adapter_config.json"))
assert config["peft_type"] == "LORA" and config["r"] == 4 and config["lora_alpha"] == 6, config
assert config["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
assert config["bias"] == "none" and config["task_type"] is None and config["inference_mode"] is True
assert config["use_rslora"] is False and config["lora_dropout"] == 0.0 and config["modules_to_save"] is None
PY

# --adapter: generate from base weights + the adapter folder answers as the checkpoint does; a run starting from it
# evaluates at step 0 exactly as the checkpoint's run ended.
image=$(ls "$work/data/validation/"*.png | head -1)
gen=(--image "$image" --prompt "answer what color is the shape?" --tokenizer "$work/data/tokenizer.model" \
     --max-new-tokens 4)
a=$("$pgc" generate "$work/lora.pgc" --weights "$ckpt" "${gen[@]}" 2>&1) || fail "generate from checkpoint: $a"
b=$("$pgc" generate "$work/lora.pgc" --weights "$base" --adapter "$ckpt" "${gen[@]}" 2>&1) \
  || fail "generate --adapter: $b"
[[ "$a" == "$b" ]] && ok "generate --weights BASE --adapter CKPT answers as the checkpoint: '$a'" \
  || fail "generate --adapter: '$b' vs checkpoint '$a'"
"$pgc" run "$work/lora.pgc" "${train[@]}" --adapter "$ckpt" --max-steps 1 --eval-at-start --output-dir "$work/again" \
  > "$work/again.log" 2>&1 || fail "run --adapter: $(tail -1 "$work/again.log")"
$py - "$work/lora/metrics.jsonl" "$work/again/metrics.jsonl" <<'PY' \
  && ok "run --adapter: the step-0 evaluation equals the adapter's run's last" || fail "run --adapter evaluation"
import json, sys
last = [r for r in map(json.loads, open(sys.argv[1])) if "eval_loss" in r][-1]
first = [r for r in map(json.loads, open(sys.argv[2])) if "eval_loss" in r][0]
sys.exit(0 if (first["step"], first["eval_loss"]) == (0, last["eval_loss"]) else 1)
PY

# Merged export in f32: every base tensor under its name, no lora_* key, W + 1.5 * B A (f64 loops here), config.json
# as compiled (plus torch_dtype) and the tokenizer; in bf16 the same tensors rounded once.
"$pgc" export "$ckpt" --artifact "$work/lora.pgc" --merge --dtype f32 -o "$work/merged32" > "$work/export.log" 2>&1 \
  || fail "export f32: $(tail -1 "$work/export.log")"
"$pgc" export "$ckpt" --artifact "$work/lora.pgc" --merge -o "$work/merged" >> "$work/export.log" 2>&1 \
  || fail "export bf16: $(tail -1 "$work/export.log")"
$py - "$ref" "$base" "$ckpt" "$work/merged32" "$work/merged" "$work/micro.json" <<'PY' \
  && ok "export --merge: W + scaling B A within f32 rounding, bf16 rounded once, config.json, tokenizer" \
  || fail "export --merge values"
import json, os, struct, subprocess, sys
ref, base, ckpt, m32, m16, micro = sys.argv[1:]
def read(path):
    out = subprocess.run(["/usr/bin/python3", ref + "/safetensors_reference.py", path], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return {t["name"]: t for t in map(json.loads, out[1:])}
def values(t):
    return [float.fromhex(v) for v in t["values"]]
def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]
def bf16(x):  # round to nearest even from the f32 bits
    (bits,) = struct.unpack("<I", struct.pack("<f", x))
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]
W, lora, M32, M16 = read(base), read(ckpt + "/model.safetensors"), read(m32 + "/model.safetensors"), \
    read(m16 + "/model.safetensors")
assert set(M32) == set(W) == set(M16), (sorted(set(M32) ^ set(W)))
assert not any("lora_" in k for k in M32)
assert all(t["dtype"] == "F32" for t in M32.values()) and all(t["dtype"] == "BF16" for t in M16.values())
merged = 0
for name, w in W.items():
    module = name[:-len(".weight")]
    a, b = lora.get(module + ".lora_A.weight"), lora.get(module + ".lora_B.weight")
    want = values(w)
    if a:
        (r, n), out = a["shape"], b["shape"][0]
        A, B = values(a), values(b)
        want = [f32(want[i * n + j] + 1.5 * sum(B[i * r + k] * A[k * n + j] for k in range(r)))
                for i in range(out) for j in range(n)]
        merged += 1
    got32, got16 = values(M32[name]), values(M16[name])
    for x, y in zip(want, got32):
        assert abs(x - y) <= 2 ** -22 * abs(x) + 1e-30, (name, x, y)
    assert got16 == [bf16(x) for x in got32], name
assert merged == 10, merged
config = json.load(open(m16 + "/config.json"))
assert config.pop("torch_dtype") == "bfloat16"
assert config["vision_config"].pop("vision_use_head") is False
assert config == json.load(open(micro)), config
assert json.load(open(m32 + "/config.json"))["torch_dtype"] == "float32"
assert os.path.isfile(m16 + "/tokenizer.model")
assert not [f for f in os.listdir(os.path.dirname(m16)) if f.startswith(".merged")]
PY
# What Hugging Face reads from the export and from a checkpoint: no pgc file under an HF name, the processor files.
for folder in merged merged32; do
  $py "$src/tests/e2e/check-hf-folder.py" "$work/$folder" && ok "HF folder files: $folder" || fail "HF folder files: $folder"
done
$py "$src/tests/e2e/check-hf-folder.py" "$ckpt" "$work/micro.json" && ok "HF folder files: checkpoint" \
  || fail "HF folder files: checkpoint"
# The merged f32 weights in the artifact compiled without LoRA give the LoRA model's logits (pgc exec on one batch;
# the LoRA model's weights are the base plus the checkpoint's adapters, put together here).
$py - "$ref" "$base" "$ckpt" "$work/micro.json" "$work/in.safetensors" "$work/lora-weights.safetensors" <<'PY'
import json, subprocess, sys
sys.path.insert(0, sys.argv[1])
import safetensors_reference as r
ref, base, ckpt, micro, inputs, weights = sys.argv[1:]
tensors = {}
for path in (base, ckpt + "/model.safetensors"):
    out = subprocess.run(["/usr/bin/python3", ref + "/safetensors_reference.py", path], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    for t in map(json.loads, out[1:]):
        tensors[t["name"]] = (t["dtype"], t["shape"], r.encode(t["dtype"], [float.fromhex(v) for v in t["values"]]))
r.write(weights, tensors)
config = json.load(open(micro))
image, vocab = config["image_token_index"], config["text_config"]["vocab_size"]
ids = [[image] * 4 + [2] + [5 + (7 * i + 3 * b) % 40 for i in range(19)] for b in range(2)]
types = [[0] * 20 + [1] * 4 for b in range(2)]
labels = [[-100] * 20 + row[20:] for row in ids]
flat = lambda rows: [x for row in rows for x in row]
r.write(inputs, {"pixel_values": ("F32", [2, 3, 16, 16], r.encode("F32", [((i * 37) % 17) / 8 - 1 for i in range(1536)])),
                 "input_ids": ("I64", [2, 24], r.encode("I64", flat(ids))),
                 "attention_mask": ("I64", [2, 24], r.encode("I64", [1] * 48)),
                 "token_type_ids": ("I64", [2, 24], r.encode("I64", flat(types))),
                 "labels": ("I64", [2, 24], r.encode("I64", flat(labels)))})
PY
for run in lora:lora-weights.safetensors full:merged32 base:base/checkpoint-1/model.safetensors; do
  artifact=${run%%:*}; [[ $artifact == base ]] && artifact=full
  "$pgc" exec "$work/$artifact.pgc" --inputs "$work/in.safetensors" --weights "$work/${run#*:}" \
    --out "$work/out-${run%%:*}.safetensors" > /dev/null 2>&1 || fail "exec ${run%%:*}"
done
$py - "$ref" "$work" <<'PY' && ok "the merged f32 weights in the non-LoRA artifact give the LoRA model's logits" \
  || fail "merged logits differ from the LoRA model's"
import json, subprocess, sys
def logits(path):
    out = subprocess.run(["/usr/bin/python3", sys.argv[1] + "/safetensors_reference.py", path], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return [float.fromhex(v) for t in map(json.loads, out[1:]) if t["name"] == "logits" for v in t["values"]]
lora, merged, base = (logits(sys.argv[2] + "/out-%s.safetensors" % n) for n in ("lora", "full", "base"))
scale = max(map(abs, lora))
error = max(abs(x - y) for x, y in zip(lora, merged))
effect = max(abs(x - y) for x, y in zip(lora, base))
print("max |merged - lora| %.3g, adapters' effect %.3g, largest logit %.3g" % (error, effect, scale))
sys.exit(0 if len(lora) == len(merged) > 0 and error <= 1e-5 * scale and effect > 100 * error else 1)
PY

# QLoRA: NF4 base weights are dequantized, then merged; the export has the base's names and shapes.
init_adapter "$work/qlora.pgc" "$work/init-qadapter" 8 8
"$pgc" run "$work/qlora.pgc" "${train[@]}" --adapter "$work/init-qadapter" --max-steps 1 --output-dir "$work/qlora" > "$work/qlora.log" 2>&1 \
  || fail "qlora run: $(tail -1 "$work/qlora.log")"
"$pgc" export "$work/qlora/checkpoint-1" --artifact "$work/qlora.pgc" --merge -o "$work/qmerged" \
  > "$work/qexport.log" 2>&1 || fail "qlora export: $(tail -1 "$work/qexport.log")"
$py - "$ref" "$base" "$work/qmerged/model.safetensors" <<'PY' && ok "qlora export: base names and shapes, bf16" \
  || fail "qlora export"
import json, subprocess, sys
def read(path):
    out = subprocess.run(["/usr/bin/python3", sys.argv[1] + "/safetensors_reference.py", path], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return {t["name"]: (t["dtype"], t["shape"]) for t in map(json.loads, out[1:])}
base, merged = read(sys.argv[2]), read(sys.argv[3])
assert {k: s for k, (d, s) in base.items()} == {k: s for k, (d, s) in merged.items()}
assert all(d == "BF16" for d, s in merged.values())
PY

# Bad adapters and exports: one line, exit code 1, nothing written.
expect_error() { # NAME PHRASE OUTPUT_THAT_MUST_NOT_EXIST COMMAND...: stderr is the one error line
  local name=$1 phrase=$2 out=$3
  shift 3
  local log=$work/err-$name.log
  "$@" > /dev/null 2> "$log"
  local rc=$?
  if [[ $rc -ne 1 ]]; then fail "$name: exit code $rc"; return; fi
  if [[ $(wc -l < "$log") -ne 1 ]] || ! grep -qF -- "$phrase" "$log"; then fail "$name: $(cat "$log")"; return; fi
  if [[ -e "$out" ]]; then fail "$name: $out was written"; return; fi
  ok "$name: $(cat "$log")"
}
# bad_adapter NAME PYTHON: a copy of the checkpoint's adapter folder changed by PYTHON (t: name -> (dtype, shape,
# bytes), config: dict), written with the reference writer.
bad_adapter() {
  mkdir -p "$work/$1"
  $py - "$ref" "$ckpt" "$work/$1" "$2" <<'PY'
import json, subprocess, sys
sys.path.insert(0, sys.argv[1])
import safetensors_reference as r
ckpt, out, change = sys.argv[2], sys.argv[3], sys.argv[4]
lines = subprocess.run(["/usr/bin/python3", sys.argv[1] + "/safetensors_reference.py",
                        ckpt + "/adapter_model.safetensors"], capture_output=True, text=True, check=True).stdout
t = {}
for x in map(json.loads, lines.splitlines()[1:]):
    t[x["name"]] = (x["dtype"], x["shape"], r.encode(x["dtype"], [float.fromhex(v) for v in x["values"]]))
config = json.load(open(ckpt + "/adapter_config.json"))
q = "base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight"
exec(change)
r.write(out + "/adapter_model.safetensors", t, {"format": "pt"})
json.dump(config, open(out + "/adapter_config.json", "w"))
PY
}
bad_adapter shape 't[q] = ("F32", [2, 32], r.encode("F32", [0.0] * 64))'
bad_adapter unknown 't["base_model.model.vision_tower.extra.lora_A.weight"] = ("F32", [1], r.encode("F32", [1.0]))'
bad_adapter missing 'del t[q]'
bad_adapter rank 'config["r"] = 16'
q=base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight
for bad in "shape:tensor '$q' has shape [2, 32]" \
           "unknown:key 'base_model.model.vision_tower.extra.lora_A.weight' is not a LoRA parameter" \
           "missing:no tensor '$q'" "rank:r is 16, the artifact was compiled with r 4"; do
  name=${bad%%:*}
  expect_error "run --adapter ($name)" "${bad#*:}" "$work/out-$name" \
    "$pgc" run "$work/lora.pgc" "${train[@]}" --max-steps 1 --adapter "$work/$name" --output-dir "$work/out-$name"
done
expect_error "generate --adapter (rank)" "r is 16" "$work/none" \
  "$pgc" generate "$work/lora.pgc" --weights "$base" --adapter "$work/rank" "${gen[@]}"
expect_error "export without LoRA parameters" "has no LoRA parameters" "$work/x1" \
  "$pgc" export "$work/base/checkpoint-1" --artifact "$work/full.pgc" --merge -o "$work/x1"
expect_error "export of base weights without adapters" "give the adapters with --adapter" "$work/x2" \
  "$pgc" export "$base" --artifact "$work/lora.pgc" --merge -o "$work/x2"
expect_error "export --adapter (shape)" "has shape [2, 32]" "$work/x3" \
  "$pgc" export "$base" --artifact "$work/lora.pgc" --merge --adapter "$work/shape" -o "$work/x3"
expect_error "export onto an existing folder" "already exists" "$work/none" \
  "$pgc" export "$ckpt" --artifact "$work/lora.pgc" --merge -o "$work/merged"
ls -a "$work" | grep -q '^\.x' && fail "export left a temporary folder: $(ls -a "$work" | grep '^\.')"

# pgc quantize on a small file from the reference writer: keys, dtypes and shapes, and --dequant equal to an NF4
# decoder written here from bitsandbytes' tables (with and without double quantization).
$py - "$ref" "$work/q-in.safetensors" <<'PY'
import math, sys
sys.path.insert(0, sys.argv[1])
import safetensors_reference as r
w = [math.sin(0.37 * i) * (1 + (i % 7)) for i in range(3 * 70)]    # 210 values: 4 blocks, the last ragged
v = [math.cos(0.11 * i) * 0.01 for i in range(130 * 130)]           # 16900 values: 265 blocks > 256
r.write(sys.argv[2], {"w": ("F32", [3, 70], r.encode("F32", w)), "v": ("BF16", [130, 130], r.encode("BF16", v))})
PY
for mode in plain:"" double:--double-quant; do
  "$pgc" quantize "$work/q-in.safetensors" -o "$work/q-${mode%%:*}.safetensors" ${mode#*:} --dequant \
    > "$work/q-${mode%%:*}.log" 2>&1 || fail "quantize ${mode%%:*}: $(tail -1 "$work/q-${mode%%:*}.log")"
done
"$pgc" quantize "$work/q-in.safetensors" -o "$work/q-nodq.safetensors" > /dev/null 2>&1 || fail "quantize without --dequant"
$py - "$ref" "$work" <<'PY' && ok "quantize: keys, dtypes, shapes; --dequant equals an independent NF4 decoder" \
  || fail "quantize outputs"
import json, struct, subprocess, sys
ref, work = sys.argv[1], sys.argv[2]
def read(path):
    out = subprocess.run(["/usr/bin/python3", ref + "/safetensors_reference.py", path], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return json.loads(out[0])["metadata"], {t["name"]: t for t in map(json.loads, out[1:])}
def num(t):
    return [float.fromhex(v) if t["dtype"] in ("F32", "BF16") else int(v) for v in t["values"]]
def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]
NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0]
NF4 = [f32(c) for c in NF4]
def dynamic_map():  # bitsandbytes create_dynamic_map(signed=True): float32 linspace of [0.1, 1], midpoints x 10^(e-6)
    data = []
    for e in range(7):
        n = 2 ** e + 1
        lo, hi = f32(0.1), f32(1.0)
        step = f32(f32(hi - lo) / (n - 1))
        bounds = [f32(lo + f32(step * i)) if i < n // 2 else f32(hi - f32(step * (n - i - 1))) for i in range(n)]
        scale = f32(10.0 ** (e - 6))
        for k in range(n - 1):
            mean = f32((bounds[k] + bounds[k + 1]) / 2)
            data += [f32(scale * mean), f32(-scale * mean)]
    return sorted(data + [0.0, 1.0])
DMAP = dynamic_map()
_, src = read(work + "/q-in.safetensors")
shapes = {n: t["shape"] for n, t in src.items()}
for mode, double in (("plain", False), ("double", True)):
    meta, q = read(work + "/q-%s.safetensors" % mode)
    assert meta == {"format": "pgc-nf4", "block_size": "64", "double_quant": "true" if double else "false"}, meta
    for name, shape in shapes.items():
        n = shape[0] * shape[1]
        blocks = (n + 63) // 64
        want = {name + ".nf4": ("U8", [(n + 1) // 2]), name: ("F32", shape)}
        if double:
            want.update({name + ".qabsmax": ("U8", [blocks]), name + ".absmax2": ("F32", [(blocks + 255) // 256]),
                         name + ".offset": ("F32", [])})
        else:
            want[name + ".absmax"] = ("F32", [blocks])
        have = {k: (t["dtype"], t["shape"]) for k, t in q.items() if k == name or k.startswith(name + ".")}
        assert have == want, (have, want)
        codes = num(q[name + ".nf4"])
        if double:
            qa, a2, off = num(q[name + ".qabsmax"]), num(q[name + ".absmax2"]), num(q[name + ".offset"])[0]
            absmax = [f32(f32(DMAP[qa[b]] * a2[b // 256]) + off) for b in range(blocks)]
        else:
            absmax = num(q[name + ".absmax"])
        got = num(q[name])
        for i in range(n):
            code = codes[i // 2] >> 4 if i % 2 == 0 else codes[i // 2] & 15
            x = f32(NF4[code] * absmax[i // 64])
            assert abs(got[i] - x) <= 2 ** -20 * abs(x), (mode, name, i, got[i], x)
_, nodq = read(work + "/q-nodq.safetensors")
assert set(nodq) == {"w.nf4", "w.absmax", "v.nf4", "v.absmax"}, sorted(nodq)
PY

echo "$failures failures"
exit $((failures > 0))
