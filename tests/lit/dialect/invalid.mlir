// Every verifier and shape-inference rule of the pg dialect rejects bad IR with a located error.
// RUN: pgc-opt %s --split-input-file --verify-diagnostics

// A parameter needs a name.
// expected-error @+1 {{parameter name must not be empty}}
%0 = pg.param "" : tensor<2xf32>

// -----

// Dotted names have no empty components.
// expected-error @+1 {{has an empty component}}
%0 = pg.param "a..b" : tensor<2xf32>

// -----

// Names hold letters, digits, '_' and '.'.
// expected-error @+1 {{may only hold letters, digits}}
%0 = pg.param "a.b-c" : tensor<2xf32>

// -----

// NF4 weights are frozen storage and cannot train.
// expected-error @+1 {{an nf4-quantized parameter cannot be trainable}}
%0 = pg.param "w" trainable : !pg.nf4<4x64, block = 64>

// -----

// Parameters are float tensors or nf4 storage.
// expected-error @+1 {{result #0 must be}}
%0 = pg.param "w" : tensor<4xi64>

// -----

// NF4 block sizes are powers of two in [32, 4096].
// expected-error @+1 {{nf4 block size must be a power of two in [32, 4096], got 48}}
%0 = pg.param "w" : !pg.nf4<4x64, block = 48>

// -----

// NF4 block sizes below 32 are refused.
// expected-error @+1 {{nf4 block size must be a power of two in [32, 4096], got 16}}
%0 = pg.param "w" : !pg.nf4<4x64, block = 16>

// -----

// NF4 dimensions are positive.
// expected-error @+1 {{nf4 weight dimensions must be positive}}
%0 = pg.param "w" : !pg.nf4<0x64, block = 64>

// -----

// Constants use pg element types only.
// expected-error @+1 {{constant must be a static tensor of a pg element type}}
%0 = pg.constant dense<1> : tensor<2xi8>

// -----

// iota's dimension lies inside the rank.
// expected-error @+1 {{iota dim 2 is out of range for rank 2}}
%0 = pg.iota dim 2 : tensor<2x3xi64>

// -----

// Elementwise operands share one type: broadcasting is explicit.
func.func @f(%a: tensor<4xf32>, %b: tensor<1xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "pg.add"(%a, %b) : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
  return
}

// -----

// Transcendental ops take floats only.
func.func @f(%a: tensor<4xi64>) {
  // expected-error @+1 {{must be statically shaped tensor of bfloat16 type or 16-bit float or 32-bit float or 64-bit float values}}
  %0 = pg.exp %a : tensor<4xi64>
  return
}

// -----

// The condition of select has the result's shape.
func.func @f(%c: tensor<3xi1>, %a: tensor<4xf32>) {
  // expected-error @+1 {{all of {condition, result} have same shape}}
  %0 = pg.select %c, %a, %a : tensor<3xi1>, tensor<4xf32>
  return
}

// -----

// Casts target a pg element type.
func.func @f(%a: tensor<4xf32>) {
  // expected-error @+1 {{cannot cast to 'i8': not a pg element type}}
  %0 = pg.cast %a : tensor<4xf32> to i8
  return
}

// -----

// Reductions name at least one axis.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{reduction needs at least one axis}}
  %0 = pg.reduce_sum %a axes [] : tensor<2x3xf32>
  return
}

// -----

// Reduction axes lie inside the rank.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{reduction axis 2 is out of range for rank 2}}
  %0 = pg.reduce_max %a axes [2] : tensor<2x3xf32>
  return
}

// -----

// Reduction axes are strictly increasing (no duplicates).
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{reduction axes must be strictly increasing}}
  %0 = pg.reduce_sum %a axes [1, 1] : tensor<2x3xf32>
  return
}

// -----

// A mean of integers is not defined here.
func.func @f(%a: tensor<2x3xi64>) {
  // expected-error @+1 {{reduce_mean needs a float tensor}}
  %0 = pg.reduce_mean %a axes [1] : tensor<2x3xi64>
  return
}

// -----

