// pg-insert-lora adds peft LoRA adapters to the targeted linears, freezes what they wrap and refuses bad policies.
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-qk.yaml" | FileCheck %s
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-rslora.json" | FileCheck %s --check-prefix=RSLORA
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-glob.yaml" | FileCheck %s --check-prefix=GLOB
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-regex.json" | FileCheck %s --check-prefix=REGEX
// RUN: not pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-norm.yaml" 2>&1 | FileCheck %s --check-prefix=NORM
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-dropout.yaml" | FileCheck %s --check-prefix=DROPOUT
// RUN: not pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-unknown-key.yaml" 2>&1 | FileCheck %s --check-prefix=KEY
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/lora-typo.yaml" 2>&1 >/dev/null | FileCheck %s --check-prefix=TYPO

// The settings a peft adapter_config.json needs ride on the module for the
// lowering: r, alpha, dropout, rsLoRA and peft's target_modules.
// CHECK: module attributes {pg.lora = {lora_alpha = 8.000000e+00 : f64, lora_dropout = 0.000000e+00 : f64, r = 4 : i64, target_modules = ["q_proj", "o_proj"], use_rslora = false}}
// GLOB: module attributes {pg.lora = {lora_alpha = 3.000000e+00 : f64, lora_dropout = 0.000000e+00 : f64, r = 2 : i64, target_modules = ["enc.self_attn.q_proj"], use_rslora = false}}
// REGEX: module attributes {pg.lora = {lora_alpha = 1.600000e+01 : f64, lora_dropout = 0.000000e+00 : f64, r = 2 : i64, target_modules = ".*\\.(q|o)_proj", use_rslora = false}}

// Adapters next to the weight they wrap: A [r, in] kaiming-uniform with bound
// 1/sqrt(96), B [out, r] zeros, both f32 and trainable; every base param frozen.
// CHECK-LABEL: func.func @forward
// CHECK: pg.param "enc.self_attn.q_proj.weight" init "normal(0.02)" : tensor<96x96xbf16>
// CHECK-NEXT: %[[A:.*]] = pg.param "enc.self_attn.q_proj.lora_A.weight" trainable init "uniform(-0.1020620726159657{{[0-9]*}},0.1020620726159657{{[0-9]*}})" : tensor<4x96xf32>
// CHECK-NEXT: %[[B:.*]] = pg.param "enc.self_attn.q_proj.lora_B.weight" trainable init "zeros" : tensor<96x4xf32>
// CHECK: pg.param "enc.self_attn.q_proj.bias" init "zeros" : tensor<96xbf16>
// CHECK: pg.param "dec.self_attn.o_proj.lora_A.weight" trainable
// CHECK: pg.param "dec.self_attn.o_proj.lora_B.weight" trainable
// CHECK: pg.param "dec.input_layernorm.weight" init
// CHECK-NOT: lora
// The update is added after the bias, as peft adds it to base_layer(x):
// CHECK: %[[Q:.*]] = pg.matmul %arg0, %{{.*}} transpose_rhs : tensor<3x96xbf16>, tensor<96x96xbf16>
// CHECK: %[[QB:.*]] = pg.add %[[Q]], %{{.*}} : tensor<3x96xbf16>
// CHECK: %[[XF:.*]] = pg.cast %arg0 : tensor<3x96xbf16> to f32
// CHECK: %[[DOWN:.*]] = pg.matmul %[[XF]], %[[A]] transpose_rhs : tensor<3x96xf32>, tensor<4x96xf32>
// CHECK: %[[UP:.*]] = pg.matmul %[[DOWN]], %[[B]] transpose_rhs : tensor<3x4xf32>, tensor<96x4xf32>
// CHECK: %[[S:.*]] = pg.constant dense<2.000000e+00> : tensor<f32>
// CHECK: %[[SB:.*]] = pg.broadcast %[[S]] to [3, 96] : tensor<f32>
// CHECK: %[[SCALED:.*]] = pg.mul %[[UP]], %[[SB]] : tensor<3x96xf32>
// CHECK: %[[BACK:.*]] = pg.cast %[[SCALED]] : tensor<3x96xf32> to bf16
// CHECK: %[[SUM:.*]] = pg.add %[[QB]], %[[BACK]] : tensor<3x96xbf16>
// CHECK: pg.mul %[[SUM]], %{{.*}} : tensor<3x96xbf16>
// The tied embedding used as the output layer gets no adapter:
// CHECK: pg.matmul %{{.*}}, %{{.*}} transpose_rhs : tensor<3x96xbf16>, tensor<10x96xbf16>
// CHECK-NEXT: return

// peft's adapter_config.json: use_rslora gives scaling alpha / sqrt(r) = 4 / 2.
// RSLORA: module attributes {pg.lora = {lora_alpha = 4.000000e+00 : f64, lora_dropout = 0.000000e+00 : f64, r = 4 : i64, target_modules = ["q_proj"], use_rslora = true}}
// RSLORA: pg.param "enc.self_attn.q_proj.lora_A.weight" trainable
// RSLORA-NOT: o_proj.lora_A
// RSLORA: pg.constant dense<2.000000e+00> : tensor<f32>

// NORM: error: pg-insert-lora: lora target 'dec.input_layernorm' is not a linear layer
// Dropout (peft's lora_dropout) on the adapter's f32 input only, keyed by a
// new last argument; the base matmul keeps the undropped x.
// DROPOUT: module attributes {pg.lora = {lora_alpha = 8.000000e+00 : f64, lora_dropout = 1.000000e-01 : f64
// DROPOUT: func.func @forward(%arg0: tensor<3x96xbf16> {pg.name = "x"}, %arg1: tensor<3xi32> {pg.name = "ids"}, %[[SEEDS:.*]]: tensor<2xi64> {pg.name = "dropout_key"})
// DROPOUT: %[[A:.*]] = pg.param "enc.self_attn.q_proj.lora_A.weight" trainable
// DROPOUT: pg.matmul %arg0, %{{.*}} transpose_rhs : tensor<3x96xbf16>, tensor<96x96xbf16>
// DROPOUT: %[[XF:.*]] = pg.cast %arg0 : tensor<3x96xbf16> to f32
// DROPOUT-NEXT: %[[XD:.*]] = pg.dropout %[[XF]], %[[SEEDS]] p 1.000000e-01 site "enc.self_attn.q_proj" : tensor<3x96xf32>, tensor<2xi64>
// DROPOUT-NEXT: pg.matmul %[[XD]], %[[A]] transpose_rhs : tensor<3x96xf32>, tensor<4x96xf32>
// DROPOUT-NOT: pg.dropout
// KEY: error: pg-insert-lora: {{.*}}lora-unknown-key.yaml:2: unknown lora key 'rank'
// TYPO-DAG: warning: pg-insert-lora: {{.*}}lora-typo.yaml: rule 'text_tower.**' matches no parameter
// TYPO-DAG: warning: pg-insert-lora: {{.*}}lora-typo.yaml: lora target 'qproj' matches no module
