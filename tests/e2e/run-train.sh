#!/usr/bin/env bash
# pgc compile && pgc run on a micro PaliGemma: a run stopped and resumed (at a step, and by Ctrl-C) ends bit for bit
# where an uninterrupted run does; SIGKILL during checkpoint writes never leaves a checkpoint unreadable; bad runs end
# with one error line and exit code 1; pgc generate answers from a checkpoint.
# Usage: run-train.sh PGC_SOURCE_DIR PGC_BINARY_DIR WORK_DIR
set -u
src=$1 bin=$2 work=$3
pgc=$bin/pgc
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/common.sh"

micro_set "$work/data" "$work/micro.json" 40 8
micro_step "$work/step.pgc"
grep -q "apply_update" "$work/step.log" && ok "compile: $(grep '^plan:' "$work/step.log")" \
  || fail "compile: no plan line with apply_update"

common=(--data "$work/data" --init random --seed 3 --init-std 0.1 --lr 3e-3 --warmup-steps 2
        --grad-accum 2 --logging-steps 1 --max-new-tokens 3)
short=("${common[@]}" --max-steps 8)

# compare_runs NAME DIR_A DIR_B [STEP [ROWS]]: same final weights and optimizer state (bytes) and the same logged
# curve of at least ROWS (default 9) lines.
compare_runs() {
  local name=$1 a=$2 b=$3 last=${4:-8} rows=${5:-9} f
  for f in model.safetensors optimizer.safetensors; do
    if ! cmp -s "$a/checkpoint-$last/$f" "$b/checkpoint-$last/$f"; then fail "$name: $f differs"; return; fi
  done
  if ! /usr/bin/python3 - "$a/metrics.jsonl" "$b/metrics.jsonl" "$rows" <<'PY'
import json, sys
keys = ("step", "epoch", "loss", "lr", "grad_norm", "eval_loss", "eval_accuracy")
def curve(path):
    return [tuple(r.get(k) for k in keys) for r in map(json.loads, open(path))]
a, b = curve(sys.argv[1]), curve(sys.argv[2])
sys.exit(0 if a == b and len(a) >= int(sys.argv[3]) else 1)
PY
  then fail "$name: metrics.jsonl curves differ"; return; fi
  ok "$name: same weights, optimizer state and loss curve as the uninterrupted run"
}

"$pgc" run "$work/step.pgc" "${short[@]}" --save-steps 3 --output-dir "$work/full" > "$work/full.log" 2>&1 \
  || { cat "$work/full.log"; echo "uninterrupted run failed"; exit 1; }
ls "$work/full" | grep -qx checkpoint-8 && ls "$work/full" | grep -qx checkpoint-6 \
  && ok "checkpoints every 3 steps and at the end: $(ls "$work/full" | tr '\n' ' ')" \
  || fail "checkpoints: $(ls "$work/full")"

# TensorBoard scalars next to metrics.jsonl (OUTPUT_DIR/runs), read back by an independent decoder.
/usr/bin/python3 "$src/tests/e2e/tfevents.py" "$work/full/runs" "$work/full/metrics.jsonl" > "$work/tfevents.log" 2>&1 \
  && ok "tensorboard: $(cat "$work/tfevents.log")" || fail "tensorboard: $(tail -1 "$work/tfevents.log")"

# Stopped after step 4 (between two saves), resumed.
"$pgc" run "$work/step.pgc" "${short[@]}" --save-steps 3 --output-dir "$work/split" --stop-at-step 4 > "$work/split1.log" 2>&1 \
  || fail "stop at step 4: $(tail -1 "$work/split1.log")"
"$pgc" run "$work/step.pgc" "${short[@]}" --save-steps 3 --resume "$work/split" > "$work/split2.log" 2>&1 \
  || fail "resume: $(tail -1 "$work/split2.log")"
grep -q "resuming from .*checkpoint-4 at step 4" "$work/split2.log" || fail "resume did not start at step 4"

# --device cuda on a machine without a GPU: one line naming the device problem, exit 1, no output folder.
if ! "$pgc" device | grep -q "no CUDA device"; then
  ok "--device cuda: a CUDA device is present, the no-device case is not checked here"
