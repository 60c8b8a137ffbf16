// pg-fuse wraps each run of elementwise ops of one shape into a pg.fusion that yields the values used after it.
// RUN: pgc-opt %s --split-input-file -pg-fuse | FileCheck %s
// RUN: pgc-opt %s --split-input-file -pg-fuse -pg-fuse | FileCheck %s --check-prefix=TWICE

// A softmax-free attention score epilogue: the constant and the parameter met
// inside the run move in front of it, the matmul ends it, and only %s (used by
// the matmul) and %m (returned) leave the fusion; %e stays inside.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT: %[[C:.*]] = pg.constant dense<2.000000e+00> : tensor<4x8xf32>
// CHECK-NEXT: %[[P:.*]] = pg.param "scale" : tensor<4x8xf32>
// CHECK-NEXT: %[[F:.*]]:2 = pg.fusion -> tensor<4x8xf32>, tensor<4x8xbf16> {
// CHECK-NEXT: %[[E:.*]] = pg.exp %arg0 : tensor<4x8xf32>
// CHECK-NEXT: %[[S:.*]] = pg.mul %[[E]], %[[C]] : tensor<4x8xf32>
// CHECK-NEXT: %[[T:.*]] = pg.add %[[S]], %[[P]] : tensor<4x8xf32>
// CHECK-NEXT: %[[M:.*]] = pg.cast %[[T]] : tensor<4x8xf32> to bf16
// CHECK-NEXT: pg.yield %[[S]], %[[M]] : tensor<4x8xf32>, tensor<4x8xbf16>
// CHECK-NEXT: }
// CHECK-NEXT: %[[Y:.*]] = pg.matmul %[[F]]#0, %arg1 transpose_rhs
// CHECK-NEXT: return %[[F]]#1, %[[Y]]
// TWICE-LABEL: func.func @chain
// TWICE: pg.fusion
// TWICE-NOT: pg.fusion
// TWICE: return
func.func @chain(%x: tensor<4x8xf32>, %w: tensor<3x8xf32>) -> (tensor<4x8xbf16>, tensor<4x3xf32>) {
  %e = pg.exp %x : tensor<4x8xf32>
  %c = pg.constant dense<2.0> : tensor<4x8xf32>
  %s = pg.mul %e, %c : tensor<4x8xf32>
  %p = pg.param "scale" : tensor<4x8xf32>
  %t = pg.add %s, %p : tensor<4x8xf32>
  %m = pg.cast %t : tensor<4x8xf32> to bf16
  %y = pg.matmul %s, %w transpose_rhs : tensor<4x8xf32>, tensor<3x8xf32>
  return %m, %y : tensor<4x8xbf16>, tensor<4x3xf32>
}

// -----

// A change of shape starts a new fusion; an op that is not elementwise (a
// broadcast of more than one element) separates two runs of the same shape. compare, select and cast
// fuse with the arithmetic; a lone op still becomes a fusion (one kernel).
// CHECK-LABEL: func.func @runs
// CHECK-NEXT: %[[A:.*]] = pg.fusion -> tensor<2x3xf32> {
// CHECK-NEXT: pg.neg %arg0
// CHECK-NEXT: pg.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[B:.*]] = pg.fusion -> tensor<3xf32> {
// CHECK-NEXT: %[[Q:.*]] = pg.sqrt %arg1
// CHECK-NEXT: pg.yield %[[Q]]
// CHECK-NEXT: }
// CHECK-NEXT: %[[W:.*]] = pg.broadcast %[[B]]
// CHECK-NEXT: %[[D:.*]] = pg.fusion -> tensor<2x3xf32> {
// CHECK-NEXT: %[[K:.*]] = pg.compare gt, %[[A]], %[[W]]
// CHECK-NEXT: %[[L:.*]] = pg.select %[[K]], %[[A]], %[[W]]
// CHECK-NEXT: %[[G:.*]] = pg.gelu_tanh_grad %[[L]], %[[A]]
// CHECK-NEXT: pg.yield %[[G]]
// CHECK-NEXT: }
// CHECK-NEXT: return %[[D]]
func.func @runs(%x: tensor<2x3xf32>, %v: tensor<3xf32>) -> tensor<2x3xf32> {
  %a = pg.neg %x : tensor<2x3xf32>
  %q = pg.sqrt %v : tensor<3xf32>
  %w = pg.broadcast %q to [2, 3] : tensor<3xf32>
  %k = pg.compare gt, %a, %w : tensor<2x3xf32>
  %l = pg.select %k, %a, %w : tensor<2x3xi1>, tensor<2x3xf32>
  %g = pg.gelu_tanh_grad %l, %a : tensor<2x3xf32>
  return %g : tensor<2x3xf32>
}

