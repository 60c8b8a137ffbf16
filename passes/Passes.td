// Declarations of every pg pass, each with an IR example; one .cpp per pass in this folder.
#ifndef PGC_PASSES_TD
#define PGC_PASSES_TD

include "mlir/Pass/PassBase.td"

def PgAutodiff : Pass<"pg-autodiff", "::mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation: add a function returning parameter gradients";
  let description = [{
    From the function `function` whose result `loss` is a scalar float, builds
    a new function `output` with the same inputs that returns every result of
    `function` followed by `grad.<name>` for each float parameter (or, with
    `trainable-only`, each parameter marked `trainable`). The backward pass
    walks the forward ops in reverse and applies each op's vector-Jacobian
    product; a value used several times (a tied embedding) sums its
    gradients. Only values that depend on a parameter get gradients, so
    integer inputs, masks and input activations get none. Backward ops carry
    `pg.backward` and `pg.module` (the top-level module of the forward op
    they differentiate) for pg-freeze's report.

    Before:
    ```mlir
    func.func @forward(%x: tensor<4x3xf32> {pg.name = "x"}) -> (tensor<f32> {pg.name = "loss"}) {
      %w = pg.param "fc.weight" trainable : tensor<2x3xf32>
      %y = pg.matmul %x, %w transpose_rhs : tensor<4x3xf32>, tensor<2x3xf32>
      %l = pg.reduce_sum %y axes [0, 1] : tensor<4x2xf32>
      return %l : tensor<f32>
    }
    ```
    After (`@forward` is kept):
    ```mlir
    func.func @train_step(%x: tensor<4x3xf32> {pg.name = "x"})
        -> (tensor<f32> {pg.name = "loss"}, tensor<2x3xf32> {pg.name = "grad.fc.weight"}) {
      ... forward ops ...
      %one = pg.constant dense<1.0> : tensor<f32>
      %dy = pg.broadcast ... : tensor<4x2xf32>                  // d l / d y
      %dw = pg.matmul %dy, %x transpose_lhs : tensor<4x2xf32>, tensor<4x3xf32>
      return %l, %dw : tensor<f32>, tensor<2x3xf32>
    }
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", "\"forward\"",
           "Function to differentiate">,
    Option<"lossName", "loss", "std::string", "\"loss\"",
           "Name (pg.name) of the scalar result to differentiate">,
    Option<"output", "output", "std::string", "\"train_step\"",
           "Name of the function to create">,
    Option<"trainableOnly", "trainable-only", "bool", "false",
           "Return gradients only for parameters marked trainable">,
  ];
  let dependentDialects = ["::mlir::pg::PgDialect"];
}

def PgFreeze : Pass<"pg-freeze", "::mlir::ModuleOp"> {
  let summary = "Apply a freeze/train policy and prune the backward work it makes useless";
  let description = [{
    Marks every `pg.param` trainable or frozen by the policy file `policy`
    (ordered `freeze`/`train` glob rules over parameter names; without a
    file, the existing `trainable` flags stand; nf4 weights are always
    frozen). In the training function `function` it then drops the
    `grad.<name>` results of frozen parameters and erases every backward op
    that no longer contributes to a returned gradient: weight-gradient
    matmuls of frozen layers, and the whole backward of a tower with nothing
    trainable upstream. Emits one remark per top-level module with backward
    ops and estimated FLOPs before and after.

    Before (policy `freeze: ["encoder.**"]`):
    ```mlir
    func.func @train_step(...) -> (tensor<f32> {pg.name = "loss"},
        tensor<8x8xf32> {pg.name = "grad.encoder.weight"},
        tensor<8x8xf32> {pg.name = "grad.decoder.weight"}) {
      ...
      %dh = pg.matmul %dy, %wd {pg.backward, pg.module = "decoder"} ...
      %dwe = pg.matmul %dh, %x transpose_lhs {pg.backward, pg.module = "encoder"} ...
      %dwd = pg.matmul %dy, %h transpose_lhs {pg.backward, pg.module = "decoder"} ...
      return %loss, %dwe, %dwd : ...
    }
    ```
    After: `grad.encoder.weight` and the ops computing `%dh` and `%dwe` are
    gone; remark: `encoder: backward ops 2 -> 0, backward MFLOP ... -> 0`.
  }];
  let options = [
    Option<"policy", "policy", "std::string", "\"\"",
           "YAML policy file (freeze/train glob rules)">,
    Option<"function", "function", "std::string", "\"train_step\"",
           "Training function to prune">,
  ];
}

def PgOptimizer : Pass<"pg-optimizer", "::mlir::ModuleOp"> {
  let summary = "AdamW with Hugging Face semantics: gradient accumulation, clipping and update functions";
  let description = [{
    Turns the gradients that `function` (pg-autodiff's `train_step`) returns
    into training state. Each result `grad.<name>` whose `<name>` is a
    pg.param of the function marks that parameter as one the optimizer
    updates (pg-autodiff and pg-freeze decide which parameters those are).

    `train_step` gets a last input `loss_scale` (rank-0 f32: the Trainer's
    1 / gradient_accumulation_steps), adds `grad * loss_scale` to the
    accumulator `pg.state "grad.<name>" kind "gradient"` (f32, or f64 for an
    f64 parameter) and returns only its other results.

    A new function `output` (`apply_update`) takes rank-0 f32 inputs `lr`,
    `weight_decay`, `beta1`, `beta2`, `eps`, `bias_correction1`,
    `bias_correction2` (1 - beta^t, computed by the caller) and
    `max_grad_norm`. It clips all accumulators together as
    torch.nn.utils.clip_grad_norm_ (coef = min(1, max / (norm + 1e-6)); no
    clipping when max_grad_norm <= 0), applies AdamW with the moments
    `pg.state "adam.exp_avg.<name>"` / `"adam.exp_avg_sq.<name>"` (kind
    `optimizer`, dtype of the accumulator), stores each parameter back in
    its own dtype, zeroes the accumulators and returns `grad_norm`, the
    norm before clipping.

    `variant=adamw_torch` is torch.optim.AdamW: p *= 1 - lr*wd, then
    p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps). `variant=adamw_hf` is
    transformers' former AdamW: p -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) +
    eps), then p -= lr * wd * p. Parameters whose lower-cased name matches a
    glob of `no-decay` get no weight decay (the Trainer's rule for biases and
    norm weights).

    Before (after pg-autodiff):
    ```mlir
    func.func @train_step(%x: tensor<4x3xf32> {pg.name = "x"})
        -> (tensor<f32> {pg.name = "loss"}, tensor<2x3xf32> {pg.name = "grad.fc.weight"}) {
      %w = pg.param "fc.weight" trainable : tensor<2x3xf32>
      ...
      return %l, %dw : tensor<f32>, tensor<2x3xf32>
    }
    ```
    After:
    ```mlir
    func.func @train_step(%x: tensor<4x3xf32> {pg.name = "x"},
                          %scale: tensor<f32> {pg.name = "loss_scale"})
        -> (tensor<f32> {pg.name = "loss"}) {
      ...
      %acc = pg.state "grad.fc.weight" kind "gradient" : tensor<2x3xf32>
      %s = pg.broadcast %scale to [2, 3] : tensor<f32>
      %scaled = pg.mul %dw, %s : tensor<2x3xf32>
      %sum = pg.add %acc, %scaled : tensor<2x3xf32>
      pg.store %sum, %acc : tensor<2x3xf32>
      return %l : tensor<f32>
    }
    func.func @apply_update(%lr: tensor<f32> {pg.name = "lr"}, ...,
                            %max_norm: tensor<f32> {pg.name = "max_grad_norm"})
        -> (tensor<f32> {pg.name = "grad_norm"}) {
      %w = pg.param "fc.weight" trainable : tensor<2x3xf32>
      %acc = pg.state "grad.fc.weight" kind "gradient" : tensor<2x3xf32>
      %m = pg.state "adam.exp_avg.fc.weight" kind "optimizer" : tensor<2x3xf32>
      %v = pg.state "adam.exp_avg_sq.fc.weight" kind "optimizer" : tensor<2x3xf32>
      ... norm, clip coefficient, moments, decayed and updated %w2 ...
      pg.store %m2, %m : tensor<2x3xf32>
      pg.store %v2, %v : tensor<2x3xf32>
      pg.store %w2, %w : tensor<2x3xf32>
      pg.store %zero, %acc : tensor<2x3xf32>
      return %norm : tensor<f32>
    }
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", "\"train_step\"",
           "Function returning grad.<name> results (from pg-autodiff)">,
    Option<"output", "output", "std::string", "\"apply_update\"",
           "Name of the update function to create">,
    Option<"variant", "variant", "std::string", "\"adamw_torch\"",
           "adamw_torch (torch.optim.AdamW) or adamw_hf (transformers' AdamW)">,
    Option<"noDecay", "no-decay", "std::string", "\"*.bias,*norm*\"",
           "Comma-separated globs of lower-cased parameter names without "
           "weight decay">,
  ];
  let dependentDialects = ["::mlir::pg::PgDialect"];
}