// cumsum's axis lies inside the rank.
func.func @f(%a: tensor<2x3xi64>) {
  // expected-error @+1 {{cumsum axis -3 is out of range for rank 2}}
  %0 = pg.cumsum %a axis -3 : tensor<2x3xi64>
  return
}

// -----

// matmul operands share an element type.
func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xbf16>) {
  // expected-error @+1 {{matmul operands have different element types}}
  %0 = pg.matmul %a, %b : tensor<2x3xf32>, tensor<3x4xbf16>
  return
}

// -----

// matmul needs matrices.
func.func @f(%a: tensor<3xf32>, %b: tensor<3x4xf32>) {
  // expected-error @+1 {{matmul operands must have rank >= 2}}
  %0 = pg.matmul %a, %b : tensor<3xf32>, tensor<3x4xf32>
  return
}

// -----

// A batched rhs has the lhs rank.
func.func @f(%a: tensor<2x2x3xf32>, %b: tensor<2x2x3x4xf32>) {
  // expected-error @+1 {{matmul rhs must have rank 2 or the rank of lhs (3), got 4}}
  %0 = pg.matmul %a, %b : tensor<2x2x3xf32>, tensor<2x2x3x4xf32>
  return
}

// -----

// Contraction sizes agree (after the transpose flags).
func.func @f(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) {
  // expected-error @+1 {{matmul contraction sizes differ}}
  %0 = pg.matmul %a, %b : tensor<2x3xf32>, tensor<4x3xf32>
  return
}

// -----

// Batch dimensions agree.
func.func @f(%a: tensor<2x2x3xf32>, %b: tensor<3x3x4xf32>) {
  // expected-error @+1 {{matmul batch dimensions differ: [2] and [3]}}
  %0 = pg.matmul %a, %b : tensor<2x2x3xf32>, tensor<3x3x4xf32>
  return
}

// -----

// Accumulation is f32 or f64.
func.func @f(%a: tensor<2x3xbf16>, %b: tensor<3x4xbf16>) {
  // expected-error @+1 {{acc_type must be f32 or f64}}
  %0 = pg.matmul %a, %b {acc_type = bf16} : tensor<2x3xbf16>, tensor<3x4xbf16>
  return
}

// -----

// f64 products accumulate in f64.
func.func @f(%a: tensor<2x3xf64>, %b: tensor<3x4xf64>) {
  // expected-error @+1 {{f64 operands need acc_type f64}}
  %0 = pg.matmul %a, %b {acc_type = f32} : tensor<2x3xf64>, tensor<3x4xf64>
  return
}

// -----

// reshape keeps the element count.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)}}
  %0 = pg.reshape %a to [4, 2] : tensor<2x3xf32>
  return
}

// -----

// reshape targets have no negative (inferred) dimensions.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{reshape target [-1, 6] has a negative dimension}}
  %0 = pg.reshape %a to [-1, 6] : tensor<2x3xf32>
  return
}

// -----

// A permutation has one entry per dimension.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{transpose permutation has 3 entries for rank 2}}
  %0 = pg.transpose %a perm [0, 1, 2] : tensor<2x3xf32>
  return
}

// -----

// A permutation names each dimension once.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{transpose permutation [0, 0] is not a permutation of 0..1}}
  %0 = pg.transpose %a perm [0, 0] : tensor<2x3xf32>
  return
}

// -----

// Broadcasting never lowers the rank.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot broadcast [2, 3] to the lower-rank shape [3]}}
  %0 = pg.broadcast %a to [3] : tensor<2x3xf32>
  return
}

// -----

// Only size-1 dimensions expand.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot broadcast [2, 3] to [4, 2, 4]: dimension 1 is 3}}
  %0 = pg.broadcast %a to [4, 2, 4] : tensor<2x3xf32>
  return
}

// -----

// A slice gives one start, limit and stride per dimension.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{slice needs one start, limit and stride per dimension (rank 2)}}
  %0 = pg.slice %a starts [0] limits [2] strides [1] : tensor<2x3xf32>
  return
}

// -----

