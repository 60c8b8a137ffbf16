// Every pg op parses, prints in its custom form, and survives a second round trip unchanged.
// RUN: pgc-opt %s --split-input-file > %t.1
// RUN: pgc-opt %t.1 --split-input-file > %t.2
// RUN: diff %t.1 %t.2
// RUN: pgc-opt %s --split-input-file --mlir-print-op-generic | pgc-opt --split-input-file | FileCheck %s
// RUN: pgc-opt %s --split-input-file | FileCheck %s

// Parameters keep their HF name, trainable flag and initialiser; nf4 storage prints its block layout.
// CHECK-LABEL: func @params
// CHECK: pg.param "language_model.model.layers.0.mlp.gate_proj.weight" trainable init "normal(0.02)" : tensor<128x64xbf16>
// CHECK: pg.param "vision_tower.q_proj.weight" : !pg.nf4<32x32, block = 64, double_quant>
// CHECK: pg.dequant_nf4 %{{.*}} : !pg.nf4<32x32, block = 64, double_quant> to bf16
// CHECK: pg.param "x.weight" : !pg.nf4<3x5, block = 32>
// CHECK: pg.constant dense<5.000000e-01> : tensor<f32>
// CHECK: pg.iota dim 1 : tensor<2x27xi64>
func.func @params() {
  %w = pg.param "language_model.model.layers.0.mlp.gate_proj.weight" trainable init "normal(0.02)" : tensor<128x64xbf16>
  %q = pg.param "vision_tower.q_proj.weight" : !pg.nf4<32x32, block = 64, double_quant>
  %d = pg.dequant_nf4 %q : !pg.nf4<32x32, block = 64, double_quant> to bf16
  %q2 = pg.param "x.weight" : !pg.nf4<3x5, block = 32>
  %c = pg.constant dense<0.5> : tensor<f32>
  %i = pg.iota dim 1 : tensor<2x27xi64>
  return
}

// -----

// Elementwise binary and unary ops over floats and integers.
// CHECK-LABEL: func @elementwise
// CHECK: pg.add %arg0, %arg1 : tensor<4xf32>
// CHECK: pg.sub %arg0, %arg1 : tensor<4xf32>
// CHECK: pg.mul %arg0, %arg1 : tensor<4xf32>
// CHECK: pg.div %arg0, %arg1 : tensor<4xf32>
// CHECK: pg.max %arg0, %arg1 : tensor<4xf32>
// CHECK: pg.min %arg2, %arg2 : tensor<4xi64>
// CHECK: pg.neg %arg2 : tensor<4xi64>
// CHECK: pg.exp %arg0 : tensor<4xf32>
// CHECK: pg.log %arg0 : tensor<4xf32>
// CHECK: pg.sqrt %arg0 : tensor<4xf32>
// CHECK: pg.rsqrt %arg0 : tensor<4xf32>
// CHECK: pg.tanh %arg0 : tensor<4xf32>
// CHECK: pg.gelu_tanh %arg3 : tensor<4xbf16>
func.func @elementwise(%a: tensor<4xf32>, %b: tensor<4xf32>, %i: tensor<4xi64>, %h: tensor<4xbf16>) {
  %0 = pg.add %a, %b : tensor<4xf32>
  %1 = pg.sub %a, %b : tensor<4xf32>
  %2 = pg.mul %a, %b : tensor<4xf32>
  %3 = pg.div %a, %b : tensor<4xf32>
  %4 = pg.max %a, %b : tensor<4xf32>
  %5 = pg.min %i, %i : tensor<4xi64>
  %6 = pg.neg %i : tensor<4xi64>
  %7 = pg.exp %a : tensor<4xf32>
  %8 = pg.log %a : tensor<4xf32>
  %9 = pg.sqrt %a : tensor<4xf32>
  %10 = pg.rsqrt %a : tensor<4xf32>
  %11 = pg.tanh %a : tensor<4xf32>
  %12 = pg.gelu_tanh %h : tensor<4xbf16>
  return
}

// -----

// Comparison gives i1; select and cast keep shapes.
// CHECK-LABEL: func @compare_select_cast
// CHECK: %[[M:.*]] = pg.compare le, %arg0, %arg1 : tensor<2x3xi32>
// CHECK: pg.select %[[M]], %arg2, %arg2 : tensor<2x3xi1>, tensor<2x3xf16>
// CHECK: pg.cast %arg2 : tensor<2x3xf16> to f64
// CHECK: pg.cast %[[M]] : tensor<2x3xi1> to f32
func.func @compare_select_cast(%a: tensor<2x3xi32>, %b: tensor<2x3xi32>, %x: tensor<2x3xf16>) -> tensor<2x3xf32> {
  %m = pg.compare le, %a, %b : tensor<2x3xi32>
  %s = pg.select %m, %x, %x : tensor<2x3xi1>, tensor<2x3xf16>
  %c = pg.cast %x : tensor<2x3xf16> to f64
  %f = pg.cast %m : tensor<2x3xi1> to f32
  return %f : tensor<2x3xf32>
}

