#!/usr/bin/env bash
# pgc plot end to end: a PNG (signature and IHDR read here, 1200 x 800) from a metrics.jsonl with training and
# evaluation rows, written under its name only when complete; errors are one line, exit 1, and leave no file.
# Usage: plot.sh PGC_BINARY_DIR WORK_DIR
set -u
bin=$1 work=$2
pgc=$bin/pgc
rm -rf "$work" && mkdir -p "$work/run"
source "$(dirname "$0")/common.sh"

/usr/bin/python3 - "$work/run/metrics.jsonl" <<'PY'
import json, math, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"eval_loss": 5.0, "eval_accuracy": 0.0, "eval_vqa_accuracy": 0.0, "step": 0}) + "\n")
    for step in range(1, 101):
        f.write(json.dumps({"loss": 5 * math.exp(-step / 30) + 0.2, "lr": 1e-3 * min(1, step / 10), "step": step}) + "\n")
        if step % 25 == 0:
            f.write(json.dumps({"eval_loss": 5 * math.exp(-step / 40), "eval_accuracy": step / 110,
                                "eval_vqa_accuracy": step / 120, "step": step}) + "\n")
PY
if out=$("$pgc" plot "$work/run" 2>&1) && [[ $out == "wrote $work/run/curves.png: 100 logged steps, 5 evaluations" ]]; then
  ok "pgc plot: $out"
else
  fail "pgc plot: $out"
fi
"$pgc" plot "$work/run" -o "$work/other.png" > /dev/null 2>&1 || fail "pgc plot -o"
for png in "$work/run/curves.png" "$work/other.png"; do
  /usr/bin/python3 - "$png" <<'PY' && ok "PNG signature and IHDR 1200 x 800: ${png#$work/}" || fail "PNG ${png#$work/}"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
length, kind, width, height = struct.unpack(">I4sII", data[8:24])
assert (kind, width, height) == (b"IHDR", 1200, 800), (kind, width, height)
assert data[-8:-4] == b"IEND"
PY
done
ls -a "$work/run" | grep -q '^\.curves' && fail "a temporary file was left: $(ls -a "$work/run")"

# expect_error NAME PATTERN OUTPUT COMMAND...: one line naming the problem, exit 1, OUTPUT not written.
expect_error() {
  local name=$1 pattern=$2 output=$3
  shift 3
  local err code
  err=$("$@" 2>&1 >/dev/null); code=$?
  if [[ $code == 1 && $(grep -c . <<<"$err") == 1 && $err == *"$pattern"* && ! -e $output ]]; then
    ok "$name: $err"
  else
    fail "$name (exit $code): $err"
  fi
}
expect_error "no such folder" "no such folder" "$work/x.png" "$pgc" plot "$work/none" -o "$work/x.png"
mkdir -p "$work/empty"
expect_error "no metrics.jsonl" "no metrics.jsonl" "$work/empty/curves.png" "$pgc" plot "$work/empty"
mkdir -p "$work/bad" && printf '{"loss": 1, "step": 1}\n{"loss": \n' > "$work/bad/metrics.jsonl"
expect_error "bad line" "metrics.jsonl:2: not a JSON object" "$work/bad/curves.png" "$pgc" plot "$work/bad"
expect_error "missing -o folder" "does not exist" "$work/no/such/x.png" "$pgc" plot "$work/run" -o "$work/no/such/x.png"
expect_error "no gnuplot" "needs gnuplot" "$work/g.png" env PGC_GNUPLOT=/nonexistent/gnuplot "$pgc" plot "$work/run" -o "$work/g.png"
printf '#!/bin/sh\necho "line 0: some gnuplot error" >&2\nexit 1\n' > "$work/broken-gnuplot" && chmod +x "$work/broken-gnuplot"
expect_error "gnuplot fails" "some gnuplot error" "$work/h.png" env PGC_GNUPLOT="$work/broken-gnuplot" "$pgc" plot "$work/run" -o "$work/h.png"
ls -a "$work" | grep -q '^\.[gh]\.png' && fail "a failed plot left a temporary file: $(ls -a "$work")"

finish