// Strides are positive.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{slice stride must be >= 1, got 0 in dimension 1}}
  %0 = pg.slice %a starts [0, 0] limits [2, 3] strides [1, 0] : tensor<2x3xf32>
  return
}

// -----

// Slices stay in bounds.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{slice [1, 4) is out of bounds for dimension 1 of size 3}}
  %0 = pg.slice %a starts [0, 1] limits [2, 4] strides [1, 1] : tensor<2x3xf32>
  return
}

// -----

// concat inputs share element type and rank.
func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x3xbf16>) {
  // expected-error @+1 {{concat inputs must share element type and rank}}
  %0 = pg.concat %a, %b axis 0 : tensor<2x3xf32>, tensor<2x3xbf16>
  return
}

// -----

// concat inputs agree off the axis.
func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{concat inputs differ in dimension 1: [2, 3] and [2, 4]}}
  %0 = pg.concat %a, %b axis 0 : tensor<2x3xf32>, tensor<2x4xf32>
  return
}

// -----

// concat's axis lies inside the rank.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{concat axis 2 is out of range for rank 2}}
  %0 = pg.concat %a, %a axis 2 : tensor<2x3xf32>, tensor<2x3xf32>
  return
}

// -----

// A gather table has rows.
func.func @f(%t: tensor<f32>, %i: tensor<2xi64>) {
  // expected-error @+1 {{gather table must have rank >= 1}}
  %0 = pg.gather %t[%i] : tensor<f32>, tensor<2xi64>
  return
}

// -----

// scatter indices are [B, N].
func.func @f(%d: tensor<2x5x4xf32>, %i: tensor<2xi64>, %u: tensor<2x1x4xf32>) {
  // expected-error @+1 {{scatter needs dest [B, L, ...] and indices [B, N]}}
  %0 = pg.scatter %d[%i] = %u : tensor<2x5x4xf32>, tensor<2xi64>, tensor<2x1x4xf32>
  return
}

// -----

// scatter updates match [B, N, rest of dest].
func.func @f(%d: tensor<2x5x4xf32>, %i: tensor<2x3xi64>, %u: tensor<2x3x5xf32>) {
  // expected-error @+1 {{scatter updates must be [2, 3, 4] of 'f32' for dest [2, 5, 4] and indices [2, 3], got [2, 3, 5] of 'f32'}}
  %0 = pg.scatter %d[%i] = %u : tensor<2x5x4xf32>, tensor<2x3xi64>, tensor<2x3x5xf32>
  return
}

// -----

// softmax's axis lies inside the rank.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{softmax axis 2 is out of range for rank 2}}
  %0 = pg.softmax %a axis 2 : tensor<2x3xf32>
  return
}

// -----

// layer_norm weights cover the last dimension.
func.func @f(%a: tensor<2x3xf32>, %w: tensor<2xf32>) {
  // expected-error @+1 {{layer_norm weight must have shape [3], got [2]}}
  %0 = pg.layer_norm %a, %w, %w eps 1.0e-6 : tensor<2x3xf32>, tensor<2xf32>
  return
}

// -----

// layer_norm needs a dimension to normalise.
func.func @f(%a: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{layer_norm input must have rank >= 1}}
  %0 = pg.layer_norm %a, %w, %w eps 1.0e-6 : tensor<f32>, tensor<1xf32>
  return
}

// -----

// rms_norm weights cover the last dimension.
func.func @f(%a: tensor<2x3xf32>, %w: tensor<3x1xf32>) {
  // expected-error @+1 {{rms_norm weight must have shape [3], got [3, 1]}}
  %0 = pg.rms_norm %a, %w eps 1.0e-6 : tensor<2x3xf32>, tensor<3x1xf32>
  return
}

// -----

// rope works on [B, H, L, D].
func.func @f(%a: tensor<2x3x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{rope input must be [B, H, L, D], got [2, 3, 4]}}
  %0 = pg.rope %a, %p theta 1.0e4 : tensor<2x3x4xf32>, tensor<2x3xi64>
  return
}

// -----

