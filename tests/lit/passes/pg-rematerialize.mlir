// pg-rematerialize gives a use far from the previous one its own dequantization or widening cast and leaves near uses sharing one.
// RUN: pgc-opt %s -pg-rematerialize="max-distance=2" | FileCheck %s
// RUN: pgc-opt %s -pg-rematerialize | FileCheck %s --check-prefix=DEFAULT
// RUN: pgc-opt %s -pg-rematerialize="max-distance=2" -cse | FileCheck %s --check-prefix=CSE
// RUN: not pgc-opt %s -pg-rematerialize="max-distance=-1" 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: func.func @train_step
// CHECK: %[[Q:.*]] = pg.param "fc1.weight" : !pg.nf4<16x8, block = 64>
// CHECK-NEXT: %[[W:.*]] = pg.dequant_nf4 %[[Q]]
// CHECK-NEXT: %[[Y:.*]] = pg.matmul %arg0, %[[W]] transpose_rhs
// CHECK-NEXT: %[[Y2:.*]] = pg.matmul %arg0, %[[W]] transpose_rhs
// CHECK-NEXT: pg.exp
// CHECK-NEXT: pg.exp
// CHECK-NEXT: %[[C:.*]] = pg.exp
// CHECK-NEXT: %[[W2:.*]] = pg.dequant_nf4 %[[Q]]
// CHECK-NEXT: pg.matmul %[[C]], %[[W2]] :
// CHECK-NOT: pg.dequant_nf4

// A dequantization whose first use is far is moved there, not kept.
// CHECK-LABEL: func.func @far_first_use
// CHECK: %[[Q:.*]] = pg.param "fc1.weight"
// CHECK-NEXT: pg.exp
// CHECK-NEXT: pg.exp
// CHECK-NEXT: %[[C:.*]] = pg.exp
// CHECK-NEXT: %[[W:.*]] = pg.dequant_nf4 %[[Q]]
// CHECK-NEXT: pg.matmul %[[C]], %[[W]] :
// CHECK-NOT: pg.dequant_nf4

// A widening cast far from its use is redone there (the bf16 operand stays
// alive instead of the f32 result); a narrowing one is left where it is.
// CHECK-LABEL: func.func @casts
// CHECK-NEXT: %[[N:.*]] = pg.cast %arg0 : tensor<3x8xf32> to bf16
// CHECK-NEXT: pg.exp
// CHECK-NEXT: pg.exp
// CHECK-NEXT: %[[C:.*]] = pg.exp
// CHECK-NEXT: %[[W:.*]] = pg.cast %arg1 : tensor<3x8xbf16> to f32
// CHECK-NEXT: pg.mul %[[W]], %[[C]]
// CHECK-NEXT: pg.exp %[[N]]

// With the default distance (64 ops) nothing here is far.
// DEFAULT-COUNT-2: pg.dequant_nf4
// DEFAULT-NOT: pg.dequant_nf4

// CSE would merge the copies again: the pass must run after it.
// CSE-COUNT-2: pg.dequant_nf4
// CSE-NOT: pg.dequant_nf4

// BAD: error: pg-rematerialize: max-distance must be >= 0, got -1

func.func @train_step(%x: tensor<3x8xbf16> {pg.name = "x"}) -> (tensor<3x8xbf16> {pg.name = "dx"}) {
  %q = pg.param "fc1.weight" : !pg.nf4<16x8, block = 64>
  %w = pg.dequant_nf4 %q : !pg.nf4<16x8, block = 64> to bf16
  %y = pg.matmul %x, %w transpose_rhs : tensor<3x8xbf16>, tensor<16x8xbf16>
  %y2 = pg.matmul %x, %w transpose_rhs : tensor<3x8xbf16>, tensor<16x8xbf16>
  %a = pg.exp %y : tensor<3x16xbf16>
  %b = pg.exp %a : tensor<3x16xbf16>
  %c = pg.exp %b : tensor<3x16xbf16>
  %dx = pg.matmul %c, %w : tensor<3x16xbf16>, tensor<16x8xbf16>
  return %dx : tensor<3x8xbf16>
}

func.func @far_first_use(%x: tensor<3x16xbf16> {pg.name = "x"}) -> (tensor<3x8xbf16> {pg.name = "y"}) {
  %q = pg.param "fc1.weight" : !pg.nf4<16x8, block = 64>
  %w = pg.dequant_nf4 %q : !pg.nf4<16x8, block = 64> to bf16
  %a = pg.exp %x : tensor<3x16xbf16>
  %b = pg.exp %a : tensor<3x16xbf16>
  %c = pg.exp %b : tensor<3x16xbf16>
  %y = pg.matmul %c, %w : tensor<3x16xbf16>, tensor<16x8xbf16>
  return %y : tensor<3x8xbf16>
}

func.func @casts(%x: tensor<3x8xf32> {pg.name = "x"}, %h: tensor<3x8xbf16> {pg.name = "h"}) -> (tensor<3x8xf32> {pg.name = "y"}, tensor<3x8xbf16> {pg.name = "n"}) {
  %wide = pg.cast %h : tensor<3x8xbf16> to f32
  %narrow = pg.cast %x : tensor<3x8xf32> to bf16
  %a = pg.exp %x : tensor<3x8xf32>
  %b = pg.exp %a : tensor<3x8xf32>
  %c = pg.exp %b : tensor<3x8xf32>
  %y = pg.mul %wide, %c : tensor<3x8xf32>
  %n = pg.exp %narrow : tensor<3x8xbf16>
  return %y, %n : tensor<3x8xf32>, tensor<3x8xbf16>
}
