#!/usr/bin/env bash
# Bad input to pgc ends with one line naming the file, exit code 1, and no output file.
# Usage: cli-errors.sh PGC_BINARY_DIR WORK_DIR
set -u
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
failures=0

# expect_failure NAME OUTPUT_FILE_THAT_MUST_NOT_EXIST PATTERN COMMAND...
expect_failure() {
  local name=$1 output=$2 pattern=$3
  shift 3
  local err
  err=$("$@" 2>&1 >/dev/null)
  local code=$?
  local lines
  lines=$(printf '%s\n' "$err" | grep -c .)
  if [[ $code != 1 ]]; then
    echo "FAIL $name: exit code $code (expected 1): $err"; failures=$((failures + 1))
  elif [[ $lines != 1 ]]; then
    echo "FAIL $name: $lines lines of error output: $err"; failures=$((failures + 1))
  elif ! grep -qF -- "$pattern" <<<"$err"; then
    echo "FAIL $name: error does not mention '$pattern': $err"; failures=$((failures + 1))
  elif [[ -n $output && -e $output ]]; then
    echo "FAIL $name: $output was written"; failures=$((failures + 1))
  else
    echo "ok   $name: $err"
  fi
}

"$bin/pgc" compile --model mlp -o "$work/mlp.pgc" >/dev/null || { echo "cannot compile"; exit 1; }
head -c 100 "$work/mlp.pgc" > "$work/truncated.pgc"
head -c 2000 /dev/urandom > "$work/random.pgc"
printf 'not json' > "$work/bad.safetensors"

expect_failure truncated-artifact "$work/out1.safetensors" "truncated.pgc" \
  "$bin/pgc" exec "$work/truncated.pgc" --seed 0 --out "$work/out1.safetensors"
expect_failure random-artifact "$work/out2.safetensors" "random.pgc: not a pgc artifact" \
  "$bin/pgc" exec "$work/random.pgc" --seed 0 --out "$work/out2.safetensors"
expect_failure inspect-random "" "random.pgc" "$bin/pgc" inspect "$work/random.pgc"
# There is one target; the GPU runs its artifact (pgc run --device cuda), so the error says so.
expect_failure compile-target-cuda "$work/cuda.pgc" "pgc run --device cuda" \
  "$bin/pgc" compile --model mlp --target cuda -o "$work/cuda.pgc"
expect_failure missing-artifact "" "missing.pgc" "$bin/pgc" inspect "$work/missing.pgc"
expect_failure bad-inputs "$work/out3.safetensors" "bad.safetensors" \
  "$bin/pgc" exec "$work/mlp.pgc" --seed 0 --inputs "$work/bad.safetensors" --out "$work/out3.safetensors"
expect_failure no-weights "$work/out4.safetensors" "give --weights FILE or --seed N" \
  "$bin/pgc" exec "$work/mlp.pgc" --out "$work/out4.safetensors"
expect_failure missing-input "$work/out5.safetensors" "missing input 'x'" \
  "$bin/pgc" exec "$work/mlp.pgc" --seed 0 --out "$work/out5.safetensors"
expect_failure unknown-model "$work/x.pgc" "unknown model 'nope'" \
  "$bin/pgc" compile --model nope -o "$work/x.pgc"
expect_failure bad-weights "$work/out6.safetensors" "bad.safetensors" \
  "$bin/pgc" exec "$work/mlp.pgc" --weights "$work/bad.safetensors" --out "$work/out6.safetensors"

# A policy rule that matches nothing is a warning; --strict makes it an error (the warning, then one error line).
printf 'freeze: ["decoder.**"]\n' > "$work/typo.yaml"
if ! "$bin/pgc" compile --model mlp --policy "$work/typo.yaml" -o "$work/typo.pgc" > /dev/null 2> "$work/typo.err"; then
  echo "FAIL policy-typo: refused without --strict: $(cat "$work/typo.err")"; failures=$((failures + 1))
elif ! grep -q "rule 'decoder.\*\*' matches no parameter" "$work/typo.err"; then
  echo "FAIL policy-typo: no warning: $(cat "$work/typo.err")"; failures=$((failures + 1))
else
  echo "ok   policy-typo: $(grep -o "warning: .*" "$work/typo.err")"
fi
"$bin/pgc" compile --model mlp --policy "$work/typo.yaml" --strict -o "$work/strict.pgc" > /dev/null 2> "$work/strict.err"
code=$?
if [[ $code != 1 || -e $work/strict.pgc ]] || ! tail -1 "$work/strict.err" | grep -q "which --strict makes errors"; then
  echo "FAIL policy-strict: exit $code: $(cat "$work/strict.err")"; failures=$((failures + 1))
else
  echo "ok   policy-strict: $(tail -1 "$work/strict.err")"
fi

[[ $failures == 0 ]] && echo "cli errors: all ok"
exit $(( failures > 0 ))
