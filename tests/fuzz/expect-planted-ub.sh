#!/usr/bin/env bash
# The fuzz ctest's guard: the planted-UB target, run as every fuzz ctest runs (its committed input, the same
# options), must stop with UBSan's report and a non-zero exit. If UBSan went back to printing and recovering, the
# run would end 0 and this test fails.
# Usage: expect-planted-ub.sh FUZZER CORPUS_DIR FINDINGS_DIR
set -u
fuzzer=$1 corpus=$2 findings=$3
rm -rf "$findings" && mkdir -p "$findings"
output=$("$fuzzer" -runs=100 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/" "$corpus" 2>&1)
code=$?
if [[ $code != 0 ]] && grep -q "runtime error: signed integer overflow" <<<"$output" \
   && ls "$findings" | grep -q '^crash-'; then
  echo "ok   the planted undefined behaviour failed the fuzz run (exit $code) and was kept in $findings"
  exit 0
fi
echo "FAIL the planted undefined behaviour did not fail the fuzz run (exit $code):"
printf '%s\n' "$output" | tail -20
exit 1
