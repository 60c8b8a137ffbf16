#!/usr/bin/env bash
# A full disk during a save: pgc run resumed from checkpoint-4 with a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored,
# so writes past it fail with EFBIG as on a full disk) trains on, fails to write checkpoint-8, and ends with one error
# line naming the file and exit code 1; checkpoint-4 stays as it was and loadable, no checkpoint-8 and no temporary
# folder are left; resumed again without the limit it ends bit for bit where an uninterrupted run does.
# Usage: full-disk.sh PGC_SOURCE_DIR PGC_BINARY_DIR WORK_DIR
set -u
src=$1 bin=$2 work=$3
pgc=$bin/pgc
rm -rf "$work" && mkdir -p "$work"
source "$(dirname "$0")/common.sh"

micro_set "$work/data" "$work/micro.json" 40 8
micro_step "$work/step.pgc"
args=(--data "$work/data" --init random --seed 3 --init-std 0.1 --lr 3e-3 --warmup-steps 2 --logging-steps 1
      --max-new-tokens 3 --max-steps 8 --save-steps 4)

"$pgc" run "$work/step.pgc" "${args[@]}" --output-dir "$work/ref" > "$work/ref.log" 2>&1 \
  || { cat "$work/ref.log"; echo "uninterrupted run failed"; exit 1; }
"$pgc" run "$work/step.pgc" "${args[@]}" --stop-at-step 4 --output-dir "$work/disk" > "$work/first.log" 2>&1 \
  || { cat "$work/first.log"; echo "first half failed"; exit 1; }
cp -r "$work/disk/checkpoint-4" "$work/checkpoint-4.before"

# The limit (in 1024-byte blocks) lets the logs, metrics.jsonl and the event file grow but not model.safetensors.
size=$(stat -c %s "$work/disk/checkpoint-4/model.safetensors")
limit=$(( size / 1024 / 2 ))
(( limit >= 8 )) || { echo "model.safetensors is too small ($size bytes) for this test"; exit 1; }
( trap '' XFSZ; ulimit -f "$limit"; exec "$pgc" run "$work/step.pgc" "${args[@]}" --resume "$work/disk" ) \
  > "$work/full.log" 2> "$work/full.err"
code=$?
err=$(cat "$work/full.err")
if [[ $code == 1 && $(grep -c . <<<"$err") == 1 && $err == *"checkpoint-8 not saved"* \
      && $err == *"model.safetensors"* && $err == *"File too large"* ]]; then
  ok "full disk: exit 1, one line: $err"
else
  fail "full disk: exit $code: $err"
fi
[[ -e $work/disk/checkpoint-8 ]] && fail "a checkpoint-8 folder was left"
ls -a "$work/disk" | grep -q '^\.checkpoint-tmp' && fail "a temporary folder was left: $(ls -a "$work/disk")"
diff -r "$work/checkpoint-4.before" "$work/disk/checkpoint-4" > /dev/null \
  && ok "checkpoint-4 unchanged; nothing else left: $(ls "$work/disk" | tr '\n' ' ')" || fail "checkpoint-4 changed"
"$pgc" eval "$work/step.pgc" --weights "$work/disk/checkpoint-4" --data "$work/data" --max-eval-samples 4 \
  --max-new-tokens 2 > "$work/eval.log" 2>&1 && ok "checkpoint-4 loads: $(grep '^eval' "$work/eval.log")" \
  || fail "checkpoint-4 does not load: $(tail -1 "$work/eval.log")"

# Space again: the resumed run ends where the uninterrupted one does, bit for bit.
"$pgc" run "$work/step.pgc" "${args[@]}" --resume "$work/disk" > "$work/again.log" 2>&1 \
  || fail "resume after the full disk: $(tail -1 "$work/again.log")"
same=1
for f in model.safetensors optimizer.safetensors; do
  cmp -s "$work/ref/checkpoint-8/$f" "$work/disk/checkpoint-8/$f" || { fail "resumed: $f differs"; same=0; }
done
/usr/bin/python3 - "$work/ref/metrics.jsonl" "$work/disk/metrics.jsonl" <<'PY' || { fail "resumed: metrics.jsonl differs"; same=0; }
import json, sys
keys = ("step", "epoch", "loss", "lr", "grad_norm", "eval_loss", "eval_accuracy")
curve = lambda path: [tuple(r.get(k) for k in keys) for r in map(json.loads, open(path))]
a, b = curve(sys.argv[1]), curve(sys.argv[2])
sys.exit(0 if a == b and len(a) >= 8 else 1)
PY
(( same )) && ok "resumed after the full disk: same weights, optimizer state and loss curve as the uninterrupted run"

finish