// rotate-half needs an even head dimension.
func.func @f(%a: tensor<2x1x3x5xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{rope head dimension must be even, got 5}}
  %0 = pg.rope %a, %p theta 1.0e4 : tensor<2x1x3x5xf32>, tensor<2x3xi64>
  return
}

// -----

// rope positions are [B, L].
func.func @f(%a: tensor<2x1x3x4xf32>, %p: tensor<2x4xi64>) {
  // expected-error @+1 {{rope positions must be [2, 3], got [2, 4]}}
  %0 = pg.rope %a, %p theta 1.0e4 : tensor<2x1x3x4xf32>, tensor<2x4xi64>
  return
}

// -----

// attention operands are rank 4.
func.func @f(%q: tensor<2x3x4xf32>, %m: tensor<1x1x3x3xi1>) {
  // expected-error @+1 {{attention operands must all have rank 4}}
  %0 = pg.attention %q, %q, %q, %m scale 1.0 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<1x1x3x3xi1>
  return
}

// -----

// query, key and value share an element type.
func.func @f(%q: tensor<1x1x3x4xf32>, %k: tensor<1x1x3x4xbf16>, %m: tensor<1x1x3x3xi1>) {
  // expected-error @+1 {{attention query, key and value must share an element type}}
  %0 = pg.attention %q, %k, %k, %m scale 1.0 : tensor<1x1x3x4xf32>, tensor<1x1x3x4xbf16>, tensor<1x1x3x4xbf16>, tensor<1x1x3x3xi1>
  return
}

// -----

// attention batch sizes agree.
func.func @f(%q: tensor<1x1x3x4xf32>, %k: tensor<2x1x3x4xf32>, %m: tensor<1x1x3x3xi1>) {
  // expected-error @+1 {{attention batch sizes differ}}
  %0 = pg.attention %q, %k, %k, %m scale 1.0 : tensor<1x1x3x4xf32>, tensor<2x1x3x4xf32>, tensor<2x1x3x4xf32>, tensor<1x1x3x3xi1>
  return
}

// -----

// query and key heads have one width.
func.func @f(%q: tensor<1x1x3x4xf32>, %k: tensor<1x1x3x8xf32>, %m: tensor<1x1x3x3xi1>) {
  // expected-error @+1 {{attention key head dim 8 differs from the query's 4}}
  %0 = pg.attention %q, %k, %k, %m scale 1.0 : tensor<1x1x3x4xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x3xi1>
  return
}

// -----

// value heads and positions match the key's.
func.func @f(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x1x3x4xf32>, %m: tensor<1x1x3x3xi1>) {
  // expected-error @+1 {{attention value must have 2 heads and 3 positions like the key}}
  %0 = pg.attention %q, %k, %v, %m scale 1.0 : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x3xi1>
  return
}

// -----

// Grouped-query heads divide evenly.
func.func @f(%q: tensor<1x3x3x4xf32>, %k: tensor<1x2x3x4xf32>, %m: tensor<1x1x3x3xi1>) {
  // expected-error @+1 {{attention query heads (3) must be a multiple of key/value heads (2)}}
  %0 = pg.attention %q, %k, %k, %m scale 1.0 : tensor<1x3x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x3xi1>
  return
}

// -----

// The mask is [B or 1, Hq or 1, L, S].
func.func @f(%q: tensor<1x1x3x4xf32>, %m: tensor<1x1x3x2xi1>) {
  // expected-error @+1 {{attention mask must be [1 or 1, 1 or 1, 3, 3], got [1, 1, 3, 2]}}
  %0 = pg.attention %q, %q, %q, %m scale 1.0 : tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x2xi1>
  return
}

// -----

// Labels have the logits' shape without the class dimension.
func.func @f(%l: tensor<4x10xf32>, %y: tensor<5xi64>) {
  // expected-error @+1 {{cross_entropy labels must have the logits' shape without the class dimension: [4], got [5]}}
  %0 = pg.cross_entropy %l, %y ignore -100 : tensor<4x10xf32>, tensor<5xi64>
  return
}

// -----

