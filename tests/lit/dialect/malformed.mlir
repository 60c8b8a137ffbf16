// Malformed input gives an MLIR diagnostic with a file location and exit code 1, never a crash.
// (Locations are relative to each split of the file.)
// RUN: not pgc-opt %s --split-input-file 2>&1 | FileCheck %s

// An unknown op name.
// CHECK: malformed.mlir{{.*}}:7:6: error: custom op 'pg.frobnicate' is unknown
%0 = pg.frobnicate : tensor<2xf32>

// -----

// A truncated op.
// CHECK: malformed.mlir{{.*}}:5:18: error: expected ':'
%0 = pg.param "w"

// -----

// A bad nf4 type spelling.
// CHECK: malformed.mlir{{.*}}:5:35: error: expected 'block'
%0 = pg.param "w" : !pg.nf4<4x64, blocks = 64>

// -----

// A bad compare predicate.
func.func @f(%a: tensor<2xf32>) {
  // CHECK: malformed.mlir{{.*}}:6:19: error: {{.*}}for attribute 'predicate'
  %0 = pg.compare lessthan, %a, %a : tensor<2xf32>
  return
}