// -----

// Reductions drop or keep the reduced axes; cumsum keeps the shape.
// CHECK-LABEL: func @reductions
// CHECK: pg.reduce_sum %arg0 axes [1] keep_dims : tensor<2x3x4xf32>
// CHECK: pg.reduce_max %arg0 axes [0, 2] : tensor<2x3x4xf32>
// CHECK: pg.reduce_mean %arg0 axes [2] : tensor<2x3x4xf32>
// CHECK: pg.cumsum %arg1 axis -1 : tensor<2x5xi64>
func.func @reductions(%x: tensor<2x3x4xf32>, %m: tensor<2x5xi64>) -> (tensor<2x1x4xf32>, tensor<3xf32>, tensor<2x3xf32>) {
  %0 = pg.reduce_sum %x axes [1] keep_dims : tensor<2x3x4xf32>
  %1 = pg.reduce_max %x axes [0, 2] : tensor<2x3x4xf32>
  %2 = pg.reduce_mean %x axes [2] : tensor<2x3x4xf32>
  %3 = pg.cumsum %m axis -1 : tensor<2x5xi64>
  return %0, %1, %2 : tensor<2x1x4xf32>, tensor<3xf32>, tensor<2x3xf32>
}

// -----

// Batched matmul with transposes and a shared rank-2 rhs.
// CHECK-LABEL: func @matmul
// CHECK: pg.matmul %arg0, %arg1 transpose_rhs {acc_type = f32} : tensor<2x5x8xbf16>, tensor<16x8xbf16>
// CHECK: pg.matmul %arg2, %arg2 transpose_lhs : tensor<3x4x6xf64>, tensor<3x4x6xf64>
func.func @matmul(%x: tensor<2x5x8xbf16>, %w: tensor<16x8xbf16>, %y: tensor<3x4x6xf64>) -> (tensor<2x5x16xbf16>, tensor<3x6x6xf64>) {
  %0 = pg.matmul %x, %w transpose_rhs {acc_type = f32} : tensor<2x5x8xbf16>, tensor<16x8xbf16>
  %1 = pg.matmul %y, %y transpose_lhs : tensor<3x4x6xf64>, tensor<3x4x6xf64>
  return %0, %1 : tensor<2x5x16xbf16>, tensor<3x6x6xf64>
}

// -----

// Shape ops infer their result types from their attributes.
// CHECK-LABEL: func @shapes
// CHECK: pg.reshape %arg0 to [3, 8] : tensor<2x3x4xf32>
// CHECK: pg.transpose %arg0 perm [2, 0, 1] : tensor<2x3x4xf32>
// CHECK: pg.broadcast %arg1 to [2, 3, 4] : tensor<4xf32>
// CHECK: pg.slice %arg0 starts [0, 1, 0] limits [2, 3, 4] strides [1, 1, 2] : tensor<2x3x4xf32>
// CHECK: pg.concat %arg0, %arg0 axis 1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>
func.func @shapes(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>) -> (tensor<3x8xf32>, tensor<4x2x3xf32>, tensor<2x3x4xf32>, tensor<2x2x2xf32>, tensor<2x6x4xf32>) {
  %0 = pg.reshape %x to [3, 8] : tensor<2x3x4xf32>
  %1 = pg.transpose %x perm [2, 0, 1] : tensor<2x3x4xf32>
  %2 = pg.broadcast %b to [2, 3, 4] : tensor<4xf32>
  %3 = pg.slice %x starts [0, 1, 0] limits [2, 3, 4] strides [1, 1, 2] : tensor<2x3x4xf32>
  %4 = pg.concat %x, %x axis 1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>
  return %0, %1, %2, %3, %4 : tensor<3x8xf32>, tensor<4x2x3xf32>, tensor<2x3x4xf32>, tensor<2x2x2xf32>, tensor<2x6x4xf32>
}

// -----