elif err=$("$pgc" run "$work/step.pgc" "${short[@]}" --device cuda --output-dir "$work/gpu" 2>&1 >/dev/null); then
  fail "--device cuda without a GPU succeeded"
elif [[ -e $work/gpu ]]; then
  fail "--device cuda without a GPU wrote $work/gpu"
elif [[ $(grep -c . <<<"$err") != 1 ]] || ! grep -q -- "--device cuda: no CUDA device" <<<"$err"; then
  fail "--device cuda without a GPU: $err"
else
  ok "--device cuda without a GPU: $err"
fi
compare_runs "stop at 4 + resume" "$work/full" "$work/split"

# A policy that freezes the vision tower (no --train: a policy with -o implies it): pg-freeze cuts the tower's
# backward, checkpoints hold only the trainable tensors, and a resumed run still matches bit for bit.
"$pgc" compile --model paligemma --config "$work/micro.json" --policy "$src/policies/freeze-vision.yaml" \
  --batch 4 --seq-len 32 --target cpu -o "$work/frozen.pgc" > "$work/frozen-compile.log" 2>&1 \
  || fail "compile with freeze-vision: $(tail -1 "$work/frozen-compile.log")"
grep -q "pg-freeze: vision_tower: backward ops [1-9][0-9]* -> 0," "$work/frozen-compile.log" \
  && ok "freeze-vision: $(grep 'pg-freeze: vision_tower' "$work/frozen-compile.log" | sed 's/^ *//')" \
  || fail "freeze-vision: no pg-freeze line removing the vision tower's backward"
"$pgc" run "$work/frozen.pgc" "${short[@]}" --save-steps 0 --output-dir "$work/ffull" > "$work/ffull.log" 2>&1 \
  || fail "frozen run: $(tail -1 "$work/ffull.log")"
"$pgc" run "$work/frozen.pgc" "${short[@]}" --save-steps 0 --output-dir "$work/fsplit" --stop-at-step 5 \
  > "$work/fsplit1.log" 2>&1 || fail "frozen stop at 5: $(tail -1 "$work/fsplit1.log")"
"$pgc" run "$work/frozen.pgc" "${short[@]}" --save-steps 0 --resume "$work/fsplit" > "$work/fsplit2.log" 2>&1 \
  || fail "frozen resume: $(tail -1 "$work/fsplit2.log")"
/usr/bin/python3 - "$work/ffull/checkpoint-8/model.safetensors" <<'PY' && ok "frozen checkpoint holds no vision_tower tensor" || fail "frozen checkpoint holds vision_tower tensors"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
names = [k for k in json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]]) if k != "__metadata__"]
sys.exit(0 if names and not any(n.startswith("vision_tower.") for n in names) else 1)
PY
compare_runs "freeze-vision, stop at 5 + resume" "$work/ffull" "$work/fsplit"

# LoRA on base weights: the uninterrupted run's final weights as the base of a LoRA artifact (policies/lora.yaml).
# The adapters are drawn fresh (A kaiming-uniform, B = 0), so before any update the LoRA model evaluates exactly as
# its base did at the end of that run, and its checkpoints hold only adapters.
"$pgc" compile --model paligemma --config "$work/micro.json" --policy "$src/policies/lora.yaml" \
  --batch 4 --seq-len 32 --target cpu -o "$work/lora.pgc" > "$work/lora-compile.log" 2>&1 \
  || fail "compile with lora.yaml: $(tail -1 "$work/lora-compile.log")"
grep -q "pg-autodiff: gradients of the [0-9]* trainable parameters only; none of the [0-9]* frozen" "$work/lora-compile.log" \
  && ok "lora.yaml: $(grep -o 'pg-autodiff: .*' "$work/lora-compile.log")" \
  || fail "lora.yaml: no pg-autodiff line saying the frozen weights get no gradient"
"$pgc" run "$work/lora.pgc" --data "$work/data" --weights "$work/full/checkpoint-8/model.safetensors" --seed 5 \
  --lr 3e-3 --logging-steps 1 --max-new-tokens 3 --max-steps 2 --eval-at-start --save-steps 0 \
  --output-dir "$work/lora" > "$work/lora.log" 2>&1 || fail "LoRA run on base weights: $(tail -1 "$work/lora.log")"
