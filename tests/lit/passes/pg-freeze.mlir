// pg-freeze applies a policy to the two-tower toy and removes the backward work frozen parameters needed.
// RUN: pgc-opt %S/Inputs/two-tower.mlir -pg-autodiff -pg-freeze="policy=%S/Inputs/freeze-encoder.yaml" 2>%t.remarks | FileCheck %s --check-prefix=ENCODER
// RUN: FileCheck %s --check-prefix=ENCODER-REPORT < %t.remarks
// RUN: pgc-opt %S/Inputs/two-tower.mlir -pg-autodiff -pg-freeze="policy=%S/Inputs/freeze-decoder-layer0.yaml" 2>%t.remarks0 | FileCheck %s --check-prefix=LAYER0
// RUN: FileCheck %s --check-prefix=LAYER0-REPORT < %t.remarks0
// RUN: pgc-opt %S/Inputs/two-tower.mlir -pg-autodiff -pg-freeze 2>&1 | FileCheck %s --check-prefix=NOPOLICY
// RUN: not pgc-opt %S/Inputs/two-tower.mlir -pg-freeze="policy=%S/Inputs/missing.yaml" 2>&1 | FileCheck %s --check-prefix=MISSING

// Frozen encoder: its gradient result and every encoder backward op are gone,
// and no gradient flows into the encoder's output any more (nothing upstream trains).
// ENCODER: pg.param "encoder.proj.weight" :
// ENCODER: pg.param "decoder.layers.0.proj.weight" trainable
// ENCODER-LABEL: func.func @train_step
// ENCODER-SAME: -> (tensor<f32> {pg.name = "loss"}, tensor<8x8xf32> {pg.name = "grad.decoder.layers.0.proj.weight"}, tensor<8x8xf32> {pg.name = "grad.decoder.layers.1.proj.weight"})
// ENCODER-NOT: pg.module = "encoder"
// ENCODER-NOT: pg.gelu_tanh_grad %{{[0-9]+}}, %{{[0-9]+}} {pg.backward, pg.module = "encoder"}
// ENCODER: return
// ENCODER-REPORT: remark: pg-freeze: decoder: backward ops [[DEC:[0-9]+]] -> [[DEC_AFTER:[0-9]+]], backward MFLOP
// ENCODER-REPORT: remark: pg-freeze: encoder: backward ops 2 -> 0, backward MFLOP 0.{{[0-9]+}} -> 0.000

// Frozen decoder layer 0: its weight-gradient matmul goes, its input-gradient
// matmul stays (the encoder below still trains).
// LAYER0-LABEL: func.func @train_step
// LAYER0-SAME: tensor<8x8xf32> {pg.name = "grad.encoder.proj.weight"}, tensor<8x8xf32> {pg.name = "grad.decoder.layers.1.proj.weight"})
// LAYER0: %[[H:.*]] = pg.gelu_tanh %{{.*}} : tensor<4x8xf32>
// LAYER0: %[[D0:.*]] = pg.matmul %[[H]], %{{.*}} transpose_rhs
// LAYER0: %[[DG0:.*]] = pg.gelu_tanh_grad %[[D0]], %{{.*}} {pg.backward, pg.module = "decoder"}
// LAYER0-NOT: pg.matmul %[[DG0]], %[[H]] transpose_lhs
// LAYER0: pg.matmul %[[DG0]], %{{.*}} {pg.backward, pg.module = "decoder"} : tensor<4x8xf32>, tensor<8x8xf32>
// LAYER0-NOT: pg.matmul %[[DG0]], %[[H]] transpose_lhs
// LAYER0: pg.matmul {{.*}} transpose_lhs {{.*}}pg.module = "encoder"
// LAYER0: return
// LAYER0-REPORT: remark: pg-freeze: decoder: backward ops {{[0-9]+}} -> {{[0-9]+}}
// LAYER0-REPORT: remark: pg-freeze: encoder: backward ops 2 -> 2

// Without a policy the existing flags stand: nothing was marked trainable, so all gradients go.
// NOPOLICY-LABEL: func.func @train_step
// NOPOLICY-SAME: -> (tensor<f32> {pg.name = "loss"})
// NOPOLICY-NOT: pg.backward
// NOPOLICY: return

// MISSING: error: pg-freeze: {{.*}}missing.yaml: cannot open policy file
