// pg-optimizer: train_step accumulates scaled gradients into state; apply_update clips and runs AdamW.
// RUN: pgc-opt %s --split-input-file -pg-optimizer | FileCheck %s
// RUN: pgc-opt %s --split-input-file -pg-optimizer="variant=adamw_hf" | FileCheck %s --check-prefix=HF
// RUN: pgc-opt %s --split-input-file -pg-optimizer="no-decay=fc.*" | FileCheck %s --check-prefix=NODECAY
// RUN: pgc-opt %s --split-input-file -pg-optimizer -verify-each | pgc-opt --split-input-file > /dev/null

// A linear layer as pg-autodiff leaves it. The weight decays, the bias
// (matching the default no-decay glob "*.bias") does not.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: (%[[X:.*]]: tensor<4x3xf32> {pg.name = "x"}, %[[SCALE:.*]]: tensor<f32> {pg.name = "loss_scale"})
// CHECK-SAME: -> (tensor<f32> {pg.name = "loss"})
// CHECK: %[[ACCW:.*]] = pg.state "grad.fc.weight" kind "gradient" : tensor<2x3xf32>
// CHECK: %[[SW:.*]] = pg.broadcast %[[SCALE]] to [2, 3] : tensor<f32>
// CHECK: %[[GW:.*]] = pg.mul %[[DW:.*]], %[[SW]] : tensor<2x3xf32>
// CHECK: %[[NEWW:.*]] = pg.add %[[ACCW]], %[[GW]] : tensor<2x3xf32>
// CHECK: pg.store %[[NEWW]], %[[ACCW]] : tensor<2x3xf32>
// CHECK: %[[ACCB:.*]] = pg.state "grad.fc.bias" kind "gradient" : tensor<2xf32>
// CHECK: pg.store %{{.*}}, %[[ACCB]] : tensor<2xf32>
// CHECK: return %{{.*}} : tensor<f32>

// CHECK-LABEL: func.func @apply_update
// CHECK-SAME: (%[[LR:.*]]: tensor<f32> {pg.name = "lr"}, %[[WD:.*]]: tensor<f32> {pg.name = "weight_decay"}, %[[B1:.*]]: tensor<f32> {pg.name = "beta1"}, %[[B2:.*]]: tensor<f32> {pg.name = "beta2"}, %[[EPS:.*]]: tensor<f32> {pg.name = "eps"}, %[[BC1:.*]]: tensor<f32> {pg.name = "bias_correction1"}, %[[BC2:.*]]: tensor<f32> {pg.name = "bias_correction2"}, %[[MAX:.*]]: tensor<f32> {pg.name = "max_grad_norm"})
// CHECK-SAME: -> (tensor<f32> {pg.name = "grad_norm"})
// CHECK: %[[W:.*]] = pg.param "fc.weight" trainable : tensor<2x3xf32>
// CHECK: %[[GW:.*]] = pg.state "grad.fc.weight" kind "gradient" : tensor<2x3xf32>
// CHECK: %[[MW:.*]] = pg.state "adam.exp_avg.fc.weight" kind "optimizer" : tensor<2x3xf32>
// CHECK: %[[VW:.*]] = pg.state "adam.exp_avg_sq.fc.weight" kind "optimizer" : tensor<2x3xf32>
// CHECK: %[[B:.*]] = pg.param "fc.bias" : tensor<2xf32>
// CHECK: %[[GB:.*]] = pg.state "grad.fc.bias" kind "gradient" : tensor<2xf32>
// Global norm over both accumulators, then coef = min(max / (norm + 1e-6), 1)
// when max > 0.
// CHECK: %[[SQW:.*]] = pg.mul %[[GW]], %[[GW]] : tensor<2x3xf32>
// CHECK: %[[SUMW:.*]] = pg.reduce_sum %[[SQW]] axes [0, 1] : tensor<2x3xf32>
// CHECK: %[[SQB:.*]] = pg.mul %[[GB]], %[[GB]] : tensor<2xf32>
// CHECK: %[[SUMB:.*]] = pg.reduce_sum %[[SQB]] axes [0] : tensor<2xf32>
// CHECK: %[[TOTAL:.*]] = pg.add %[[SUMW]], %[[SUMB]] : tensor<f32>
// CHECK: %[[NORM:.*]] = pg.sqrt %[[TOTAL]] : tensor<f32>
// CHECK: %[[ONE:.*]] = pg.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[TINY:.*]] = pg.constant dense<9.99999997E-7> : tensor<f32>
// CHECK: %[[DEN:.*]] = pg.add %[[NORM]], %[[TINY]] : tensor<f32>
// CHECK: %[[RATIO:.*]] = pg.div %[[MAX]], %[[DEN]] : tensor<f32>
// CHECK: %[[CLAMPED:.*]] = pg.min %[[RATIO]], %[[ONE]] : tensor<f32>
// CHECK: %[[ON:.*]] = pg.compare gt, %[[MAX]], %{{.*}} : tensor<f32>
// CHECK: %[[COEF:.*]] = pg.select %[[ON]], %[[CLAMPED]], %[[ONE]] : tensor<i1>, tensor<f32>
// adamw_torch: step size lr / bc1, decay factor 1 - lr * wd.
// CHECK: %[[SQRTBC2:.*]] = pg.sqrt %[[BC2]] : tensor<f32>
// CHECK: %[[STEP:.*]] = pg.div %[[LR]], %[[BC1]] : tensor<f32>
// CHECK: %[[LRWD:.*]] = pg.mul %[[LR]], %[[WD]] : tensor<f32>
// CHECK: %[[DECAY:.*]] = pg.sub %{{.*}}, %[[LRWD]] : tensor<f32>
// The weight: clipped gradient, moments, decay before the Adam step.
// CHECK: %[[G:.*]] = pg.mul %[[GW]], %{{.*}} : tensor<2x3xf32>
// CHECK: pg.mul %[[MW]], %{{.*}} : tensor<2x3xf32>
// CHECK: %[[M2:.*]] = pg.add
// CHECK: pg.mul %[[VW]], %{{.*}} : tensor<2x3xf32>
// CHECK: %[[V2:.*]] = pg.add
// CHECK: %[[DF:.*]] = pg.broadcast %[[DECAY]] to [2, 3] : tensor<f32>
// CHECK: %[[WDEC:.*]] = pg.mul %[[W]], %[[DF]] : tensor<2x3xf32>
// CHECK: %[[RV:.*]] = pg.sqrt %[[V2]] : tensor<2x3xf32>
// CHECK: %[[VHAT:.*]] = pg.div %[[RV]], %{{.*}} : tensor<2x3xf32>
// CHECK: %[[DENOM:.*]] = pg.add %[[VHAT]], %{{.*}} : tensor<2x3xf32>
// CHECK: %[[RATIO:.*]] = pg.div %[[M2]], %[[DENOM]] : tensor<2x3xf32>
// CHECK: %[[UPD:.*]] = pg.mul %{{.*}}, %[[RATIO]] : tensor<2x3xf32>
// CHECK: %[[W2:.*]] = pg.sub %[[WDEC]], %[[UPD]] : tensor<2x3xf32>
// The bias: no decay factor.
// CHECK-NOT: pg.broadcast %[[DECAY]]
// CHECK: %[[ZERO:.*]] = pg.broadcast %{{.*}} to [2, 3] : tensor<f32>
// CHECK: pg.store %[[M2]], %[[MW]] : tensor<2x3xf32>
// CHECK: pg.store %[[V2]], %[[VW]] : tensor<2x3xf32>
// CHECK: pg.store %[[W2]], %[[W]] : tensor<2x3xf32>
// CHECK: pg.store %[[ZERO]], %[[GW]] : tensor<2x3xf32>
// CHECK: pg.store %{{.*}}, %[[B]] : tensor<2xf32>
// CHECK: pg.store %{{.*}}, %[[GB]] : tensor<2xf32>
// CHECK: return %[[NORM]] : tensor<f32>