/usr/bin/python3 - "$work/full/metrics.jsonl" "$work/lora/metrics.jsonl" "$work/lora/checkpoint-2/model.safetensors" <<'PY' \
  && ok "LoRA on base weights: step-0 evaluation equals the base's final one; checkpoint holds only adapters" \
  || fail "LoRA on base weights: see $work/lora.log"
import json, struct, sys
base = [r for r in map(json.loads, open(sys.argv[1])) if "eval_loss" in r][-1]
lora = [r for r in map(json.loads, open(sys.argv[2])) if "eval_loss" in r][0]
data = open(sys.argv[3], "rb").read()
names = [k for k in json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]]) if k != "__metadata__"]
same = (lora["step"], lora["eval_loss"], lora["eval_accuracy"]) == (0, base["eval_loss"], base["eval_accuracy"])
adapters = names and all(".lora_A." in n or ".lora_B." in n for n in names)
print("base", base, "lora", lora, len(names), "tensors")
sys.exit(0 if same and adapters else 1)
PY

# LoRA dropout 0.1 (lora.yaml otherwise): train_step alone takes a dropout_key, which pgc run derives from --seed and
# the micro-batch count, so a run stopped and resumed still ends bit for bit where an uninterrupted one does; forward
# evaluates without dropout (step 0 equals the base again); and the masks change training (step 2's loss differs
# from the run without dropout: B is 0 at step 1, so only from step 2 on can the dropped inputs show).
sed 's/dropout: 0.0/dropout: 0.1/' "$src/policies/lora.yaml" > "$work/lora-dropout.yaml"
"$pgc" compile --model paligemma --config "$work/micro.json" --policy "$work/lora-dropout.yaml" \
  --batch 4 --seq-len 32 --target cpu -o "$work/dropout.pgc" > "$work/dropout-compile.log" 2>&1 \
  || fail "compile with lora dropout: $(tail -1 "$work/dropout-compile.log")"
"$pgc" inspect "$work/dropout.pgc" > "$work/dropout-inspect.log" 2>&1 || fail "inspect dropout.pgc"
/usr/bin/python3 - "$work/dropout-inspect.log" <<'PY' && ok "lora dropout: dropout_key is an input of train_step only" \
  || fail "lora dropout: dropout_key inputs wrong (see $work/dropout-inspect.log)"
import re, sys
entries = re.split(r"\nentry ", open(sys.argv[1]).read())[1:]
keyed = {e.split()[0] for e in entries if re.search(r"input .* dropout_key ", e)}
print("entry points with dropout_key:", keyed)
sys.exit(0 if keyed == {"train_step"} else 1)
PY
dropout=(--data "$work/data" --weights "$work/full/checkpoint-8/model.safetensors" --seed 5 --lr 3e-3
         --logging-steps 1 --max-new-tokens 3 --max-steps 4 --grad-accum 2 --save-steps 0)
"$pgc" run "$work/dropout.pgc" "${dropout[@]}" --eval-at-start --output-dir "$work/dfull" > "$work/dfull.log" 2>&1 \
  || fail "lora dropout run: $(tail -1 "$work/dfull.log")"
"$pgc" run "$work/dropout.pgc" "${dropout[@]}" --eval-at-start --output-dir "$work/dsplit" --stop-at-step 2 \
  > "$work/dsplit1.log" 2>&1 || fail "lora dropout, stop at 2: $(tail -1 "$work/dsplit1.log")"
"$pgc" run "$work/dropout.pgc" "${dropout[@]}" --resume "$work/dsplit" > "$work/dsplit2.log" 2>&1 \
  || fail "lora dropout resume: $(tail -1 "$work/dsplit2.log")"
