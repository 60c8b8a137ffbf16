// A bf16 attention-like block for pg-insert-lora and pg-quantize-nf4: a biased q_proj, an o_proj, a norm and a tied embedding.
func.func @forward(%x: tensor<3x96xbf16> {pg.name = "x"}, %ids: tensor<3xi32> {pg.name = "ids"}) -> (tensor<3x96xbf16> {pg.name = "y"}, tensor<3x10xbf16> {pg.name = "logits"}) {
  %wq = pg.param "enc.self_attn.q_proj.weight" init "normal(0.02)" : tensor<96x96xbf16>
  %bq = pg.param "enc.self_attn.q_proj.bias" init "zeros" : tensor<96xbf16>
  %wo = pg.param "dec.self_attn.o_proj.weight" init "normal(0.02)" : tensor<96x96xbf16>
  %n = pg.param "dec.input_layernorm.weight" init "zeros" : tensor<96xbf16>
  %e = pg.param "embed_tokens.weight" init "normal(0.02)" : tensor<10x96xbf16>
  %q = pg.matmul %x, %wq transpose_rhs : tensor<3x96xbf16>, tensor<96x96xbf16>
  %bb = pg.broadcast %bq to [3, 96] : tensor<96xbf16>
  %qb = pg.add %q, %bb : tensor<3x96xbf16>
  %nb = pg.broadcast %n to [3, 96] : tensor<96xbf16>
  %h = pg.mul %qb, %nb : tensor<3x96xbf16>
  %o = pg.matmul %h, %wo transpose_rhs : tensor<3x96xbf16>, tensor<96x96xbf16>
  %g = pg.gather %e[%ids] : tensor<10x96xbf16>, tensor<3xi32>
  %l = pg.matmul %o, %e transpose_rhs : tensor<3x96xbf16>, tensor<10x96xbf16>
  return %o, %l : tensor<3x96xbf16>, tensor<3x10xbf16>
}
