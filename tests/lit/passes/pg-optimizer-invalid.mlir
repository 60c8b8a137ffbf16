// pg-optimizer rejects modules and options it cannot handle, with a located error.
// RUN: pgc-opt %s --split-input-file -pg-optimizer -verify-diagnostics
// RUN: not pgc-opt %s --split-input-file -pg-optimizer="variant=sgd" 2>&1 | FileCheck %s --check-prefix=VARIANT

// VARIANT: pg-optimizer: unknown variant 'sgd' (expected adamw_torch or adamw_hf)

// A gradient result must name a parameter of the function.
// expected-error@+1 {{pg-optimizer: result 'grad.fc.bias' names no pg.param of the function}}
func.func @train_step(%x: tensor<2xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}, tensor<2xf32> {pg.name = "grad.fc.bias"}) {
  %l = pg.reduce_sum %x axes [0] : tensor<2xf32>
  return %l, %x : tensor<f32>, tensor<2xf32>
}

// -----

// Nothing to optimize.
// expected-error@+1 {{pg-optimizer: 'train_step' returns no gradient (grad.<name> result)}}
func.func @train_step(%x: tensor<2xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}) {
  %l = pg.reduce_sum %x axes [0] : tensor<2xf32>
  return %l : tensor<f32>
}

// -----

// The update function must not exist yet (the pass ran twice).
// expected-error@+1 {{pg-optimizer: a symbol named 'apply_update' already exists}}
func.func @train_step(%x: tensor<2xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}) {
  %l = pg.reduce_sum %x axes [0] : tensor<2xf32>
  return %l : tensor<f32>
}
func.func @apply_update() {
  return
}

// -----

// expected-error@+1 {{pg-optimizer: no function 'train_step'}}
module {
  func.func @forward(%x: tensor<2xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}) {
    %l = pg.reduce_sum %x axes [0] : tensor<2xf32>
    return %l : tensor<f32>
  }
}
