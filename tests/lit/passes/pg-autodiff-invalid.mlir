// pg-autodiff rejects functions it cannot differentiate, with a located error.
// RUN: pgc-opt %s --split-input-file -pg-autodiff -verify-diagnostics

// The loss must be a scalar float result.
// expected-error@+1 {{pg-autodiff: result 'loss' must be a rank-0 float tensor}}
func.func @forward(%x: tensor<4xf32> {pg.name = "x"}) -> (tensor<4xf32> {pg.name = "loss"}) {
  return %x : tensor<4xf32>
}

// -----

// The loss result must exist.
// expected-error@+1 {{pg-autodiff: function has no result named 'loss'}}
func.func @forward(%x: tensor<f32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "total"}) {
  return %x : tensor<f32>
}

// -----

// Strided slices have no backward rule.
func.func @forward(%x: tensor<4xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}) {
  %w = pg.param "w" : tensor<4xf32>
  %p = pg.mul %x, %w : tensor<4xf32>
  // expected-error@+1 {{cannot differentiate a strided slice}}
  %s = pg.slice %p starts [0] limits [4] strides [2] : tensor<4xf32>
  %l = pg.reduce_sum %s axes [0] : tensor<2xf32>
  return %l : tensor<f32>
}