compare_runs "lora dropout, stop at 2 + resume" "$work/dfull" "$work/dsplit" 4 5
/usr/bin/python3 - "$work/full/metrics.jsonl" "$work/lora/metrics.jsonl" "$work/dfull/metrics.jsonl" <<'PY' \
  && ok "lora dropout: step-0 evaluation equals the base's; step 2 trains on dropped inputs" \
  || fail "lora dropout: evaluation or training not as expected (see $work/dfull.log)"
import json, sys
rows = [list(map(json.loads, open(path))) for path in sys.argv[1:]]
base = [r for r in rows[0] if "eval_loss" in r][-1]
start = [r for r in rows[2] if "eval_loss" in r][0]
plain = {r["step"]: r["loss"] for r in rows[1] if "loss" in r}
dropped = {r["step"]: r["loss"] for r in rows[2] if "loss" in r}
print("base eval", base["eval_loss"], "dropout-run eval at 0", start["eval_loss"])
print("step 2 loss without dropout", plain[2], "with", dropped[2])
sys.exit(0 if start["eval_loss"] == base["eval_loss"] and plain[2] != dropped[2] else 1)
PY

# --save-total-limit keeps the newest checkpoints only.
# (--report-to none: no TensorBoard folder.)
"$pgc" run "$work/step.pgc" "${short[@]}" --save-steps 1 --save-total-limit 2 --output-dir "$work/rot" \
  --report-to none > "$work/rot.log" 2>&1 || fail "rotation run: $(tail -1 "$work/rot.log")"
[[ $(ls "$work/rot" | grep checkpoint- | tr '\n' ' ') == "checkpoint-7 checkpoint-8 " ]] \
  && ok "save-total-limit 2 keeps checkpoint-7 and -8" || fail "rotation left: $(ls "$work/rot")"
[[ ! -e "$work/rot/runs" ]] && ok "--report-to none: no runs folder" || fail "--report-to none wrote $work/rot/runs"

# Ctrl-C: a 60-step run interrupted after a few steps, then resumed, against an uninterrupted 60-step run.
medium=("${common[@]}" --max-steps 60 --save-steps 0)
"$pgc" run "$work/step.pgc" "${medium[@]}" --output-dir "$work/full60" > "$work/full60.log" 2>&1 \
  || fail "60-step run: $(tail -1 "$work/full60.log")"
"$pgc" run "$work/step.pgc" "${medium[@]}" --output-dir "$work/int" > "$work/int.log" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q "^step 3/" "$work/int.log" 2>/dev/null && break; sleep 0.02; done
kill -INT $pid; wait $pid; code=$?
step=$(sed -n 's/^interrupted at step \([0-9]*\).*/\1/p' "$work/int.log")
if [[ $code == 130 && -n $step && $step -lt 60 && -f "$work/int/checkpoint-$step/trainer_state.json" ]]; then
  ok "Ctrl-C after step $step: checkpoint-$step saved, exit 130"
  "$pgc" run "$work/step.pgc" "${medium[@]}" --resume "$work/int" > "$work/int2.log" 2>&1 \
    || fail "resume after Ctrl-C: $(tail -1 "$work/int2.log")"
  compare_runs "Ctrl-C at step $step + resume" "$work/full60" "$work/int" 60
else
  fail "Ctrl-C: exit $code, step '$step': $(tail -1 "$work/int.log")"
fi

# pgc generate from a checkpoint folder (it carries the tokenizer).
# Its answer must be the one the batched evaluation of the same run generated for that example (rows of a batch are
# independent, padding included).
question=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["question"])' \
  "$work/data/validation/metadata.jsonl")
expected=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["prediction"])' \
  "$work/full60/predictions-60.jsonl")
answer=$("$pgc" generate "$work/step.pgc" --weights "$work/full60/checkpoint-60" --image "$work/data/validation/000000.png" \
  --prompt "answer $question" --max-new-tokens 3 2>&1)
if [[ $? == 0 && -n "$expected" && "$answer" == "$expected" ]]; then ok "generate: '$answer', as in predictions-60.jsonl"
else fail "generate: '$answer', evaluation predicted '$expected'"; fi

