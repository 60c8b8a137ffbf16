// The DSL's op functions: one per pg op, with numpy broadcasting for elementwise math.
#pragma once

#include "dsl/Tensor.h"

#include <vector>

namespace pgc::dsl {

enum class Compare { Eq, Ne, Lt, Le, Gt, Ge };

// Elementwise. Shapes broadcast numpy-style (a pg.broadcast is inserted for
// the operand that needs it); both operands must have the same dtype.
Tensor add(Tensor a, Tensor b, Loc loc = Loc::current());
Tensor sub(Tensor a, Tensor b, Loc loc = Loc::current());
Tensor mul(Tensor a, Tensor b, Loc loc = Loc::current());
Tensor div(Tensor a, Tensor b, Loc loc = Loc::current());
Tensor maximum(Tensor a, Tensor b, Loc loc = Loc::current());
Tensor minimum(Tensor a, Tensor b, Loc loc = Loc::current());
Tensor neg(Tensor x, Loc loc = Loc::current());
Tensor exp(Tensor x, Loc loc = Loc::current());
Tensor log(Tensor x, Loc loc = Loc::current());
Tensor sqrt(Tensor x, Loc loc = Loc::current());
Tensor rsqrt(Tensor x, Loc loc = Loc::current());
Tensor tanh(Tensor x, Loc loc = Loc::current());
Tensor geluTanh(Tensor x, Loc loc = Loc::current());
Tensor compare(Compare predicate, Tensor a, Tensor b, Loc loc = Loc::current());
Tensor select(Tensor condition, Tensor onTrue, Tensor onFalse,
              Loc loc = Loc::current());
Tensor cast(Tensor x, DType dtype, Loc loc = Loc::current());

/// A constant tensor of one repeated value (rank 0 when shape is empty).
Tensor full(FunctionBuilder &function, const Shape &shape, double value,
            DType dtype, Loc loc = Loc::current());
/// A constant holding `values` (row-major) of the given shape.
Tensor constant(FunctionBuilder &function, const Shape &shape,
                const std::vector<double> &values, DType dtype,
                Loc loc = Loc::current());
/// Index along `dim`, e.g. positions 0..L-1.
Tensor iota(FunctionBuilder &function, const Shape &shape, int64_t dim,
            DType dtype, Loc loc = Loc::current());

// Reductions over axes (negative axes count from the end).
Tensor sum(Tensor x, std::vector<int64_t> axes, bool keepDims = false,
           Loc loc = Loc::current());
Tensor max(Tensor x, std::vector<int64_t> axes, bool keepDims = false,
           Loc loc = Loc::current());
Tensor mean(Tensor x, std::vector<int64_t> axes, bool keepDims = false,
            Loc loc = Loc::current());
Tensor cumsum(Tensor x, int64_t axis, Loc loc = Loc::current());

/// Batched matmul; f32 accumulation (f64 for f64 operands).
Tensor matmul(Tensor a, Tensor b, bool transposeA = false,
              bool transposeB = false, Loc loc = Loc::current());

// Shapes.
Tensor reshape(Tensor x, const Shape &shape, Loc loc = Loc::current());
Tensor transpose(Tensor x, const std::vector<int64_t> &perm,
                 Loc loc = Loc::current());
Tensor broadcastTo(Tensor x, const Shape &shape, Loc loc = Loc::current());
/// [start, limit) per dimension with optional strides (default 1).
Tensor slice(Tensor x, const std::vector<int64_t> &starts,
             const std::vector<int64_t> &limits,
             std::vector<int64_t> strides = {}, Loc loc = Loc::current());
Tensor concat(const std::vector<Tensor> &inputs, int64_t axis,
              Loc loc = Loc::current());
Tensor gather(Tensor table, Tensor ids, Loc loc = Loc::current());
Tensor scatter(Tensor dest, Tensor indices, Tensor updates,
               Loc loc = Loc::current());

// Composite ops.
Tensor softmax(Tensor x, int64_t axis = -1, Loc loc = Loc::current());
Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps,
                 Loc loc = Loc::current());
Tensor rmsNorm(Tensor x, Tensor weight, float eps, bool unitOffset,
               Loc loc = Loc::current());
Tensor rope(Tensor x, Tensor positions, float theta, Loc loc = Loc::current());
Tensor attention(Tensor query, Tensor key, Tensor value, Tensor mask,
                 float scale, Loc loc = Loc::current());
Tensor crossEntropy(Tensor logits, Tensor labels, int64_t ignoreIndex = -100,
                    Loc loc = Loc::current());

// Operators: the location is the most recent explicit DSL call's, since C++
// operators cannot capture their call site.
Tensor operator+(Tensor a, Tensor b);
Tensor operator-(Tensor a, Tensor b);
Tensor operator*(Tensor a, Tensor b);
Tensor operator/(Tensor a, Tensor b);
Tensor operator-(Tensor x);
// A scalar operand takes the tensor's dtype.
Tensor operator+(Tensor a, double b);
Tensor operator+(double a, Tensor b);
Tensor operator-(Tensor a, double b);
Tensor operator-(double a, Tensor b);
Tensor operator*(Tensor a, double b);
Tensor operator*(double a, Tensor b);
Tensor operator/(Tensor a, double b);
Tensor operator/(double a, Tensor b);

} // namespace pgc::dsl