def PgInsertLora : Pass<"pg-insert-lora", "::mlir::ModuleOp"> {
  let summary = "Add peft LoRA adapters to the linear layers a policy targets";
  let description = [{
    For every linear layer (a `<module>.weight` param used as the
    `transpose_rhs` operand of matmuls, possibly through `pg.dequant_nf4`)
    whose module the policy's `lora` section targets, adds trainable params
    `<module>.lora_A.weight` [r, in] (init `uniform(-1/sqrt(in),
    1/sqrt(in))`: kaiming-uniform with a = sqrt(5)) and
    `<module>.lora_B.weight` [out, r] (init `zeros`) and rewrites
    y = base(x) (+ bias) into y + scaling * B(A(x)), scaling = alpha / r
    (alpha / sqrt(r) with `rslora`). Adapters are f32 (f64 in an f64 model);
    x is cast to that dtype and the update back to y's. Targets match as
    peft's list form does (module name equal to the target or ending in
    "." + target) or, with `*`/`?`, as globs. Then marks every param by the
    policy: adapters train, the weights they wrap are frozen, the rest
    follows the freeze/train rules. With `dropout: p` > 0 the adapter's
    input is `pg.dropout %x, %key p <p> site "<module>"` (peft applies
    nn.Dropout to x on the LoRA branch only), `%key` being a new function
    argument `dropout_key` (tensor<2xi64>: run seed, micro-batch counter);
    run pg-eval-mode on the functions that evaluate. Errors: a target that
    is not a linear layer, an unreadable policy. Warnings: a rule or target
    that matches nothing. Run before pg-autodiff.

    Before (policy `lora: {r: 2, alpha: 4, targets: [q_proj]}`):
    ```mlir
    %w = pg.param "attn.q_proj.weight" : tensor<8x4xbf16>
    %y = pg.matmul %x, %w transpose_rhs : tensor<3x4xbf16>, tensor<8x4xbf16>
    ```
    After:
    ```mlir
    %w = pg.param "attn.q_proj.weight" : tensor<8x4xbf16>
    %a = pg.param "attn.q_proj.lora_A.weight" trainable init "uniform(-0.5,0.5)" : tensor<2x4xf32>
    %b = pg.param "attn.q_proj.lora_B.weight" trainable init "zeros" : tensor<8x2xf32>
    %y = pg.matmul %x, %w transpose_rhs : tensor<3x4xbf16>, tensor<8x4xbf16>
    %xf = pg.cast %x : tensor<3x4xbf16> to f32
    %d = pg.matmul %xf, %a transpose_rhs : tensor<3x4xf32>, tensor<2x4xf32>
    %u = pg.matmul %d, %b transpose_rhs : tensor<3x2xf32>, tensor<8x2xf32>
    %s = pg.constant dense<2.0> : tensor<f32>
    %sb = pg.broadcast %s to [3, 8] : tensor<f32>
    %us = pg.mul %u, %sb : tensor<3x8xf32>
    %ub = pg.cast %us : tensor<3x8xf32> to bf16
    %y2 = pg.add %y, %ub : tensor<3x8xbf16>      // replaces %y
    ```
  }];
  let options = [
    Option<"policy", "policy", "std::string", "\"\"",
           "Policy file: YAML with a lora section, or a peft adapter_config.json">,
  ];
  let dependentDialects = ["::mlir::pg::PgDialect"];
}

