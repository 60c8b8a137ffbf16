// pg-quantize-nf4 stores targeted frozen linear weights as NF4 and dequantizes them in front of each matmul.
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-quantize-nf4="policy=%S/Inputs/nf4-linears.yaml" | FileCheck %s
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-quantize-nf4="policy=%S/Inputs/nf4-f32-compute.yaml" | FileCheck %s --check-prefix=F32
// RUN: pgc-opt %S/Inputs/lora-block.mlir -pg-insert-lora="policy=%S/Inputs/qlora-both.yaml" -pg-quantize-nf4="policy=%S/Inputs/qlora-both.yaml" | FileCheck %s --check-prefix=QLORA
// RUN: not pgc-opt %S/Inputs/lora-block.mlir -pg-quantize-nf4="policy=%S/Inputs/nf4-trainable.yaml" 2>&1 | FileCheck %s --check-prefix=TRAINABLE
// RUN: not pgc-opt %S/Inputs/lora-block.mlir -pg-quantize-nf4="policy=%S/Inputs/nf4-tied.yaml" 2>&1 | FileCheck %s --check-prefix=TIED
// RUN: not pgc-opt %S/Inputs/lora-block.mlir -pg-quantize-nf4="policy=%S/Inputs/nf4-bad-block.yaml" 2>&1 | FileCheck %s --check-prefix=BLOCK

// Both projections become NF4 params of the same name; the bias, the norm and
// the tied embedding stay bf16.
// CHECK-LABEL: func.func @forward
// CHECK: %[[WQ:.*]] = pg.param "enc.self_attn.q_proj.weight" init "normal(0.02)" : !pg.nf4<96x96, block = 64, double_quant>
// CHECK: pg.param "enc.self_attn.q_proj.bias" init "zeros" : tensor<96xbf16>
// CHECK: %[[WO:.*]] = pg.param "dec.self_attn.o_proj.weight" init "normal(0.02)" : !pg.nf4<96x96, block = 64, double_quant>
// CHECK: pg.param "embed_tokens.weight" init "normal(0.02)" : tensor<10x96xbf16>
// CHECK: %[[DQ:.*]] = pg.dequant_nf4 %[[WQ]] : !pg.nf4<96x96, block = 64, double_quant> to bf16
// CHECK-NEXT: pg.matmul %arg0, %[[DQ]] transpose_rhs : tensor<3x96xbf16>, tensor<96x96xbf16>
// CHECK: %[[DO:.*]] = pg.dequant_nf4 %[[WO]] : !pg.nf4<96x96, block = 64, double_quant> to bf16
// CHECK-NEXT: pg.matmul %{{.*}}, %[[DO]] transpose_rhs : tensor<3x96xbf16>, tensor<96x96xbf16>
// CHECK-NOT: dequant_nf4
// CHECK: return

// Compute dtype f32 on a bf16 model: x and the product are cast around an f32
// matmul, as bitsandbytes' Linear4bit does.
// F32: %[[W:.*]] = pg.param "enc.self_attn.q_proj.weight" init "normal(0.02)" : !pg.nf4<96x96, block = 32>
// F32: pg.param "dec.self_attn.o_proj.weight" init "normal(0.02)" : tensor<96x96xbf16>
// F32: %[[D:.*]] = pg.dequant_nf4 %[[W]] : !pg.nf4<96x96, block = 32> to f32
// F32-NEXT: %[[X:.*]] = pg.cast %arg0 : tensor<3x96xbf16> to f32
// F32-NEXT: %[[P:.*]] = pg.matmul %[[X]], %[[D]] transpose_rhs : tensor<3x96xf32>, tensor<96x96xf32>
// F32-NEXT: pg.cast %[[P]] : tensor<3x96xf32> to bf16

// QLoRA: the adapters read x, the base matmul reads the dequantized NF4 weight.
// QLORA: %[[W:.*]] = pg.param "enc.self_attn.q_proj.weight" init "normal(0.02)" : !pg.nf4<96x96, block = 64, double_quant>
// QLORA: pg.param "enc.self_attn.q_proj.lora_A.weight" trainable
// QLORA: %[[D:.*]] = pg.dequant_nf4 %[[W]]
// QLORA-NEXT: pg.matmul %arg0, %[[D]] transpose_rhs
// QLORA: pg.cast %arg0 : tensor<3x96xbf16> to f32

// TRAINABLE: error: pg-quantize-nf4: nf4 target 'dec.self_attn.o_proj.weight' is trainable
// TIED: error: pg-quantize-nf4: nf4 target 'embed_tokens.weight' is not a linear weight
// BLOCK: error: pg-quantize-nf4: {{.*}}nf4-bad-block.yaml:3: quantize block must be a power of two in [32, 4096], got 100
