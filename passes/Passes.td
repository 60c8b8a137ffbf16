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

#endif // PGC_PASSES_TD