# pgc eval on the checkpoint, from the data folder (its validation split): the same loss, accuracies and predictions
# as the run's own evaluation at step 60, so a checkpoint folder alone reproduces the trained model exactly.
"$pgc" eval "$work/step.pgc" --weights "$work/full60/checkpoint-60" --data "$work/data" --max-new-tokens 3 \
  --metrics "$work/eval60.json" --predictions "$work/eval60.jsonl" > "$work/eval60.log" 2>&1 \
  || fail "pgc eval: $(tail -1 "$work/eval60.log")"
/usr/bin/python3 - "$work/full60/metrics.jsonl" "$work/eval60.json" <<'PY' \
  && cmp -s "$work/eval60.jsonl" "$work/full60/predictions-60.jsonl" \
  && ok "pgc eval: $(head -1 "$work/eval60.log" | sed 's/^eval [^:]*: //'), as the run's step-60 evaluation" \
  || fail "pgc eval differs from the run's step-60 evaluation (see $work/eval60.log)"
import json, sys
final = [r for r in map(json.loads, open(sys.argv[1])) if "eval_loss" in r and r["step"] == 60][-1]
mine = json.load(open(sys.argv[2]))
keys = [k for k in final if k.startswith("eval_")]
print({k: (final[k], mine.get(k)) for k in keys})
sys.exit(0 if all(mine.get(k) == final[k] for k in keys) else 1)
PY

# SIGKILL at arbitrary moments of a run that saves after every step: every checkpoint left must be readable.
check_readable() {
  /usr/bin/python3 - "$1" <<'PY'
import json, os, struct, sys
root = sys.argv[1]
for name in sorted(os.listdir(root)):
    path = os.path.join(root, name)
    if not name.startswith("checkpoint-"):
        continue
    state = json.load(open(os.path.join(path, "trainer_state.json")))
    for f in ("model.safetensors", "optimizer.safetensors"):
        data = open(os.path.join(path, f), "rb").read()
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
        assert 8 + n + end == len(data), (path, f)
    assert state["global_step"] == int(name.split("-")[1]), path
PY
}
killed_ok=1 mid_save=0 kills=0
# Kill at random moments until 3 kills have landed inside a save (a temporary folder is left), at most 40 kills.
while (( mid_save < 3 && kills < 40 )); do
  resume=()
  ls "$work/kill" 2>/dev/null | grep -q checkpoint- && resume=(--resume "$work/kill")
  "$pgc" run "$work/step.pgc" "${common[@]}" --max-steps 400 --save-steps 1 --save-total-limit 3 \
    --output-dir "$work/kill" "${resume[@]}" > "$work/kill.log" 2>&1 &
  pid=$!
  sleep "0.$((30 + RANDOM % 70))"
  kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
  kills=$((kills + 1))
  ls -a "$work/kill" 2>/dev/null | grep -q '^\.checkpoint-tmp-' && mid_save=$((mid_save + 1))
  check_readable "$work/kill" || { killed_ok=0; fail "SIGKILL number $kills left an unreadable checkpoint"; break; }
done
(( mid_save == 0 )) && { killed_ok=0; fail "SIGKILL: none of $kills kills landed inside a save"; }
[[ $killed_ok == 1 ]] && ok "SIGKILL: $mid_save of $kills kills landed inside a save; every checkpoint left is readable, newest $(ls "$work/kill" | grep checkpoint- | sort -t- -k2 -n | tail -1)"

# Bad runs: one line, exit code 1.
expect_failure() {
  local name=$1 pattern=$2
  shift 2
  local err code lines
  err=$("$@" 2>&1 >/dev/null); code=$?
  lines=$(printf '%s\n' "$err" | grep -c .)
  if [[ $code != 1 ]]; then fail "$name: exit code $code: $err"
  elif [[ $lines != 1 ]]; then fail "$name: $lines lines: $err"
  elif ! grep -qF -- "$pattern" <<<"$err"; then fail "$name: error does not mention '$pattern': $err"
  else ok "$name: $err"; fi
}
# nothing_written NAME DIR: a refused run leaves no output folder behind.
nothing_written() { [[ -e $2 ]] && fail "$1: $2 was created" || ok "$1: nothing written"; }
base=(--init random --seed 3 --max-steps 2 --logging-steps 1)
expect_failure missing-data "--data $work/nope: no such folder" \
  "$pgc" run "$work/step.pgc" --data "$work/nope" "${base[@]}" --output-dir "$work/e1"