// adamw_hf: step size lr * sqrt(bc2) / bc1, eps added to sqrt(v), decay
// p - lr * wd * p after the Adam step.
// HF-LABEL: func.func @apply_update
// HF-SAME: (%[[LR:.*]]: tensor<f32> {pg.name = "lr"}, %[[WD:.*]]: tensor<f32> {pg.name = "weight_decay"}, {{.*}}, %[[BC1:.*]]: tensor<f32> {pg.name = "bias_correction1"}, %[[BC2:.*]]: tensor<f32> {pg.name = "bias_correction2"}
// HF: %[[W:.*]] = pg.param "fc.weight"
// HF: %[[SQRTBC2:.*]] = pg.sqrt %[[BC2]] : tensor<f32>
// HF: %[[NUM:.*]] = pg.mul %[[LR]], %[[SQRTBC2]] : tensor<f32>
// HF: %[[STEP:.*]] = pg.div %[[NUM]], %[[BC1]] : tensor<f32>
// HF: %[[LRWD:.*]] = pg.mul %[[LR]], %[[WD]] : tensor<f32>
// HF: %[[RV:.*]] = pg.sqrt %{{.*}} : tensor<2x3xf32>
// HF: %[[DENOM:.*]] = pg.add %[[RV]], %{{.*}} : tensor<2x3xf32>
// HF: %[[SS:.*]] = pg.broadcast %[[STEP]] to [2, 3] : tensor<f32>
// HF: %[[RATIO:.*]] = pg.div %{{.*}}, %[[DENOM]] : tensor<2x3xf32>
// HF: %[[UPD:.*]] = pg.mul %[[SS]], %[[RATIO]] : tensor<2x3xf32>
// HF: %[[ADAM:.*]] = pg.sub %[[W]], %[[UPD]] : tensor<2x3xf32>
// HF: %[[F:.*]] = pg.broadcast %[[LRWD]] to [2, 3] : tensor<f32>
// HF: %[[DEC:.*]] = pg.mul %[[F]], %[[ADAM]] : tensor<2x3xf32>
// HF: %[[W2:.*]] = pg.sub %[[ADAM]], %[[DEC]] : tensor<2x3xf32>
// HF-NOT: pg.broadcast %[[LRWD]]
// HF: pg.store %[[W2]], %[[W]] : tensor<2x3xf32>

