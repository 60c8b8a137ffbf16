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

# finish: the tally's last line and the script's exit status.
finish() {
  echo "$failures failure(s)"
  [[ $failures == 0 ]]
}