// Embedding lookup and writing image features into token positions.
// CHECK-LABEL: func @gather_scatter
// CHECK: pg.gather %arg0[%arg1] : tensor<320x64xf32>, tensor<2x27xi64>
// CHECK: pg.scatter %{{.*}}[%arg2] = %arg3 : tensor<2x27x64xf32>, tensor<2x16xi64>, tensor<2x16x64xf32>
func.func @gather_scatter(%table: tensor<320x64xf32>, %ids: tensor<2x27xi64>, %pos: tensor<2x16xi64>, %feat: tensor<2x16x64xf32>) -> tensor<2x27x64xf32> {
  %e = pg.gather %table[%ids] : tensor<320x64xf32>, tensor<2x27xi64>
  %m = pg.scatter %e[%pos] = %feat : tensor<2x27x64xf32>, tensor<2x16xi64>, tensor<2x16x64xf32>
  return %m : tensor<2x27x64xf32>
}

// -----

// The composite ops: norms, softmax, rope, grouped-query attention, cross-entropy.
// CHECK-LABEL: func @composites
// CHECK: pg.softmax %arg0 axis -1 : tensor<2x27x64xf32>
// CHECK: pg.layer_norm %arg0, %arg1, %arg1 eps 9.99999997E-7 : tensor<2x27x64xf32>, tensor<64xf32>
// CHECK: pg.rms_norm %arg0, %arg1 eps 9.99999997E-7 unit_offset : tensor<2x27x64xf32>, tensor<64xf32>
// CHECK: pg.rope %arg2, %arg4 theta 1.000000e+04 : tensor<2x4x27x16xf32>, tensor<2x27xi64>
// CHECK: pg.attention %arg2, %arg3, %arg3, %arg5 scale 2.500000e-01 : tensor<2x4x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x27xi1>
// CHECK: pg.attention %arg2, %arg3, %arg3, %arg6 scale 2.500000e-01 : tensor<2x4x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x16xf32>, tensor<1x4x27x27xf32>
// CHECK: pg.cross_entropy %arg7, %arg8 ignore -100 : tensor<52x320xf32>, tensor<52xi64>
func.func @composites(%x: tensor<2x27x64xf32>, %w: tensor<64xf32>, %q: tensor<2x4x27x16xf32>, %k: tensor<2x1x27x16xf32>, %pos: tensor<2x27xi64>, %mask: tensor<2x1x27x27xi1>, %bias: tensor<1x4x27x27xf32>, %logits: tensor<52x320xf32>, %labels: tensor<52xi64>) -> tensor<f32> {
  %0 = pg.softmax %x axis -1 : tensor<2x27x64xf32>
  %1 = pg.layer_norm %x, %w, %w eps 1.0e-6 : tensor<2x27x64xf32>, tensor<64xf32>
  %2 = pg.rms_norm %x, %w eps 1.0e-6 unit_offset : tensor<2x27x64xf32>, tensor<64xf32>
  %3 = pg.rope %q, %pos theta 10000.0 : tensor<2x4x27x16xf32>, tensor<2x27xi64>
  %4 = pg.attention %q, %k, %k, %mask scale 0.25 : tensor<2x4x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x27xi1>
  %5 = pg.attention %q, %k, %k, %bias scale 0.25 : tensor<2x4x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x16xf32>, tensor<1x4x27x27xf32>
  %6 = pg.cross_entropy %logits, %labels ignore -100 : tensor<52x320xf32>, tensor<52xi64>
  return %6 : tensor<f32>
}

// -----

// Training state is read with pg.state and written with pg.store.
// CHECK-LABEL: func @state
// CHECK: %[[W:.*]] = pg.param "fc.weight" trainable : tensor<2x3xf32>
// CHECK: %[[M:.*]] = pg.state "adam.exp_avg.fc.weight" kind "optimizer" : tensor<2x3xf32>
// CHECK: pg.store %{{.*}}, %[[M]] : tensor<2x3xf32>
// CHECK: pg.store %{{.*}}, %[[W]] : tensor<2x3xf32>
func.func @state() {
  %w = pg.param "fc.weight" trainable : tensor<2x3xf32>
  %m = pg.state "adam.exp_avg.fc.weight" kind "optimizer" : tensor<2x3xf32>
  %m2 = pg.add %m, %w : tensor<2x3xf32>
  %w2 = pg.sub %w, %m2 : tensor<2x3xf32>
  pg.store %m2, %m : tensor<2x3xf32>
  pg.store %w2, %w : tensor<2x3xf32>
  return
}

// -----