// NF4 dequantizes to a float type.
func.func @f() {
  %q = pg.param "w" : !pg.nf4<4x64, block = 64>
  // expected-error @+1 {{dequant_nf4 target must be bf16, f16, f32 or f64, got 'i32'}}
  %0 = pg.dequant_nf4 %q : !pg.nf4<4x64, block = 64> to i32
  return
}

// -----

// A result type written in generic form must match the inferred one.
func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{'pg.reshape' op inferred type(s) 'tensor<3x2xf32>' are incompatible with return type(s) of operation 'tensor<6xf32>'}}
  // expected-error @+1 {{'pg.reshape' op failed to infer returned types}}
  %0 = "pg.reshape"(%a) <{shape = array<i64: 3, 2>}> : (tensor<2x3xf32>) -> tensor<6xf32>
  return
}

// -----

// State kinds are gradient or optimizer.
// expected-error @+1 {{state kind must be 'gradient' or 'optimizer', got 'cache'}}
%0 = pg.state "s" kind "cache" : tensor<2xf32>

// -----

// A store writes a parameter or a state buffer, nothing else.
func.func @f(%a: tensor<2xf32>) {
  // expected-error @+1 {{target must be the result of pg.param or pg.state}}
  pg.store %a, %a : tensor<2xf32>
  return
}

// -----

// Nothing reads a store's target after the store.
func.func @f(%a: tensor<2xf32>) {
  %s = pg.state "s" kind "gradient" : tensor<2xf32>
  // expected-error @+1 {{target is used after the store}}
  pg.store %a, %s : tensor<2xf32>
  %b = pg.add %s, %a : tensor<2xf32>
  return
}

// -----

// Backward ops: gelu_tanh_grad keeps the input's type.
func.func @f(%x: tensor<4xf32>, %g: tensor<4xbf16>) {
  // expected-error @+1 {{all of {input, grad, result} have same type}}
  %0 = "pg.gelu_tanh_grad"(%x, %g) : (tensor<4xf32>, tensor<4xbf16>) -> tensor<4xf32>
  return
}

// -----

// softmax_grad takes the output and its gradient, of one type.
func.func @f(%y: tensor<4xf32>, %g: tensor<5xf32>) {
  // expected-error @+1 {{all of {output, grad, result} have same type}}
  %0 = "pg.softmax_grad"(%y, %g) <{axis = 0 : i64}> : (tensor<4xf32>, tensor<5xf32>) -> tensor<4xf32>
  return
}

// -----

// layer_norm_grad's weight and bias gradients have the weight's type.
func.func @f(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{all of {weight, weight_grad, bias_grad} have same type}}
  %0:3 = "pg.layer_norm_grad"(%x, %w, %x) <{epsilon = 1.0e-6 : f32}> : (tensor<2x4xf32>, tensor<4xf32>, tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<4xf32>, tensor<2xf32>)
  return
}

// -----

// rms_norm_grad's input gradient has the input's type.
func.func @f(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{all of {input, grad, input_grad} have same type}}
  %0:2 = "pg.rms_norm_grad"(%x, %w, %x) <{epsilon = 1.0e-6 : f32}> : (tensor<2x4xf32>, tensor<4xf32>, tensor<2x4xf32>) -> (tensor<2x4xbf16>, tensor<4xf32>)
  return
}

// -----

// rope_grad keeps the gradient's type.
func.func @f(%g: tensor<1x1x2x4xf32>, %p: tensor<1x2xi64>) {
  // expected-error @+1 {{all of {grad, result} have same type}}
  %0 = "pg.rope_grad"(%g, %p) <{theta = 1.0e4 : f32}> : (tensor<1x1x2x4xf32>, tensor<1x2xi64>) -> tensor<1x1x2x4xf64>
  return
}

// -----

// attention_grad's key gradient has the key's type.
func.func @f(%q: tensor<1x2x3x4xf32>, %k: tensor<1x1x3x4xf32>, %m: tensor<1x1x3x3xi1>) {
  // expected-error @+1 {{all of {key, key_grad} have same type}}
  %0:3 = "pg.attention_grad"(%q, %k, %k, %m, %q) <{scale = 0.5 : f32}> : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x3xi1>, tensor<1x2x3x4xf32>) -> (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>)
  return
}

