#!/usr/bin/env bash
# The GPU check's carry stays buildable: a runtime-only build (-DPGC_BUILD_COMPILER=OFF) of what scripts/gpu-check
# packs, the pack itself (under the 64 MiB a device call carries), and the check run here, where every GPU test must
# skip cleanly and the summary say ok. A GPU session then spends its minutes on the GPU, not on a broken build.
# The full build's pgc (with pgc-compile beside it) compiles the artifacts the carry takes along.
# Usage: gpu-carry.sh SOURCE_DIR WORK_DIR C_COMPILER CXX_COMPILER LINKER_FLAGS COMPILER_PGC
set -u
src=$1 work=$2 cc=$3 cxx=$4 ldflags=$5 compiler=$6
rm -rf "$work" && mkdir -p "$work"
args=(-S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGC_BUILD_COMPILER=OFF
      -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx"
      -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags")
command -v ninja >/dev/null && args+=(-G Ninja)
cmake "${args[@]}" > "$work/configure.log" 2>&1 || { tail -20 "$work/configure.log"; echo "FAIL configure"; exit 1; }
cmake --build "$work/build" -j"$(nproc)" --target pgc pgc_cuda_tests pgc_cuda_gpu_tests pgc_codegen_gpu_tests \
  pgc_cuda_exec_gpu_tests pgc_cuda_bench \
  > "$work/build.log" 2>&1 || { grep -m5 -B2 -A5 'error' "$work/build.log"; echo "FAIL runtime-only build"; exit 1; }
echo "ok   runtime-only build of pgc and the CUDA tests"
PGC_COMPILER=$compiler "$src/scripts/gpu-check" --pack "$work/build" "$work/carry" > "$work/pack.log" 2>&1 \
  || { cat "$work/pack.log"; echo "FAIL gpu-check --pack"; exit 1; }
echo "ok   $(tail -1 "$work/pack.log") ($(du -sm "$work/carry" | cut -f1) MiB)"
artifacts=$(ls "$work/carry/artifacts"/*.pgc 2>/dev/null | wc -l)
(( artifacts >= 3 )) || { cat "$work/pack.log"; echo "FAIL the carry has $artifacts artifacts, want 3"; exit 1; }
echo "ok   $artifacts artifacts compiled into the carry"
"$src/scripts/gpu-check" "$work/out" "$work/carry" > "$work/check.log" 2>&1 \
  || { tail -20 "$work/check.log"; echo "FAIL gpu-check"; exit 1; }
/usr/bin/python3 - "$work/out/summary.json" <<'PY' || { echo "FAIL gpu-check summary (see $work/check.log)"; exit 1; }
import json, sys
summary = json.load(open(sys.argv[1]))
tests = summary["tests"]
print(f"ok   gpu-check without a GPU: {tests['passed']} passed, {tests['skipped']} skipped, {tests['failed']} failed")
sys.exit(0 if summary["ok"] and tests["failed"] == 0 and tests["passed"] > 0 else 1)
PY
