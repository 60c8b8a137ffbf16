// The ops of the pg dialect: parameters, elementwise math, reductions, shapes and the composite ops.
#ifndef PGC_DIALECT_PG_OPS_TD
#define PGC_DIALECT_PG_OPS_TD

include "compiler/Dialect/PgDialect.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

def Pg_ParamOp : Pg_Op<"param", [Pure, InferTypeOpAdaptor]> {
  let summary = "a model parameter, named as in the Hugging Face checkpoint";
  let description = [{
    `name` is the dotted checkpoint name. `trainable` marks parameters whose
    gradient the training step computes; policies set it. An initialiser
    (`init`) tells random initialisation how to draw the value, e.g.
    `"normal(0.02)"`, `"zeros"`, `"ones"`.

    ```mlir
    %w = pg.param "language_model.model.layers.0.mlp.gate_proj.weight" trainable
           : tensor<128x64xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name, TypeAttr:$type, UnitAttr:$trainable,
                       OptionalAttr<StrAttr>:$init);
  let results = (outs Pg_ParamType:$result);
  let assemblyFormat =
      "$name (`trainable` $trainable^)? (`init` $init^)? attr-dict `:` $type";
  let hasVerifier = 1;
}

def Pg_ConstantOp : Pg_Op<"constant", [Pure, ConstantLike, InferTypeOpAdaptor]> {
  let summary = "a constant tensor";
  let description = [{
    ```mlir
    %c = pg.constant dense<0.5> : tensor<f32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

def Pg_StateOp : Pg_Op<"state", [Pure, InferTypeOpAdaptor]> {
  let summary = "persistent training state: a gradient accumulator or optimizer moment";
  let description = [{
    Reads a named f32 buffer that lives across calls of the artifact's entry
    points (zero at start). `kind` is `gradient` or `optimizer`. pg.store
    writes it.

    ```mlir
    %m = pg.state "adam.exp_avg.fc.weight" kind "optimizer" : tensor<4x3xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$kind, TypeAttr:$type);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$name `kind` $kind attr-dict `:` $type";
  let hasVerifier = 1;
}

def Pg_StoreOp : Pg_Op<"store", [AllTypesMatch<["value", "target"]>]> {
  let summary = "overwrite a parameter or a state buffer with a value";
  let description = [{
    `target` is the result of the pg.param or pg.state that names the
    buffer; after the store that buffer holds `value` for later calls. The
    target must have no use after the store in the same block, so that no op
    reads a half-updated value.

    ```mlir
    pg.store %new_m, %m : tensor<4x3xf32>
    ```
  }];
  let arguments = (ins Pg_Tensor:$value, Pg_Tensor:$target);
  let assemblyFormat = "$value `,` $target attr-dict `:` type($value)";
  let hasVerifier = 1;
}

def Pg_IotaOp : Pg_Op<"iota", [Pure]> {
  let summary = "the index along one dimension, as a tensor";
  let description = [{
    ```mlir
    %i = pg.iota dim 1 : tensor<2x27xi64>   // %i[b, l] = l
    ```
  }];
  let arguments = (ins I64Attr:$dim);
  let results = (outs Pg_NumericTensor:$result);
  let assemblyFormat = "`dim` $dim attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops (operands of one shape; broadcasting is explicit)
//===----------------------------------------------------------------------===//

class Pg_BinaryOp<string mnemonic, list<Trait> traits = []>
    : Pg_Op<mnemonic, traits # [Pure, SameOperandsAndResultType,
                                InferTypeOpInterface]> {
  let arguments = (ins Pg_NumericTensor:$lhs, Pg_NumericTensor:$rhs);
  let results = (outs Pg_NumericTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Pg_AddOp : Pg_BinaryOp<"add", [Commutative]> { let summary = "lhs + rhs"; }
def Pg_SubOp : Pg_BinaryOp<"sub"> { let summary = "lhs - rhs"; }
def Pg_MulOp : Pg_BinaryOp<"mul", [Commutative]> { let summary = "lhs * rhs"; }
def Pg_DivOp : Pg_BinaryOp<"div"> { let summary = "lhs / rhs"; }
def Pg_MaxOp : Pg_BinaryOp<"max", [Commutative]> { let summary = "max(lhs, rhs)"; }
def Pg_MinOp : Pg_BinaryOp<"min", [Commutative]> { let summary = "min(lhs, rhs)"; }

class Pg_UnaryOp<string mnemonic, Type operandType = Pg_FloatTensor>
    : Pg_Op<mnemonic, [Pure, SameOperandsAndResultType, InferTypeOpInterface]> {
  let arguments = (ins operandType:$input);
  let results = (outs operandType:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Pg_NegOp : Pg_UnaryOp<"neg", Pg_NumericTensor> { let summary = "-x"; }
def Pg_ExpOp : Pg_UnaryOp<"exp"> { let summary = "e^x"; }
def Pg_LogOp : Pg_UnaryOp<"log"> { let summary = "natural logarithm"; }
def Pg_SqrtOp : Pg_UnaryOp<"sqrt"> { let summary = "square root"; }
def Pg_RsqrtOp : Pg_UnaryOp<"rsqrt"> { let summary = "1 / sqrt(x)"; }
def Pg_TanhOp : Pg_UnaryOp<"tanh"> { let summary = "hyperbolic tangent"; }
def Pg_GeluTanhOp : Pg_UnaryOp<"gelu_tanh"> {
  let summary = "GELU, tanh approximation (gelu_pytorch_tanh)";
  let description = [{
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))), computed in f32
    for 16-bit inputs.
  }];
}

def Pg_CompareOp : Pg_Op<"compare", [Pure, AllTypesMatch<["lhs", "rhs"]>,
                                     InferTypeOpAdaptor]> {
  let summary = "elementwise comparison giving an i1 tensor";
  let description = [{
    ```mlir
    %m = pg.compare lt, %a, %b : tensor<27xi64>
    ```
  }];
  let arguments = (ins Pg_ComparePredicate:$predicate,
                       Pg_NumericTensor:$lhs, Pg_NumericTensor:$rhs);
  let results = (outs Pg_BoolTensor:$result);
  let assemblyFormat =
      "$predicate `,` $lhs `,` $rhs attr-dict `:` type($lhs)";
}

def Pg_SelectOp : Pg_Op<"select", [Pure,
    AllTypesMatch<["on_true", "on_false", "result"]>,
    AllShapesMatch<["condition", "result"]>]> {
  let summary = "condition ? on_true : on_false, elementwise";
  let arguments = (ins Pg_BoolTensor:$condition, Pg_Tensor:$on_true,
                       Pg_Tensor:$on_false);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$condition `,` $on_true `,` $on_false attr-dict `:` "
                       "type($condition) `,` type($result)";
}

def Pg_CastOp : Pg_Op<"cast", [Pure, InferTypeOpAdaptor]> {
  let summary = "elementwise conversion to another element type";
  let description = [{
    Floats round to nearest even; float to integer truncates toward zero;
    conversion to i1 tests for non-zero.

    ```mlir
    %y = pg.cast %x : tensor<4x8xf32> to bf16
    ```
  }];
  let arguments = (ins Pg_Tensor:$input, TypeAttr:$dtype);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` $dtype";
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

class Pg_ReduceOp<string mnemonic>
    : Pg_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
  let arguments = (ins Pg_NumericTensor:$input, DenseI64ArrayAttr:$axes,
                       UnitAttr:$keep_dims);
  let results = (outs Pg_NumericTensor:$result);
  let assemblyFormat = "$input `axes` $axes (`keep_dims` $keep_dims^)? "
                       "attr-dict `:` type($input)";
}

def Pg_ReduceSumOp : Pg_ReduceOp<"reduce_sum"> {
  let summary = "sum over axes (f32 accumulation for 16-bit floats)";
  let description = [{
    ```mlir
    %s = pg.reduce_sum %x axes [1] keep_dims : tensor<2x3xf32>  // -> tensor<2x1xf32>
    ```
  }];
}
def Pg_ReduceMaxOp : Pg_ReduceOp<"reduce_max"> { let summary = "maximum over axes"; }
def Pg_ReduceMeanOp : Pg_ReduceOp<"reduce_mean"> { let summary = "mean over axes"; }

def Pg_CumsumOp : Pg_Op<"cumsum", [Pure, SameOperandsAndResultType,
                                   InferTypeOpInterface]> {
  let summary = "inclusive prefix sum along an axis";
  let arguments = (ins Pg_NumericTensor:$input, I64Attr:$axis);
  let results = (outs Pg_NumericTensor:$result);
  let assemblyFormat = "$input `axis` $axis attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

def Pg_MatmulOp : Pg_Op<"matmul", [Pure, InferTypeOpAdaptor]> {
  let summary = "batched matrix product with optional transposes";
  let description = [{
    lhs is [..., M, K] ([..., K, M] with `transpose_lhs`), rhs is [..., K, N]
    ([..., N, K] with `transpose_rhs`). Batch dimensions must be equal, or rhs
    has rank 2 and is shared by every batch. Products accumulate in
    `acc_type` (f32 unless the operands are f64); the result has the operands'
    element type.

    ```mlir
    // y = x W^T for a linear layer with W of shape [out, in]
    %y = pg.matmul %x, %w transpose_rhs {acc_type = f32}
           : tensor<2x27x64xbf16>, tensor<128x64xbf16>     // -> tensor<2x27x128xbf16>
    ```
  }];
  let arguments = (ins Pg_FloatTensor:$lhs, Pg_FloatTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs,
                       OptionalAttr<TypeAttr>:$acc_type);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs (`transpose_lhs` $transpose_lhs^)? "
                       "(`transpose_rhs` $transpose_rhs^)? attr-dict `:` "
                       "type($lhs) `,` type($rhs)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def Pg_ReshapeOp : Pg_Op<"reshape", [Pure, InferTypeOpAdaptor]> {
  let summary = "same elements, another shape";
  let description = [{
    ```mlir
    %y = pg.reshape %x to [2, 8] : tensor<16xf32>
    ```
  }];
  let arguments = (ins Pg_Tensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$input `to` $shape attr-dict `:` type($input)";
}

def Pg_TransposeOp : Pg_Op<"transpose", [Pure, InferTypeOpAdaptor]> {
  let summary = "permute dimensions: result dim i is input dim perm[i]";
  let arguments = (ins Pg_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$input `perm` $perm attr-dict `:` type($input)";
}

def Pg_BroadcastOp : Pg_Op<"broadcast", [Pure, InferTypeOpAdaptor]> {
  let summary = "numpy-style broadcast to a shape";
  let description = [{
    Trailing dimensions align; an input dimension of 1 or a missing leading
    dimension expands.

    ```mlir
    %y = pg.broadcast %b to [2, 27, 64] : tensor<64xf32>
    ```
  }];
  let arguments = (ins Pg_Tensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$input `to` $shape attr-dict `:` type($input)";
}

def Pg_SliceOp : Pg_Op<"slice", [Pure, InferTypeOpAdaptor]> {
  let summary = "strided slice [start, limit) per dimension";
  let arguments = (ins Pg_Tensor:$input, DenseI64ArrayAttr:$starts,
                       DenseI64ArrayAttr:$limits, DenseI64ArrayAttr:$strides);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$input `starts` $starts `limits` $limits `strides` "
                       "$strides attr-dict `:` type($input)";
}

def Pg_ConcatOp : Pg_Op<"concat", [Pure, InferTypeOpAdaptor]> {
  let summary = "join tensors along an axis";
  let arguments = (ins Variadic<Pg_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$inputs `axis` $axis attr-dict `:` type($inputs)";
}

def Pg_GatherOp : Pg_Op<"gather", [Pure, InferTypeOpAdaptor]> {
  let summary = "rows of a table picked by integer ids (embedding lookup)";
  let description = [{
    ```mlir
    %e = pg.gather %table[%ids] : tensor<320x64xf32>, tensor<2x27xi64>  // -> 2x27x64
    ```
  }];
  let arguments = (ins Pg_Tensor:$table, Pg_IntTensor:$ids);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat =
      "$table `[` $ids `]` attr-dict `:` type($table) `,` type($ids)";
}

def Pg_ScatterOp : Pg_Op<"scatter", [Pure, InferTypeOpAdaptor]> {
  let summary = "replace rows of dest [B, L, D] at indices [B, N] by updates [B, N, D]";
  let description = [{
    Writes image features into the `<image>` token positions.

    ```mlir
    %m = pg.scatter %embeds[%positions] = %features
           : tensor<2x27x64xf32>, tensor<2x16xi64>, tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins Pg_Tensor:$dest, Pg_IntTensor:$indices,
                       Pg_Tensor:$updates);
  let results = (outs Pg_Tensor:$result);
  let assemblyFormat = "$dest `[` $indices `]` `=` $updates attr-dict `:` "
                       "type($dest) `,` type($indices) `,` type($updates)";
}

//===----------------------------------------------------------------------===//
// Composite ops with their own kernels and numerics
//===----------------------------------------------------------------------===//

def Pg_SoftmaxOp : Pg_Op<"softmax", [Pure, SameOperandsAndResultType,
                                     InferTypeOpInterface]> {
  let summary = "softmax along an axis, computed in f32";
  let arguments = (ins Pg_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$input `axis` $axis attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Pg_LayerNormOp : Pg_Op<"layer_norm", [Pure, InferTypeOpAdaptor,
                                          AllTypesMatch<["weight", "bias"]>]> {
  let summary = "layer normalisation over the last dimension (f32 statistics)";
  let description = [{
    ```mlir
    %y = pg.layer_norm %x, %w, %b eps 1.0e-06 : tensor<2x16x32xf32>, tensor<32xf32>
    ```
  }];
  let arguments = (ins Pg_FloatTensor:$input, Pg_FloatTensor:$weight,
                       Pg_FloatTensor:$bias, F32Attr:$epsilon);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias `eps` $epsilon attr-dict "
                       "`:` type($input) `,` type($weight)";
}

def Pg_RmsNormOp : Pg_Op<"rms_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "RMS normalisation over the last dimension";
  let description = [{
    x * rsqrt(mean(x^2) + eps) * w, in f32. With `unit_offset` the scale is
    (1 + w), as Gemma stores its norm weights.

    ```mlir
    %y = pg.rms_norm %x, %w eps 1.0e-06 unit_offset : tensor<2x27x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Pg_FloatTensor:$input, Pg_FloatTensor:$weight,
                       F32Attr:$epsilon, UnitAttr:$unit_offset);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight `eps` $epsilon "
                       "(`unit_offset` $unit_offset^)? attr-dict `:` "
                       "type($input) `,` type($weight)";
}

def Pg_RopeOp : Pg_Op<"rope", [Pure, InferTypeOpAdaptor]> {
  let summary = "rotary position embedding, rotate-half layout";
  let description = [{
    input is [B, H, L, D] and positions [B, L]; frequencies are
    theta^(-2k/D), angles are computed in f32.

    ```mlir
    %q2 = pg.rope %q, %pos theta 1.0e+04 : tensor<2x4x27x16xf32>, tensor<2x27xi64>
    ```
  }];
  let arguments = (ins Pg_FloatTensor:$input, Pg_IntTensor:$positions,
                       F32Attr:$theta);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$input `,` $positions `theta` $theta attr-dict `:` "
                       "type($input) `,` type($positions)";
}

def Pg_AttentionOp : Pg_Op<"attention", [Pure, InferTypeOpAdaptor]> {
  let summary = "scaled dot-product attention with grouped-query heads";
  let description = [{
    query [B, Hq, L, D], key [B, Hkv, S, D], value [B, Hkv, S, Dv] with Hq a
    multiple of Hkv; mask is additive (float) or boolean (true = may attend),
    of shape [B or 1, Hq or 1, L, S]. Scores and softmax in f32; the result is
    [B, Hq, L, Dv] in the query's element type.

    ```mlir
    %o = pg.attention %q, %k, %v, %mask scale 2.500000e-01
           : tensor<2x4x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x16xf32>, tensor<2x1x27x27xi1>
    ```
  }];
  let arguments = (ins Pg_FloatTensor:$query, Pg_FloatTensor:$key,
                       Pg_FloatTensor:$value, Pg_MaskTensor:$mask,
                       F32Attr:$scale);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$query `,` $key `,` $value `,` $mask `scale` $scale "
                       "attr-dict `:` type($query) `,` type($key) `,` "
                       "type($value) `,` type($mask)";
}

def Pg_CrossEntropyOp : Pg_Op<"cross_entropy", [Pure, InferTypeOpAdaptor]> {
  let summary = "mean token cross-entropy, skipping ignore_index labels";
  let description = [{
    logits [..., V] and labels [...]; the result is a rank-0 f32 (f64 for f64
    logits): the mean of logsumexp(logits) - logits[label] over labels other
    than `ignore_index`, or 0 when no label counts.

    ```mlir
    %loss = pg.cross_entropy %logits, %labels ignore -100 : tensor<52x320xf32>, tensor<52xi64>
    ```
  }];
  let arguments = (ins Pg_FloatTensor:$logits, Pg_IntTensor:$labels,
                       I64Attr:$ignore_index);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$logits `,` $labels `ignore` $ignore_index attr-dict "
                       "`:` type($logits) `,` type($labels)";
}

def Pg_DequantNF4Op : Pg_Op<"dequant_nf4", [Pure, InferTypeOpAdaptor]> {
  let summary = "NF4 storage to a float tensor: code[idx] * absmax[block]";
  let description = [{
    ```mlir
    %w = pg.dequant_nf4 %q : !pg.nf4<128x64, block = 64, double_quant> to bf16
    ```
  }];
  let arguments = (ins Pg_NF4Type:$weight, TypeAttr:$dtype);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$weight attr-dict `:` qualified(type($weight)) `to` $dtype";
}

def Pg_DropoutOp : Pg_Op<"dropout", [Pure, InferTypeOpAdaptor]> {
  let summary = "inverted dropout with a counter-based mask: x * keep / (1 - p)";
  let description = [{
    Element i (row-major) of `input` is kept iff
    `unitInterval(mix(base + i)) >= p`, where `base` is
    `dropoutStream(key[0], key[1], fnv1a(site))` (runtime/support/CounterRng.h):
    `key` is the rank-1 i64 pair [run seed, micro-batch counter] the trainer
    passes in as the `dropout_key` argument, and `site` names the dropout
    place, so that two sites (q_proj's and v_proj's adapters) draw independent
    masks from one key. Kept elements are multiplied by 1 / (1 - p) rounded
    to the compute type (f32, f64 for f64 input), dropped ones become 0. The
    op is linear in `input` for a fixed key: its gradient is the same dropout
    of the output gradient. pg-eval-mode removes it from evaluation functions.

    ```mlir
    %y = pg.dropout %x, %key p 1.000000e-01 site "layers.0.q_proj"
           : tensor<4x8xf32>, tensor<2xi64>
    ```
  }];
  let arguments = (ins Pg_FloatTensor:$input, Pg_IntTensor:$key, F64Attr:$p,
                       StrAttr:$site);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$input `,` $key `p` $p `site` $site attr-dict `:` "
                       "type($input) `,` type($key)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def Pg_FusionOp : Pg_Op<"fusion", [Pure, SingleBlock]> {
  let summary = "elementwise ops of one shape that run as one kernel";
  let description = [{
    pg-fuse wraps each run of elementwise ops (binary and unary math, compare,
    select, cast, gelu_tanh_grad, dropout, broadcast of one element) whose results
    share one shape into a fusion: one kernel on a GPU, where the values that stay inside never
    reach memory. The body reads values defined above it directly; `pg.yield`
    returns the values used after it. Executors that run op by op (the CPU
    reference) run the body in order, so fusing changes no result.

    ```mlir
    %r = pg.fusion -> tensor<4x8xbf16> {
      %e = pg.exp %x : tensor<4x8xf32>
      %m = pg.mul %e, %y : tensor<4x8xf32>
      %c = pg.cast %m : tensor<4x8xf32> to bf16
      pg.yield %c : tensor<4x8xbf16>
    }
    ```
  }];
  let results = (outs Variadic<Pg_Tensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "(`->` type($results)^)? attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Pg_YieldOp : Pg_Op<"yield", [Pure, Terminator, HasParent<"FusionOp">]> {
  let summary = "the values a pg.fusion returns";
  let arguments = (ins Variadic<Pg_Tensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

include "compiler/Dialect/PgGradOps.td"

#endif // PGC_DIALECT_PG_OPS_TD