// -----

// cross_entropy_grad returns the logits' type.
func.func @f(%l: tensor<3x5xf32>, %y: tensor<3xi64>, %d: tensor<f32>) {
  // expected-error @+1 {{all of {logits, result} have same type}}
  %0 = "pg.cross_entropy_grad"(%l, %y, %d) <{ignore_index = -100 : i64}> : (tensor<3x5xf32>, tensor<3xi64>, tensor<f32>) -> tensor<5xf32>
  return
}

// -----

// scatter_add's gradient rows match [ids..., table row].
func.func @f(%ids: tensor<2x3xi64>, %g: tensor<2x3x5xf32>) {
  // expected-error @+1 {{grad must be [2, 3, 4] of 'f32' for ids [2, 3] and table [10, 4], got [2, 3, 5]}}
  %0 = pg.scatter_add %ids, %g : tensor<2x3xi64>, tensor<2x3x5xf32> -> tensor<10x4xf32>
  return
}

// -----

// Dropout's p is a probability below 1 (p = 1 would divide by zero).
func.func @f(%x: tensor<4xf32>, %k: tensor<2xi64>) {
  // expected-error @+1 {{p must be in [0, 1), got 1}}
  %0 = pg.dropout %x, %k p 1.0 site "a" : tensor<4xf32>, tensor<2xi64>
  return
}

// -----

// The key is the (seed, counter) pair of i64.
func.func @f(%x: tensor<4xf32>, %k: tensor<3xi64>) {
  // expected-error @+1 {{key must be tensor<2xi64> (seed, counter), got 'tensor<3xi64>'}}
  %0 = pg.dropout %x, %k p 0.5 site "a" : tensor<4xf32>, tensor<3xi64>
  return
}

// -----

// Two sites with one name would draw the same mask.
func.func @f(%x: tensor<4xf32>, %k: tensor<2xi64>) {
  // expected-error @+1 {{site must name the dropout place}}
  %0 = pg.dropout %x, %k p 0.5 site "" : tensor<4xf32>, tensor<2xi64>
  return
}

// -----

// Only float tensors are dropped out.
func.func @f(%x: tensor<4xi32>, %k: tensor<2xi64>) {
  // expected-error @+1 {{operand #0 must be}}
  %0 = pg.dropout %x, %k p 0.5 site "a" : tensor<4xi32>, tensor<2xi64>
  return
}

// -----

// Only elementwise ops are fused.
func.func @f(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{cannot fuse 'pg.transpose': not an elementwise op}}
  %0 = pg.fusion -> tensor<4x4xf32> {
    %t = pg.transpose %x perm [1, 0] : tensor<4x4xf32>
    pg.yield %t : tensor<4x4xf32>
  }
  return %0 : tensor<4x4xf32>
}

// -----

// A fusion is one kernel over one index space.
func.func @f(%x: tensor<4xf32>, %y: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{fuses ops of different shapes}}
  %0 = pg.fusion -> tensor<4xf32> {
    %a = pg.exp %x : tensor<4xf32>
    %b = pg.exp %y : tensor<2xf32>
    pg.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// The yielded values give the results their types.
func.func @f(%x: tensor<4xf32>) -> tensor<4xbf16> {
  // expected-error @+1 {{yields 1 values whose types differ from the results'}}
  %0 = pg.fusion -> tensor<4xbf16> {
    %a = pg.exp %x : tensor<4xf32>
    pg.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xbf16>
}

// -----

// A fusion returns what it computes, not what it was given.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{yields a value defined outside its body}}
  %0 = pg.fusion -> tensor<4xf32> {
    %a = pg.exp %x : tensor<4xf32>
    pg.yield %x : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// An empty fusion would be a kernel that does nothing.
func.func @f() {
  // expected-error @+1 {{has no ops to fuse}}
  pg.fusion {
    pg.yield
  }
  return
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expects parent op 'pg.fusion'}}
  pg.yield %x : tensor<4xf32>
}
