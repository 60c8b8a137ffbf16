// The CPU reference kernels: one function per pg op kind, the oracle for every
// faster path.
//
// Every kernel reads its inputs and writes into `out`, a tensor the caller has
// already allocated with the result's dtype and shape; a disagreement is a
// pgc::Error naming the op and the operand. Floats are computed in f32 (f64
// when any float operand is f64) and rounded once to the output dtype with
// round-to-nearest-even. docs/cpu-kernels.md states each op's semantics.
#pragma once

#include "runtime/support/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pgc::cpu {

enum class BinaryOp { Add, Sub, Mul, Div, Max, Min };
enum class UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Tanh, GeluTanh };
enum class ComparePredicate { Eq, Ne, Lt, Le, Gt, Ge };
/// Auto picks OpenBLAS for large float products unless PGC_CPU_BLAS=0.
enum class MatmulPath { Auto, Naive, Blas };

// Elementwise ------------------------------------------------------------

/// a, b and out share one shape and dtype (float or integer).
void binary(BinaryOp op, const Tensor &a, const Tensor &b, Tensor &out);
/// Float dtypes; Neg also takes integers.
void unary(UnaryOp op, const Tensor &x, Tensor &out);
/// a and b share shape and dtype; out is Bool (u8 0/1) of the same shape.
void compare(ComparePredicate predicate, const Tensor &a, const Tensor &b,
             Tensor &out);
/// out[i] = cond[i] ? a[i] : b[i]; cond is Bool.
void select(const Tensor &cond, const Tensor &a, const Tensor &b, Tensor &out);
/// Any dtype to any dtype (see the docs for the exact rules).
void cast(const Tensor &x, Tensor &out);
/// cast's general path, element by element through f64 (int64 for
/// integers) with one rounding: the reference cast's typed fast paths are
/// tested against.
void castElementwise(const Tensor &x, Tensor &out);

// Reductions and scans -----------------------------------------------------

void reduceSum(const Tensor &x, const std::vector<int64_t> &axes, bool keepDims,
               Tensor &out);
void reduceMax(const Tensor &x, const std::vector<int64_t> &axes, bool keepDims,
               Tensor &out);
void reduceMean(const Tensor &x, const std::vector<int64_t> &axes,
                bool keepDims, Tensor &out);
/// Inclusive prefix sum along `axis`.
void cumsum(const Tensor &x, int64_t axis, Tensor &out);

// Matmul -------------------------------------------------------------------

/// a [..., M, K] ([..., K, M] if transposeA), b [..., K, N] ([..., N, K] if
/// transposeB) -> out [..., M, N]. Batch dims are equal, or b is rank 2 and
/// shared across a's batch dims.
void matmul(const Tensor &a, const Tensor &b, bool transposeA, bool transposeB,
            Tensor &out, MatmulPath path = MatmulPath::Auto);
/// Whether this build can take the OpenBLAS path at all.
bool blasAvailable();

// Layout -------------------------------------------------------------------

void reshape(const Tensor &x, Tensor &out);
/// out.dim(d) = x.dim(perm[d]).
void transpose(const Tensor &x, const std::vector<int64_t> &perm, Tensor &out);
/// Numpy broadcasting of x to out's shape.
void broadcast(const Tensor &x, Tensor &out);
/// Per dim: elements start, start + stride, ... below limit (stride >= 1).
void slice(const Tensor &x, const std::vector<int64_t> &start,
           const std::vector<int64_t> &limit,
           const std::vector<int64_t> &stride, Tensor &out);
void concat(const std::vector<Tensor> &inputs, int64_t axis, Tensor &out);
/// out[..., i, ...] = i, the index along `dim`, in out's dtype.
void iota(int64_t dim, Tensor &out);

// Indexing -----------------------------------------------------------------

/// table [V, ...], ids int [...] -> out [ids..., table dims after the first].
void gather(const Tensor &table, const Tensor &ids, Tensor &out);
/// gather's adjoint: dtable [V, ...] = 0, then dtable[ids[i]] += dy[i].
void scatterAdd(const Tensor &ids, const Tensor &dy, Tensor &dtable);
/// dest [B, L, D], indices int [B, N], updates [B, N, D]: out = dest with row
/// indices[b, n] of batch b replaced by updates[b, n].
void scatter(const Tensor &dest, const Tensor &indices, const Tensor &updates,
             Tensor &out);

// Composite ops and their backward kernels ------------------------------------

void softmax(const Tensor &x, int64_t axis, Tensor &out);
void softmaxGrad(const Tensor &y, const Tensor &dy, int64_t axis, Tensor &dx);

/// Over the last dim: (x - mean) / sqrt(var + eps) * w + b.
void layerNorm(const Tensor &x, const Tensor &w, const Tensor &b, double eps,
               Tensor &out);
void layerNormGrad(const Tensor &x, const Tensor &w, const Tensor &dy,
                   double eps, Tensor &dx, Tensor &dw, Tensor &db);

/// Over the last dim: x * rsqrt(mean(x^2) + eps) * (unitOffset ? 1 + w : w).
void rmsNorm(const Tensor &x, const Tensor &w, double eps, bool unitOffset,
             Tensor &out);
void rmsNormGrad(const Tensor &x, const Tensor &w, const Tensor &dy, double eps,
                 bool unitOffset, Tensor &dx, Tensor &dw);

/// Rotate-half rotary embedding of x [B, H, L, D] at positions int [B, L].
void rope(const Tensor &x, const Tensor &positions, double theta, Tensor &out);
void ropeGrad(const Tensor &dy, const Tensor &positions, double theta,
              Tensor &dx);

/// Grouped-query attention; mask is null, a float additive mask or a Bool
/// mask (true = may attend), broadcastable as [B or 1, Hq or 1, L, S].
void attention(const Tensor &q, const Tensor &k, const Tensor &v,
               const Tensor *mask, double scale, Tensor &out);
void attentionGrad(const Tensor &q, const Tensor &k, const Tensor &v,
                   const Tensor *mask, double scale, const Tensor &dout,
                   Tensor &dq, Tensor &dk, Tensor &dv);

/// Mean over labels != ignoreIndex of logsumexp(logits) - logits[label];
/// 0 when no label counts. out is rank 0, f32 (f64 for f64 logits).
void crossEntropy(const Tensor &logits, const Tensor &labels,
                  int64_t ignoreIndex, Tensor &out);
void crossEntropyGrad(const Tensor &logits, const Tensor &labels,
                      int64_t ignoreIndex, const Tensor &dloss,
                      Tensor &dlogits);

/// Inverted dropout: out[i] = keep(i) ? x[i] * (1 / (1 - p)) : 0, with
/// keep(i) = unitInterval(mix(base + i)) >= p and base = dropoutBase(key,
/// site) (runtime/support/CounterRng.h). key is i64 [2]: seed, counter.
void dropout(const Tensor &x, const Tensor &key, double p,
             const std::string &site, Tensor &out);
/// The mask's base counter for a key tensor and a site name.
uint64_t dropoutBase(const Tensor &key, const std::string &site);

void geluTanhGrad(const Tensor &x, const Tensor &dy, Tensor &dx);

} // namespace pgc::cpu
