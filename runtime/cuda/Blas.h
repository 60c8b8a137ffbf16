// bf16 GEMMs through cuBLASLt (dlopen'ed): f32 accumulation, transposes,
// strided batches, bias/GELU epilogues.
#pragma once

#include "runtime/cuda/Device.h"
#include "runtime/support/DType.h"

#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace pgc::cuda {

enum class GemmEpilogue { None, Bias, Gelu, BiasGelu };

/// C[b] = epilogue(alpha * op(A[b]) x op(B[b]) + beta * C[b]) in ROW-MAJOR
/// terms: op(A) is M x K (A stored K x M when transA), op(B) is K x N (B
/// stored N x K when transB), C is M x N. A and B are bf16 with C bf16 or
/// f32, or all three are f32 (plain f32 arithmetic, never TF32); accumulation
/// is f32. A stride of 0 shares one matrix between batches. The bias has N
/// values of C's dtype (one per output column, i.e. per output feature of a
/// linear layer). GELU is the tanh form.
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
  int64_t batch = 1;
  int64_t strideA = 0, strideB = 0, strideC = 0; // elements between batches
  DType inputType = DType::BF16;                 // of A and B
  DType outputType = DType::BF16;
  GemmEpilogue epilogue = GemmEpilogue::None;
  float alpha = 1.0f, beta = 0.0f;
  api::CUdeviceptr a = 0, b = 0, c = 0, bias = 0;
};

class Blas {
public:
  /// The process-wide cuBLASLt library: $PGC_CUBLASLT_LIBRARY, else
  /// cudaHome()/lib64/libcublasLt.so.13 (or .12), else the sonames.
  /// Throws pgc::Error saying which paths were tried when it is missing.
  explicit Blas(const Context &context, size_t workspaceBytes = 32 << 20);
  ~Blas();
  Blas(const Blas &) = delete;
  Blas &operator=(const Blas &) = delete;

  void gemm(const Stream &stream, const GemmArgs &args);
  /// cublasLtGetVersion(), e.g. 130001.
  size_t version() const;
  /// Number of distinct GEMM configurations whose algorithm was chosen.
  size_t cachedPlans() const { return plans_.size(); }

  /// The dlopen'ed entry points and one chosen algorithm with its
  /// descriptors; defined in Blas.cpp.
  struct Library;
  struct Plan;

private:
  using PlanKey = std::tuple<int64_t, int64_t, int64_t, bool, bool, int64_t,
                             int64_t, int64_t, int64_t, int, int, int, bool>;
  Plan &planFor(const GemmArgs &args);

  const Context &context_;
  std::shared_ptr<Library> library_;
  api::cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<PlanKey, std::unique_ptr<Plan>> plans_;
};

/// Whether cuBLASLt can be loaded, and if not why (for `pgc device`).
std::string describeBlasLibrary();

} // namespace pgc::cuda
