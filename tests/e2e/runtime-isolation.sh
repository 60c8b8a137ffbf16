#!/usr/bin/env bash
# Checks the compiler/runtime split: no runtime source includes MLIR or LLVM, and pgc links neither.
# Usage: runtime-isolation.sh SOURCE_DIR PGC_BINARY
set -u
source_dir=$1 pgc=$2
status=0
includes=$(grep -rnE '^\s*#\s*include\s*[<"](mlir|llvm|llvm-c)/' "$source_dir/runtime" || true)
if [[ -n $includes ]]; then
  echo "runtime sources include MLIR/LLVM headers:"; echo "$includes"; status=1
fi
linked=$(readelf -d "$pgc" | grep -E 'NEEDED.*lib(MLIR|LLVM)' || true)
if [[ -n $linked ]]; then
  echo "$pgc links MLIR/LLVM:"; echo "$linked"; status=1
fi
resolved=$(ldd "$pgc" | grep -E 'lib(MLIR|LLVM)' || true)
if [[ -n $resolved ]]; then
  echo "$pgc loads MLIR/LLVM through a dependency:"; echo "$resolved"; status=1
fi
[[ $status == 0 ]] && echo "runtime isolation: ok ($(ldd "$pgc" | wc -l) shared libraries, none from MLIR or LLVM)"
exit $status