// -----

// A broadcast of one element (a learning rate, a scale) joins the run: the
// kernel reads it once.
// CHECK-LABEL: func.func @scalar
// CHECK-NEXT: %[[F:.*]] = pg.fusion -> tensor<2x3xf32> {
// CHECK-NEXT: %[[B:.*]] = pg.broadcast %arg1 to [2, 3] : tensor<f32>
// CHECK-NEXT: %[[M:.*]] = pg.mul %arg0, %[[B]] : tensor<2x3xf32>
// CHECK-NEXT: %[[S:.*]] = pg.sub %[[M]], %arg0 : tensor<2x3xf32>
// CHECK-NEXT: pg.yield %[[S]] : tensor<2x3xf32>
// CHECK-NEXT: }
// CHECK-NEXT: return %[[F]]
func.func @scalar(%x: tensor<2x3xf32>, %lr: tensor<f32>) -> tensor<2x3xf32> {
  %b = pg.broadcast %lr to [2, 3] : tensor<f32>
  %m = pg.mul %x, %b : tensor<2x3xf32>
  %s = pg.sub %m, %x : tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// -----

// Dropout fuses with the arithmetic around it (its key is read whole); a store
// and a reduction end the run.
// CHECK-LABEL: func.func @dropout
// CHECK-NEXT: %[[S:.*]] = pg.state "m" kind "optimizer" : tensor<4xf32>
// CHECK-NEXT: %[[F:.*]] = pg.fusion -> tensor<4xf32> {
// CHECK-NEXT: %[[D:.*]] = pg.dropout %arg0, %arg1 p 5.000000e-01 site "a" : tensor<4xf32>, tensor<2xi64>
// CHECK-NEXT: %[[M:.*]] = pg.mul %[[D]], %arg0 : tensor<4xf32>
// CHECK-NEXT: pg.yield %[[M]] : tensor<4xf32>
// CHECK-NEXT: }
// CHECK-NEXT: pg.store %[[F]], %[[S]] : tensor<4xf32>
// CHECK-NEXT: %[[R:.*]] = pg.reduce_sum %[[F]] axes [0] : tensor<4xf32>
// CHECK-NEXT: return %[[R]]
func.func @dropout(%x: tensor<4xf32>, %key: tensor<2xi64>) -> tensor<f32> {
  %d = pg.dropout %x, %key p 0.5 site "a" : tensor<4xf32>, tensor<2xi64>
  %s = pg.state "m" kind "optimizer" : tensor<4xf32>
  %m = pg.mul %d, %x : tensor<4xf32>
  pg.store %m, %s : tensor<4xf32>
  %r = pg.reduce_sum %m axes [0] : tensor<4xf32>
  return %r : tensor<f32>
}

// -----

// A function without elementwise ops is left as it is.
// CHECK-LABEL: func.func @nothing
// CHECK-NOT: pg.fusion
// CHECK: return
func.func @nothing(%x: tensor<4x4xf32>) -> tensor<4xf32> {
  %t = pg.transpose %x perm [1, 0] : tensor<4x4xf32>
  %r = pg.reduce_sum %t axes [0] : tensor<4x4xf32>
  return %r : tensor<4xf32>
}
