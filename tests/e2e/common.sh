# Sourced by the e2e scripts: the ok/fail tally they report with, and the micro PaliGemma set-up several share.
# The sourcing script sets pgc (the executable) and, for micro_set, src (the source folder) first.
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }

# micro_set DATA_DIR CONFIG_JSON TRAIN VAL: a synth-vqa set of 16 px images and the micro config of
# micro-config.py (8 px patches: 4 image tokens) whose vocabulary and <image> id are the set's tokenizer's.
micro_set() {
  "$pgc" data synth-vqa --out "$1" --train "$3" --val "$4" --image-size 16 >/dev/null || { echo "synth-vqa failed"; exit 1; }
  /usr/bin/python3 "$src/tests/e2e/micro-config.py" "$1/pgc_data.json" "$2"
}

# micro_step OUT_PGC: the micro config ($work/micro.json) with policies/full.yaml as a training step of batch 4 and
# 32 tokens, its output in OUT_PGC's name with .log; a failed compile prints that log and ends the script.
micro_step() {
  "$pgc" compile --model paligemma --config "$work/micro.json" --policy "$src/policies/full.yaml" --train \
    --batch 4 --seq-len 32 --target cpu -o "$1" > "${1%.pgc}.log" 2>&1 \
    || { cat "${1%.pgc}.log"; echo "compile failed"; exit 1; }
}

# finish: the tally's last line and the script's exit status.
finish() {
  echo "$failures failure(s)"
  [[ $failures == 0 ]]
}