def PgQuantizeNf4 : Pass<"pg-quantize-nf4", "::mlir::ModuleOp"> {
  let summary = "Store frozen linear weights as bitsandbytes NF4 and dequantize them per matmul";
  let description = [{
    For every `<module>.weight` whose module matches the policy's
    `quantize.nf4` targets, replaces the float param by an NF4 param of the
    same name (`!pg.nf4<OxI, block = B[, double_quant]>`) and puts a
    `pg.dequant_nf4` to the compute dtype in front of each matmul that uses
    it. With a compute dtype other than the weight's, x is cast to it and
    the product cast back (bitsandbytes' Linear4bit). The runtime quantizes
    the checkpoint's bf16/f32 tensor at load time exactly as bitsandbytes
    does. Errors: a target used other than as a linear weight (a tied
    embedding), a trainable target. Warning: a target that matches nothing.

    Before (policy `quantize: {nf4: ["**.fc1"], block: 64, double_quant: true}`):
    ```mlir
    %w = pg.param "mlp.fc1.weight" : tensor<16x8xbf16>
    %y = pg.matmul %x, %w transpose_rhs : tensor<3x8xbf16>, tensor<16x8xbf16>
    ```
    After:
    ```mlir
    %q = pg.param "mlp.fc1.weight" : !pg.nf4<16x8, block = 64, double_quant>
    %w = pg.dequant_nf4 %q : !pg.nf4<16x8, block = 64, double_quant> to bf16
    %y = pg.matmul %x, %w transpose_rhs : tensor<3x8xbf16>, tensor<16x8xbf16>
    ```
  }];
  let options = [
    Option<"policy", "policy", "std::string", "\"\"",
           "YAML policy file with a quantize section">,
  ];
  let dependentDialects = ["::mlir::pg::PgDialect"];
}

def PgEvalMode : Pass<"pg-eval-mode", "::mlir::ModuleOp"> {
  let summary = "Make a function an evaluation function: dropout becomes the identity";
  let description = [{
    torch's `model.eval()` as a pass. In function `function` every
    `pg.dropout` is replaced by its input, and the `dropout_key` argument,
    then unused, is removed, so that evaluation and generation need no key
    and see the deterministic model. The training function that pg-autodiff
    cloned from it beforehand keeps its dropout. A function without dropout
    is left as it is.

    Before:
    ```mlir
    func.func @forward(%x: tensor<3x4xf32> {pg.name = "x"},
                       %key: tensor<2xi64> {pg.name = "dropout_key"}) -> ... {
      %d = pg.dropout %x, %key p 1.000000e-01 site "q_proj" : tensor<3x4xf32>, tensor<2xi64>
      %y = pg.matmul %d, %a transpose_rhs : tensor<3x4xf32>, tensor<2x4xf32>
    ```
    After:
    ```mlir
    func.func @forward(%x: tensor<3x4xf32> {pg.name = "x"}) -> ... {
      %y = pg.matmul %x, %a transpose_rhs : tensor<3x4xf32>, tensor<2x4xf32>
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", "\"forward\"",
           "Function to turn into its evaluation form">,
  ];
  let dependentDialects = ["::mlir::pg::PgDialect"];
}

def PgRematerialize : Pass<"pg-rematerialize", "::mlir::ModuleOp"> {
  let summary = "Recompute NF4 dequantizations and widening casts next to far uses";
  let description = [{
    Values that a forward op makes from a smaller one and the backward pass
    reads again would stay alive across the whole training step: a
    `pg.dequant_nf4` result (bf16, 3.6x its NF4 storage) that the forward
    matmul and the backward one (dx = dy·W) share, or a `pg.cast` to a wider
    element type (LoRA's f32 copy of a bf16 activation, which its A
    gradient reads). For the 3B QLoRA step the dequantized weights alone are
    4.4 GiB, a third of train_step's peak. In each function, walking the uses
    of every such value in program order, a use more than `max-distance` ops
    after the previous one (or after the value's op, for the first) gets its
    own copy of the op, placed right before it; nearby uses share one. An op
    left without uses is erased. The copies compute the same bits, so every
    executor gives the same results; only lifetimes (the arena, pgc
    inspect's memory section) shrink, for the price of running the op again.
    bitsandbytes' Linear4bit dequantizes again in its backward the same way.
    Run it after CSE, which would merge the copies.

    Before (`max-distance=2`):
    ```mlir
    %w = pg.dequant_nf4 %q : !pg.nf4<16x8, block = 64> to bf16
    %y = pg.matmul %x, %w transpose_rhs : tensor<3x8xbf16>, tensor<16x8xbf16>
    %a = pg.exp %y : tensor<3x16xbf16>
    %b = pg.exp %a : tensor<3x16xbf16>
    %c = pg.exp %b : tensor<3x16xbf16>
    %dx = pg.matmul %c, %w : tensor<3x16xbf16>, tensor<16x8xbf16>
    ```
    After:
    ```mlir
    %w = pg.dequant_nf4 %q : !pg.nf4<16x8, block = 64> to bf16
    %y = pg.matmul %x, %w transpose_rhs : tensor<3x8xbf16>, tensor<16x8xbf16>
    %a = pg.exp %y : tensor<3x16xbf16>
    %b = pg.exp %a : tensor<3x16xbf16>
    %c = pg.exp %b : tensor<3x16xbf16>
    %w2 = pg.dequant_nf4 %q : !pg.nf4<16x8, block = 64> to bf16
    %dx = pg.matmul %c, %w2 : tensor<3x16xbf16>, tensor<16x8xbf16>
    ```
  }];
  let options = [
    Option<"maxDistance", "max-distance", "int64_t", "64",
           "Ops between two uses beyond which the second recomputes the value">,
  ];
  let statistics = [
    Statistic<"numRematerialized", "rematerialized",
              "ops copied next to a far use">,
  ];
  let dependentDialects = ["::mlir::pg::PgDialect"];
}

def PgFuse : Pass<"pg-fuse", "::mlir::ModuleOp"> {
  let summary = "Group runs of elementwise ops of one shape into pg.fusion kernels";
  let description = [{
    Walks each function's ops in order and wraps every maximal run of
    elementwise ops (mlir::pg::isFusibleElementwise: arithmetic, compare,
    select, cast, dropout, and broadcasts of one element) whose results have one
    shape into a `pg.fusion`; ops that produce no kernel and read nothing
    (pg.constant, pg.param, pg.state) met inside a run are moved in front of
    it, so the run goes on. A run is contiguous in program order, so no value
    can leave the fusion and come back. The fusion yields the values used
    after it; the others stay inside and need no memory on a GPU. The order
    of the ops does not change, so executors that run op by op (the CPU
    reference) compute the same bits. Run it last: no pass looks into
    fusions.

    Before:
    ```mlir
    %e = pg.exp %x : tensor<4x8xf32>
    %c = pg.constant dense<2.0> : tensor<4x8xf32>
    %m = pg.mul %e, %c : tensor<4x8xf32>
    %y = pg.matmul %m, %w transpose_rhs : tensor<4x8xf32>, tensor<3x8xf32>
    ```
    After:
    ```mlir
    %c = pg.constant dense<2.0> : tensor<4x8xf32>
    %r = pg.fusion -> tensor<4x8xf32> {
      %e = pg.exp %x : tensor<4x8xf32>
      %m = pg.mul %e, %c : tensor<4x8xf32>
      pg.yield %m : tensor<4x8xf32>
    }
    %y = pg.matmul %r, %w transpose_rhs : tensor<4x8xf32>, tensor<3x8xf32>
    ```
  }];
  let dependentDialects = ["::mlir::pg::PgDialect"];
}

#endif // PGC_PASSES_TD