// With no-decay=fc.* nothing decays: the Adam step starts from the weight
// itself.
// NODECAY-LABEL: func.func @apply_update
// NODECAY: %[[W:.*]] = pg.param "fc.weight"
// NODECAY: %[[W2:.*]] = pg.sub %[[W]], %{{.*}} : tensor<2x3xf32>
// NODECAY: pg.store %[[W2]], %[[W]] : tensor<2x3xf32>
func.func @train_step(%x: tensor<4x3xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}, tensor<2x3xf32> {pg.name = "grad.fc.weight"}, tensor<2xf32> {pg.name = "grad.fc.bias"}) {
  %w = pg.param "fc.weight" trainable : tensor<2x3xf32>
  %b = pg.param "fc.bias" : tensor<2xf32>
  %y = pg.matmul %x, %w transpose_rhs : tensor<4x3xf32>, tensor<2x3xf32>
  %bb = pg.broadcast %b to [4, 2] : tensor<2xf32>
  %z = pg.add %y, %bb : tensor<4x2xf32>
  %l = pg.reduce_sum %z axes [0, 1] : tensor<4x2xf32>
  %one = pg.constant dense<1.0> : tensor<f32>
  %dz = pg.broadcast %one to [4, 2] : tensor<f32>
  %db = pg.reduce_sum %dz axes [0] : tensor<4x2xf32>
  %dw = pg.matmul %dz, %x transpose_lhs : tensor<4x2xf32>, tensor<4x3xf32>
  return %l, %dw, %db : tensor<f32>, tensor<2x3xf32>, tensor<2xf32>
}

// -----

// Mixed precision: a bf16 parameter gets f32 accumulator and moments, and
// is cast to f32 for the update and back to bf16 for the store.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[ACC:.*]] = pg.state "grad.emb.weight" kind "gradient" : tensor<8x4xf32>
// CHECK: %[[G32:.*]] = pg.cast %{{.*}} : tensor<8x4xbf16> to f32
// CHECK: pg.mul %[[G32]], %{{.*}} : tensor<8x4xf32>
// CHECK-LABEL: func.func @apply_update
// CHECK-SAME: -> (tensor<f32> {pg.name = "grad_norm"})
// CHECK: %[[W:.*]] = pg.param "emb.weight" trainable init "normal(0.02)" : tensor<8x4xbf16>
// CHECK: pg.state "adam.exp_avg.emb.weight" kind "optimizer" : tensor<8x4xf32>
// CHECK: pg.cast %[[W]] : tensor<8x4xbf16> to f32
// CHECK: %[[BACK:.*]] = pg.cast %{{.*}} : tensor<8x4xf32> to bf16
// CHECK: pg.store %[[BACK]], %[[W]] : tensor<8x4xbf16>
func.func @train_step(%ids: tensor<3xi64> {pg.name = "ids"}) -> (tensor<f32> {pg.name = "loss"}, tensor<8x4xbf16> {pg.name = "grad.emb.weight"}) {
  %e = pg.param "emb.weight" trainable init "normal(0.02)" : tensor<8x4xbf16>
  %h = pg.gather %e[%ids] : tensor<8x4xbf16>, tensor<3xi64>
  %s = pg.reduce_sum %h axes [0, 1] : tensor<3x4xbf16>
  %l = pg.cast %s : tensor<bf16> to f32
  %g = pg.constant dense<1.0> : tensor<8x4xbf16>
  return %l, %g : tensor<f32>, tensor<8x4xbf16>
}

// -----

// f64 parameters keep f64 state and an f64 norm; the f32 inputs are widened.
// CHECK-LABEL: func.func @train_step
// CHECK: pg.state "grad.w" kind "gradient" : tensor<3xf64>
// CHECK: pg.cast %{{.*}} : tensor<f32> to f64
// CHECK-LABEL: func.func @apply_update
// CHECK-SAME: -> (tensor<f64> {pg.name = "grad_norm"})
// CHECK: pg.state "adam.exp_avg_sq.w" kind "optimizer" : tensor<3xf64>
// CHECK: pg.sqrt %{{.*}} : tensor<f64>
// CHECK-NOT: pg.cast %{{.*}} : tensor<3xf64>
// CHECK: return %{{.*}} : tensor<f64>
func.func @train_step(%x: tensor<3xf64> {pg.name = "x"}) -> (tensor<f64> {pg.name = "loss"}, tensor<3xf64> {pg.name = "grad.w"}) {
  %w = pg.param "w" trainable : tensor<3xf64>
  %p = pg.mul %x, %w : tensor<3xf64>
  %l = pg.reduce_sum %p axes [0] : tensor<3xf64>
  return %l, %x : tensor<f64>, tensor<3xf64>
}