// The backward ops pg-autodiff emits round-trip too.
// CHECK-LABEL: func @backward
// CHECK: pg.gelu_tanh_grad %arg0, %arg0 : tensor<2x4xf32>
// CHECK: pg.softmax_grad %arg0, %arg0 axis -1 : tensor<2x4xf32>
// CHECK: pg.layer_norm_grad %arg0, %arg1, %arg0 eps 9.99999997E-7 : tensor<2x4xf32>, tensor<4xf32>
// CHECK: pg.rms_norm_grad %arg0, %arg1, %arg0 eps 9.99999997E-7 unit_offset : tensor<2x4xf32>, tensor<4xf32>
// CHECK: pg.rope_grad %arg2, %arg3 theta 1.000000e+04 : tensor<1x2x3x4xf32>, tensor<1x3xi64>
// CHECK: pg.attention_grad %arg2, %arg4, %arg4, %arg5, %arg2 scale 5.000000e-01
// CHECK: pg.cross_entropy_grad %arg0, %arg6, %arg7 ignore -100 : tensor<2x4xf32>, tensor<2xi64>, tensor<f32>
// CHECK: pg.scatter_add %arg6, %arg0 : tensor<2xi64>, tensor<2x4xf32> -> tensor<9x4xf32>
func.func @backward(%x: tensor<2x4xf32>, %w: tensor<4xf32>, %q: tensor<1x2x3x4xf32>, %p: tensor<1x3xi64>, %k: tensor<1x1x3x4xf32>, %m: tensor<1x1x3x3xi1>, %y: tensor<2xi64>, %d: tensor<f32>) {
  %0 = pg.gelu_tanh_grad %x, %x : tensor<2x4xf32>
  %1 = pg.softmax_grad %x, %x axis -1 : tensor<2x4xf32>
  %2:3 = pg.layer_norm_grad %x, %w, %x eps 1.0e-6 : tensor<2x4xf32>, tensor<4xf32>
  %3:2 = pg.rms_norm_grad %x, %w, %x eps 1.0e-6 unit_offset : tensor<2x4xf32>, tensor<4xf32>
  %4 = pg.rope_grad %q, %p theta 1.0e4 : tensor<1x2x3x4xf32>, tensor<1x3xi64>
  %5:3 = pg.attention_grad %q, %k, %k, %m, %q scale 0.5 : tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x3xi1>, tensor<1x2x3x4xf32>
  %6 = pg.cross_entropy_grad %x, %y, %d ignore -100 : tensor<2x4xf32>, tensor<2xi64>, tensor<f32>
  %7 = pg.scatter_add %y, %x : tensor<2xi64>, tensor<2x4xf32> -> tensor<9x4xf32>
  return
}

// -----

// Dropout keeps its input's type; the key is the (seed, counter) pair.
// CHECK-LABEL: func @dropout
// CHECK: pg.dropout %arg0, %arg1 p 1.000000e-01 site "layers.0.q_proj" : tensor<4x8xf32>, tensor<2xi64>
// CHECK: pg.dropout %arg2, %arg1 p 5.000000e-01 site "b#1" : tensor<3xbf16>, tensor<2xi64>
func.func @dropout(%x: tensor<4x8xf32>, %key: tensor<2xi64>, %h: tensor<3xbf16>) -> (tensor<4x8xf32>, tensor<3xbf16>) {
  %0 = pg.dropout %x, %key p 0.1 site "layers.0.q_proj" : tensor<4x8xf32>, tensor<2xi64>
  %1 = pg.dropout %h, %key p 0.5 site "b#1" : tensor<3xbf16>, tensor<2xi64>
  return %0, %1 : tensor<4x8xf32>, tensor<3xbf16>
}

// -----

// A fusion reads values defined above it and yields what it computes.
// CHECK-LABEL: func @fusion
// CHECK: %[[R:.*]]:2 = pg.fusion -> tensor<2x3xbf16>, tensor<2x3xi1> {
// CHECK-NEXT: %[[E:.*]] = pg.exp %arg0 : tensor<2x3xf32>
// CHECK-NEXT: %[[C:.*]] = pg.cast %[[E]] : tensor<2x3xf32> to bf16
// CHECK-NEXT: %[[M:.*]] = pg.compare gt, %[[E]], %arg0 : tensor<2x3xf32>
// CHECK-NEXT: pg.yield %[[C]], %[[M]] : tensor<2x3xbf16>, tensor<2x3xi1>
// CHECK-NEXT: }
// CHECK-NEXT: return %[[R]]#0
func.func @fusion(%x: tensor<2x3xf32>) -> tensor<2x3xbf16> {
  %r:2 = pg.fusion -> tensor<2x3xbf16>, tensor<2x3xi1> {
    %e = pg.exp %x : tensor<2x3xf32>
    %c = pg.cast %e : tensor<2x3xf32> to bf16
    %m = pg.compare gt, %e, %x : tensor<2x3xf32>
    pg.yield %c, %m : tensor<2x3xbf16>, tensor<2x3xi1>
  }
  return %r#0 : tensor<2x3xbf16>
}
