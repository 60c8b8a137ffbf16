// pg-autodiff builds train_step: forward results, then grad.<name> per parameter, from the VJP rules.
// RUN: pgc-opt %s --split-input-file -pg-autodiff | FileCheck %s
// RUN: pgc-opt %s --split-input-file -pg-autodiff="trainable-only=true" | FileCheck %s --check-prefix=TRAINABLE
// RUN: pgc-opt %s --split-input-file -pg-autodiff -verify-each | pgc-opt --split-input-file > /dev/null

// A linear layer: dW = dy^T x; the input activation gets no gradient.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: -> (tensor<f32> {pg.name = "loss"}, tensor<2x3xf32> {pg.name = "grad.fc.weight"}, tensor<2xf32> {pg.name = "grad.fc.bias"})
// CHECK: %[[Y:.*]] = pg.matmul %arg0, %[[W:.*]] transpose_rhs
// CHECK: %[[ONE:.*]] = pg.constant dense<1.000000e+00> : tensor<f32> {pg.backward, pg.module = "fc"}
// CHECK: %[[DY:.*]] = pg.broadcast {{.*}} to [4, 2] {pg.backward, pg.module = "fc"}
// CHECK: %[[DB:.*]] = pg.reduce_sum %[[DY]] axes [0] {pg.backward
// CHECK-NOT: pg.matmul %[[DY]], %[[W]]
// CHECK: %[[DW:.*]] = pg.matmul %[[DY]], %arg0 transpose_lhs {{.*}}pg.backward
// CHECK: return %{{.*}}, %[[DW]], %[[DB]]
// TRAINABLE-LABEL: func.func @train_step
// TRAINABLE-SAME: -> (tensor<f32> {pg.name = "loss"}, tensor<2x3xf32> {pg.name = "grad.fc.weight"})
func.func @forward(%x: tensor<4x3xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}) {
  %w = pg.param "fc.weight" trainable : tensor<2x3xf32>
  %b = pg.param "fc.bias" : tensor<2xf32>
  %y = pg.matmul %x, %w transpose_rhs : tensor<4x3xf32>, tensor<2x3xf32>
  %bb = pg.broadcast %b to [4, 2] : tensor<2xf32>
  %z = pg.add %y, %bb : tensor<4x2xf32>
  %l = pg.reduce_sum %z axes [0, 1] : tensor<4x2xf32>
  return %l : tensor<f32>
}

// -----

// A tied embedding: the table is gathered and used as the output projection;
// its two gradients are summed.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[GATHER_GRAD:.*]] = pg.scatter_add %arg0, %{{.*}} {pg.backward
// CHECK: %[[SUM:.*]] = pg.add %{{.*}}, %[[GATHER_GRAD]] {pg.backward
// CHECK: return %{{.*}}, %[[SUM]]
func.func @forward(%ids: tensor<2x3xi64> {pg.name = "ids"}, %labels: tensor<6xi64> {pg.name = "labels"}) -> (tensor<f32> {pg.name = "loss"}) {
  %e = pg.param "embed.weight" trainable : tensor<10x4xf32>
  %h = pg.gather %e[%ids] : tensor<10x4xf32>, tensor<2x3xi64>
  %logits = pg.matmul %h, %e transpose_rhs : tensor<2x3x4xf32>, tensor<10x4xf32>
  %flat = pg.reshape %logits to [6, 10] : tensor<2x3x10xf32>
  %l = pg.cross_entropy %flat, %labels ignore -100 : tensor<6x10xf32>, tensor<6xi64>
  return %l : tensor<f32>
}

// -----

// Composite ops use their backward ops; positions and masks get no gradient.
// CHECK-LABEL: func.func @train_step
// CHECK-DAG: pg.attention_grad
// CHECK-DAG: pg.rope_grad
// CHECK-DAG: pg.rms_norm_grad
// CHECK-DAG: pg.softmax_grad
func.func @forward(%q: tensor<1x2x3x4xf32> {pg.name = "q"}, %pos: tensor<1x3xi64> {pg.name = "pos"}, %mask: tensor<1x1x3x3xi1> {pg.name = "mask"}) -> (tensor<f32> {pg.name = "loss"}) {
  %w = pg.param "norm.weight" : tensor<4xf32>
  %k = pg.param "k" : tensor<1x1x3x4xf32>
  %n = pg.rms_norm %q, %w eps 1.0e-6 unit_offset : tensor<1x2x3x4xf32>, tensor<4xf32>
  %r = pg.rope %n, %pos theta 10000.0 : tensor<1x2x3x4xf32>, tensor<1x3xi64>
  %a = pg.attention %r, %k, %k, %mask scale 0.5 : tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x3xi1>
  %s = pg.softmax %a axis -1 : tensor<1x2x3x4xf32>
  %l = pg.reduce_max %s axes [0, 1, 2, 3] : tensor<1x2x3x4xf32>
  return %l : tensor<f32>
}

