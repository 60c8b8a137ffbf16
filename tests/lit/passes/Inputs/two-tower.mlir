// A two-tower toy: an encoder (one linear + gelu) feeding a decoder (two linears).
func.func @forward(%x: tensor<4x8xf32> {pg.name = "x"}, %t: tensor<4x8xf32> {pg.name = "target"}) -> (tensor<f32> {pg.name = "loss"}) {
  %we = pg.param "encoder.proj.weight" : tensor<8x8xf32>
  %w0 = pg.param "decoder.layers.0.proj.weight" : tensor<8x8xf32>
  %w1 = pg.param "decoder.layers.1.proj.weight" : tensor<8x8xf32>
  %e = pg.matmul %x, %we transpose_rhs : tensor<4x8xf32>, tensor<8x8xf32>
  %h = pg.gelu_tanh %e : tensor<4x8xf32>
  %d0 = pg.matmul %h, %w0 transpose_rhs : tensor<4x8xf32>, tensor<8x8xf32>
  %g0 = pg.gelu_tanh %d0 : tensor<4x8xf32>
  %d1 = pg.matmul %g0, %w1 transpose_rhs : tensor<4x8xf32>, tensor<8x8xf32>
  %diff = pg.sub %d1, %t : tensor<4x8xf32>
  %sq = pg.mul %diff, %diff : tensor<4x8xf32>
  %l = pg.reduce_mean %sq axes [0, 1] : tensor<4x8xf32>
  return %l : tensor<f32>
}