mkdir -p "$work/empty" && : > "$work/empty/metadata.jsonl" && cp "$work/data/tokenizer."* "$work/empty/"
expect_failure no-rows "metadata.jsonl" "$pgc" run "$work/step.pgc" --data "$work/empty" "${base[@]}" --output-dir "$work/e2"
expect_failure eval-no-data "--data $work/nope: no such folder" \
  "$pgc" eval "$work/step.pgc" --weights "$work/full60/checkpoint-60" --data "$work/nope"
expect_failure eval-no-weights "give --weights DIR_OR_FILE" "$pgc" eval "$work/step.pgc" --data "$work/data"
expect_failure report-to "--report-to 'wandb': use tensorboard or none" \
  "$pgc" run "$work/step.pgc" --data "$work/data" "${base[@]}" --report-to wandb --output-dir "$work/e-report"
: > "$work/afile"
expect_failure unwritable-output "$work/afile/out" \
  "$pgc" run "$work/step.pgc" --data "$work/data" "${base[@]}" --output-dir "$work/afile/out"
# Weights: a tensor with another shape, a tensor missing, a NaN (the loss of step 1 is NaN).
/usr/bin/python3 - "$work/full/checkpoint-8/model.safetensors" "$work" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n]); body = data[8 + n:]
def write(path, header, body):
    text = json.dumps(header).encode(); text += b" " * ((8 - len(text) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + body)
name = "multi_modal_projector.linear.weight"
h = dict(header); e = dict(h[name]); e["shape"] = e["shape"][::-1] if e["shape"][0] != e["shape"][1] else [1, e["shape"][0] * e["shape"][1]]
h[name] = e; write(sys.argv[2] + "/shape.safetensors", h, body)
# Without the tensor's bytes too: safetensors allows no gap where it was.
def without(header, body, name):
    entries = sorted((item for item in header.items() if item[0] not in ("__metadata__", name)),
                     key=lambda item: item[1]["data_offsets"])
    h, parts, offset = {}, [], 0
    for key, entry in entries:
        s, t = entry["data_offsets"]
        h[key] = dict(entry, data_offsets=[offset, offset + t - s])
        parts.append(body[s:t])
        offset += t - s
    return h, b"".join(parts)
write(sys.argv[2] + "/missing.safetensors", *without(header, body, name))
b = bytearray(body); s, t = header["language_model.model.norm.weight"]["data_offsets"]
b[s:t] = struct.pack("<f", float("nan")) * ((t - s) // 4); write(sys.argv[2] + "/nan.safetensors", header, bytes(b))
PY
wbase=(--max-steps 2 --logging-steps 1)
expect_failure weights-shape "multi_modal_projector.linear.weight" \
  "$pgc" run "$work/step.pgc" --data "$work/data" --weights "$work/shape.safetensors" "${wbase[@]}" --output-dir "$work/e3"
expect_failure weights-missing "multi_modal_projector.linear.weight" \
  "$pgc" run "$work/step.pgc" --data "$work/data" --weights "$work/missing.safetensors" "${wbase[@]}" --output-dir "$work/e4"
expect_failure nan-loss "step 1: the loss is nan" \
  "$pgc" run "$work/step.pgc" --data "$work/data" --weights "$work/nan.safetensors" "${wbase[@]}" --output-dir "$work/e5"
nothing_written "weights-shape" "$work/e3"
nothing_written "weights-missing" "$work/e4"
# The NaN is found while training: the folder exists, but no checkpoint of the broken state is saved.
ls "$work/e5" | grep -q checkpoint- && fail "nan-loss: a checkpoint was saved" || ok "nan-loss: no checkpoint saved"
expect_failure no-weights "give --weights" \
  "$pgc" run "$work/step.pgc" --data "$work/data" "${wbase[@]}" --output-dir "$work/e6"

[[ $failures == 0 ]] && echo "all run checks passed" || echo "$failures run checks failed"
exit $((failures > 0))
