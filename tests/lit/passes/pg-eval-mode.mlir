// pg-eval-mode turns dropout into the identity in the evaluation function and drops the then unused dropout_key argument.
// RUN: pgc-opt %s -pg-eval-mode | FileCheck %s
// RUN: pgc-opt %s -pg-autodiff -pg-eval-mode | FileCheck %s --check-prefix=TRAIN
// RUN: not pgc-opt %s -pg-eval-mode="function=missing" 2>&1 | FileCheck %s --check-prefix=MISSING

// CHECK-LABEL: func.func @forward(%arg0: tensor<3x4xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"})
// CHECK-NOT: pg.dropout
// CHECK: %[[A:.*]] = pg.param "q_proj.lora_A.weight"
// CHECK: %[[H:.*]] = pg.mul %arg0
// CHECK-NEXT: pg.matmul %[[H]], %[[A]] transpose_rhs
// CHECK-NOT: pg.dropout

// The training copy that pg-autodiff made first keeps its key and dropout,
// and its backward drops the gradient with the same key and site.
// TRAIN-LABEL: func.func @forward(%arg0: tensor<3x4xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"})
// TRAIN-NOT: pg.dropout
// TRAIN-LABEL: func.func @train_step(%arg0: tensor<3x4xf32> {pg.name = "x"}, %arg1: tensor<2xi64> {pg.name = "dropout_key"})
// TRAIN: %[[H:.*]] = pg.mul %arg0
// TRAIN-NEXT: pg.dropout %[[H]], %arg1 p 2.500000e-01 site "q_proj" : tensor<3x4xf32>, tensor<2xi64>
// TRAIN: pg.dropout %{{.*}}, %arg1 p 2.500000e-01 site "q_proj" {pg.backward{{.*}}} : tensor<3x4xf32>, tensor<2xi64>

// MISSING: error: pg-eval-mode: no function 'missing'
func.func @forward(%x: tensor<3x4xf32> {pg.name = "x"}, %key: tensor<2xi64> {pg.name = "dropout_key"}) -> (tensor<f32> {pg.name = "loss"}) {
  %s = pg.param "norm.weight" trainable : tensor<3x4xf32>
  %a = pg.param "q_proj.lora_A.weight" trainable : tensor<2x4xf32>
  %h = pg.mul %x, %s : tensor<3x4xf32>
  %d = pg.dropout %h, %key p 0.25 site "q_proj" : tensor<3x4xf32>, tensor<2xi64>
  %y = pg.matmul %d, %a transpose_rhs : tensor<3x4xf32>, tensor<2x4xf32>
  %l = pg.reduce_sum %y axes [0, 1] : tensor<3x2xf32>
  return %l : tensor<f32>
}
