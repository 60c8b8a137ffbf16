// Backward ops of the composite pg ops, created by pg-autodiff; each has a CPU kernel.
#ifndef PGC_DIALECT_PG_GRAD_OPS_TD
#define PGC_DIALECT_PG_GRAD_OPS_TD

def Pg_GeluTanhGradOp : Pg_Op<"gelu_tanh_grad", [Pure, AllTypesMatch<["input", "grad", "result"]>]> {
  let summary = "d gelu_tanh(x) / dx times the incoming gradient";
  let arguments = (ins Pg_FloatTensor:$input, Pg_FloatTensor:$grad);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
}

def Pg_SoftmaxGradOp : Pg_Op<"softmax_grad", [Pure, AllTypesMatch<["output", "grad", "result"]>]> {
  let summary = "softmax backward from its output: y * (dy - sum(dy * y))";
  let arguments = (ins Pg_FloatTensor:$output, Pg_FloatTensor:$grad,
                       I64Attr:$axis);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$output `,` $grad `axis` $axis attr-dict `:` type($result)";
}

def Pg_LayerNormGradOp : Pg_Op<"layer_norm_grad", [Pure,
    AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["weight", "weight_grad", "bias_grad"]>]> {
  let summary = "layer_norm backward: input, weight and bias gradients";
  let arguments = (ins Pg_FloatTensor:$input, Pg_FloatTensor:$weight,
                       Pg_FloatTensor:$grad, F32Attr:$epsilon);
  let results = (outs Pg_FloatTensor:$input_grad, Pg_FloatTensor:$weight_grad,
                      Pg_FloatTensor:$bias_grad);
  let assemblyFormat = "$input `,` $weight `,` $grad `eps` $epsilon attr-dict "
                       "`:` type($input) `,` type($weight)";
}

def Pg_RmsNormGradOp : Pg_Op<"rms_norm_grad", [Pure,
    AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["weight", "weight_grad"]>]> {
  let summary = "rms_norm backward: input and weight gradients";
  let arguments = (ins Pg_FloatTensor:$input, Pg_FloatTensor:$weight,
                       Pg_FloatTensor:$grad, F32Attr:$epsilon,
                       UnitAttr:$unit_offset);
  let results = (outs Pg_FloatTensor:$input_grad, Pg_FloatTensor:$weight_grad);
  let assemblyFormat = "$input `,` $weight `,` $grad `eps` $epsilon "
                       "(`unit_offset` $unit_offset^)? attr-dict `:` "
                       "type($input) `,` type($weight)";
}

def Pg_RopeGradOp : Pg_Op<"rope_grad", [Pure, AllTypesMatch<["grad", "result"]>]> {
  let summary = "rope backward: the inverse rotation of the incoming gradient";
  let arguments = (ins Pg_FloatTensor:$grad, Pg_IntTensor:$positions,
                       F32Attr:$theta);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$grad `,` $positions `theta` $theta attr-dict `:` "
                       "type($grad) `,` type($positions)";
}

def Pg_AttentionGradOp : Pg_Op<"attention_grad", [Pure,
    AllTypesMatch<["query", "query_grad"]>, AllTypesMatch<["key", "key_grad"]>,
    AllTypesMatch<["value", "value_grad"]>]> {
  let summary = "attention backward: query, key and value gradients";
  let description = [{
    Recomputes the attention probabilities from query, key and mask; key and
    value gradients sum over the query heads that share a key/value head.
  }];
  let arguments = (ins Pg_FloatTensor:$query, Pg_FloatTensor:$key,
                       Pg_FloatTensor:$value, Pg_MaskTensor:$mask,
                       Pg_FloatTensor:$grad, F32Attr:$scale);
  let results = (outs Pg_FloatTensor:$query_grad, Pg_FloatTensor:$key_grad,
                      Pg_FloatTensor:$value_grad);
  let assemblyFormat = "$query `,` $key `,` $value `,` $mask `,` $grad `scale` "
                       "$scale attr-dict `:` type($query) `,` type($key) `,` "
                       "type($value) `,` type($mask) `,` type($grad)";
}

def Pg_CrossEntropyGradOp : Pg_Op<"cross_entropy_grad", [Pure,
    AllTypesMatch<["logits", "result"]>]> {
  let summary = "cross_entropy backward: (softmax - onehot) * dloss / count";
  let arguments = (ins Pg_FloatTensor:$logits, Pg_IntTensor:$labels,
                       Pg_FloatTensor:$grad, I64Attr:$ignore_index);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$logits `,` $labels `,` $grad `ignore` $ignore_index "
                       "attr-dict `:` type($logits) `,` type($labels) `,` "
                       "type($grad)";
}

def Pg_ScatterAddOp : Pg_Op<"scatter_add", [Pure]> {
  let summary = "gather's adjoint: a zero table with grad rows added at ids";
  let description = [{
    ```mlir
    %dtable = pg.scatter_add %ids, %grad : tensor<2x27xi64>, tensor<2x27x64xf32> -> tensor<320x64xf32>
    ```
  }];
  let arguments = (ins Pg_IntTensor:$ids, Pg_FloatTensor:$grad);
  let results = (outs Pg_FloatTensor:$result);
  let assemblyFormat = "$ids `,` $grad attr-dict `:` type($ids) `,` "
                       "type($grad) `->` type($result)";
  let hasVerifier = 1;
}

#endif // PGC_DIALECT_PG_GRAD_OPS_TD
