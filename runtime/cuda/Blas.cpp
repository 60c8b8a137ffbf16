// Drives cuBLASLt for row-major bf16 GEMMs by computing the column-major
// transpose, with a per-shape plan cache.
#include "runtime/cuda/Blas.h"

#include "runtime/cuda/DynamicLibrary.h"
#include "runtime/support/Error.h"

#include <cstdlib>

namespace pgc::cuda {

struct Blas::Library {
  using Status = api::cublasStatus_t;
  DynamicLibrary library;
  Status (*create)(api::cublasLtHandle_t *) = nullptr;
  Status (*destroy)(api::cublasLtHandle_t) = nullptr;
  size_t (*getVersion)() = nullptr;
  Status (*descCreate)(api::cublasLtMatmulDesc_t *, int, int) = nullptr;
  Status (*descDestroy)(api::cublasLtMatmulDesc_t) = nullptr;
  Status (*descSet)(api::cublasLtMatmulDesc_t, int, const void *,
                    size_t) = nullptr;
  Status (*layoutCreate)(api::cublasLtMatrixLayout_t *, int, uint64_t, uint64_t,
                         int64_t) = nullptr;
  Status (*layoutDestroy)(api::cublasLtMatrixLayout_t) = nullptr;
  Status (*layoutSet)(api::cublasLtMatrixLayout_t, int, const void *,
                      size_t) = nullptr;
  Status (*preferenceCreate)(api::cublasLtMatmulPreference_t *) = nullptr;
  Status (*preferenceDestroy)(api::cublasLtMatmulPreference_t) = nullptr;
  Status (*preferenceSet)(api::cublasLtMatmulPreference_t, int, const void *,
                          size_t) = nullptr;
  Status (*heuristic)(api::cublasLtHandle_t, api::cublasLtMatmulDesc_t,
                      api::cublasLtMatrixLayout_t, api::cublasLtMatrixLayout_t,
                      api::cublasLtMatrixLayout_t, api::cublasLtMatrixLayout_t,
                      api::cublasLtMatmulPreference_t, int,
                      api::cublasLtMatmulHeuristicResult_t *, int *) = nullptr;
  Status (*matmul)(api::cublasLtHandle_t, api::cublasLtMatmulDesc_t,
                   const void *, const void *, api::cublasLtMatrixLayout_t,
                   const void *, api::cublasLtMatrixLayout_t, const void *,
                   const void *, api::cublasLtMatrixLayout_t, void *,
                   api::cublasLtMatrixLayout_t,
                   const api::cublasLtMatmulAlgo_t *, void *, size_t,
                   api::CUstream) = nullptr;
  std::string error;
};

namespace {

std::shared_ptr<Blas::Library> loadLibrary();

void checkStatus(api::cublasStatus_t status, const char *what) {
  if (status != api::CUBLAS_STATUS_SUCCESS)
    fail("{}: cuBLASLt status {}", what, status);
}

} // namespace

struct Blas::Plan {
  std::shared_ptr<Library> library;
  api::cublasLtMatmulDesc_t desc = nullptr;
  api::cublasLtMatrixLayout_t layoutA = nullptr, layoutB = nullptr,
                              layoutC = nullptr;
  api::cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (layoutA)
      library->layoutDestroy(layoutA);
    if (layoutB)
      library->layoutDestroy(layoutB);
    if (layoutC)
      library->layoutDestroy(layoutC);
    if (desc)
      library->descDestroy(desc);
  }
};

namespace {

std::shared_ptr<Blas::Library> loadLibrary() {
  static std::shared_ptr<Blas::Library> library = [] {
    auto lib = std::make_shared<Blas::Library>();
    std::vector<std::string> candidates;
    if (const char *override = std::getenv("PGC_CUBLASLT_LIBRARY"))
      candidates.push_back(override);
    for (const char *name :
         {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"})
      candidates.push_back(cudaHome() + "/lib64/" + name);
    for (const char *name :
         {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"})
      candidates.push_back(name);
    lib->library = DynamicLibrary::openFirst(candidates);
    if (!lib->library.loaded()) {
      lib->error = "cuBLASLt not found (" + lib->library.loadError() +
                   "); set CUDA_HOME or PGC_CUBLASLT_LIBRARY";
      return lib;
    }
    std::string missing;
    auto resolve = [&](const char *name, auto &slot) {
      void *address = lib->library.find(name);
      if (!address)
        missing += std::string(missing.empty() ? "" : ", ") + name;
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
    };
    resolve("cublasLtCreate", lib->create);
    resolve("cublasLtDestroy", lib->destroy);
    resolve("cublasLtGetVersion", lib->getVersion);
    resolve("cublasLtMatmulDescCreate", lib->descCreate);
    resolve("cublasLtMatmulDescDestroy", lib->descDestroy);
    resolve("cublasLtMatmulDescSetAttribute", lib->descSet);
    resolve("cublasLtMatrixLayoutCreate", lib->layoutCreate);
    resolve("cublasLtMatrixLayoutDestroy", lib->layoutDestroy);
    resolve("cublasLtMatrixLayoutSetAttribute", lib->layoutSet);
    resolve("cublasLtMatmulPreferenceCreate", lib->preferenceCreate);
    resolve("cublasLtMatmulPreferenceDestroy", lib->preferenceDestroy);
    resolve("cublasLtMatmulPreferenceSetAttribute", lib->preferenceSet);
    resolve("cublasLtMatmulAlgoGetHeuristic", lib->heuristic);
    resolve("cublasLtMatmul", lib->matmul);
    if (!missing.empty())
      lib->error = lib->library.path() + ": lacks " + missing;
    return lib;
  }();
  return library;
}

} // namespace

std::string describeBlasLibrary() {
  auto library = loadLibrary();
  if (!library->error.empty())
    return library->error;
  return library->library.path() + " (version " +
         std::to_string(library->getVersion()) + ")";
}

Blas::Blas(const Context &context, size_t workspaceBytes)
    : context_(context), library_(loadLibrary()),
      workspace_(context, workspaceBytes) {
  if (!library_->error.empty())
    fail("{}", library_->error);
  checkStatus(library_->create(&handle_), "cublasLtCreate");
}

Blas::~Blas() {
  plans_.clear();
  if (handle_)
    library_->destroy(handle_);
}

size_t Blas::version() const { return library_->getVersion(); }

Blas::Plan &Blas::planFor(const GemmArgs &args) {
  PlanKey key{args.m,
              args.n,
              args.k,
              args.transA,
              args.transB,
              args.batch,
              args.strideA,
              args.strideB,
              args.strideC,
              static_cast<int>(args.inputType),
              static_cast<int>(args.outputType),
              static_cast<int>(args.epilogue),
              args.beta != 0.0f};
  auto found = plans_.find(key);
  if (found != plans_.end())
    return *found->second;

  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a
  // row-major matrix is its column-major transpose: so cuBLASLt's first
  // operand is our B, its second our A, and D is N x M with leading dim N.
  auto plan = std::make_unique<Plan>();
  plan->library = library_;
  Library &lib = *library_;
  int outputType =
      args.outputType == DType::F32 ? api::CUDA_R_32F : api::CUDA_R_16BF;
  int inputType =
      args.inputType == DType::F32 ? api::CUDA_R_32F : api::CUDA_R_16BF;
  checkStatus(
      lib.descCreate(&plan->desc, api::CUBLAS_COMPUTE_32F, api::CUDA_R_32F),
      "cublasLtMatmulDescCreate");
  int opFirst = args.transB ? api::CUBLAS_OP_T : api::CUBLAS_OP_N;
  int opSecond = args.transA ? api::CUBLAS_OP_T : api::CUBLAS_OP_N;
  checkStatus(lib.descSet(plan->desc, api::CUBLASLT_MATMUL_DESC_TRANSA,
                          &opFirst, sizeof(opFirst)),
              "set TRANSA");
  checkStatus(lib.descSet(plan->desc, api::CUBLASLT_MATMUL_DESC_TRANSB,
                          &opSecond, sizeof(opSecond)),
              "set TRANSB");
  int epilogue = api::CUBLASLT_EPILOGUE_DEFAULT;
  switch (args.epilogue) {
  case GemmEpilogue::None:
    break;
  case GemmEpilogue::Bias:
    epilogue = api::CUBLASLT_EPILOGUE_BIAS;
    break;
  case GemmEpilogue::Gelu:
    epilogue = api::CUBLASLT_EPILOGUE_GELU;
    break;
  case GemmEpilogue::BiasGelu:
    epilogue = api::CUBLASLT_EPILOGUE_GELU_BIAS;
    break;
  }
  checkStatus(lib.descSet(plan->desc, api::CUBLASLT_MATMUL_DESC_EPILOGUE,
                          &epilogue, sizeof(epilogue)),
              "set EPILOGUE");
  if (args.epilogue == GemmEpilogue::Bias ||
      args.epilogue == GemmEpilogue::BiasGelu)
    checkStatus(lib.descSet(plan->desc,
                            api::CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                            &outputType, sizeof(outputType)),
                "set BIAS_DATA_TYPE");

  auto layout = [&](api::cublasLtMatrixLayout_t *out, int type, int64_t rows,
                    int64_t cols, int64_t stride) {
    checkStatus(lib.layoutCreate(out, type, rows, cols, rows),
                "cublasLtMatrixLayoutCreate");
    if (args.batch > 1) {
      int count = static_cast<int>(args.batch);
      checkStatus(lib.layoutSet(*out, api::CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                &count, sizeof(count)),
                  "set BATCH_COUNT");
      checkStatus(
          lib.layoutSet(*out, api::CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                        &stride, sizeof(stride)),
          "set STRIDED_BATCH_OFFSET");
    }
  };
  // Column-major shapes as stored: our B is N x K (K x N when transB) ...
  if (args.transB)
    layout(&plan->layoutA, inputType, args.k, args.n, args.strideB);
  else
    layout(&plan->layoutA, inputType, args.n, args.k, args.strideB);
  // ... our A is K x M (M x K when transA), C is N x M.
  if (args.transA)
    layout(&plan->layoutB, inputType, args.m, args.k, args.strideA);
  else
    layout(&plan->layoutB, inputType, args.k, args.m, args.strideA);
  layout(&plan->layoutC, outputType, args.n, args.m, args.strideC);

  api::cublasLtMatmulPreference_t preference = nullptr;
  checkStatus(lib.preferenceCreate(&preference),
              "cublasLtMatmulPreferenceCreate");
  uint64_t workspaceBytes = workspace_.bytes();
  lib.preferenceSet(preference, api::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                    &workspaceBytes, sizeof(workspaceBytes));
  api::cublasLtMatmulHeuristicResult_t result{};
  int found_count = 0;
  api::cublasStatus_t status = lib.heuristic(
      handle_, plan->desc, plan->layoutA, plan->layoutB, plan->layoutC,
      plan->layoutC, preference, 1, &result, &found_count);
  lib.preferenceDestroy(preference);
  if (status != api::CUBLAS_STATUS_SUCCESS || found_count == 0)
    fail("gemm {}x{}x{} (batch {}): cuBLASLt has no algorithm (status {})",
         args.m, args.n, args.k, args.batch, status);
  plan->algo = result.algo;
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void Blas::gemm(const Stream &stream, const GemmArgs &args) {
  if (args.m <= 0 || args.n <= 0 || args.k <= 0 || args.batch <= 0)
    fail("gemm: invalid shape {}x{}x{} batch {}", args.m, args.n, args.k,
         args.batch);
  if (args.inputType != DType::BF16 && args.inputType != DType::F32)
    fail("gemm: operands must be bf16 or f32, not {}",
         dtypeName(args.inputType));
  if (args.outputType != DType::BF16 && args.outputType != DType::F32)
    fail("gemm: the result must be bf16 or f32, not {}",
         dtypeName(args.outputType));
  if (args.inputType == DType::F32 && args.outputType != DType::F32)
    fail("gemm: f32 operands need an f32 result");
  bool wantsBias = args.epilogue == GemmEpilogue::Bias ||
                   args.epilogue == GemmEpilogue::BiasGelu;
  if (wantsBias != (args.bias != 0))
    fail("gemm: the bias pointer must be set exactly when the epilogue adds "
         "a bias");
  Plan &plan = planFor(args);
  if (wantsBias) {
    api::CUdeviceptr bias = args.bias;
    checkStatus(library_->descSet(plan.desc,
                                  api::CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                  sizeof(bias)),
                "set BIAS_POINTER");
  }
  checkStatus(library_->matmul(
                  handle_, plan.desc, &args.alpha,
                  reinterpret_cast<const void *>(args.b), plan.layoutA,
                  reinterpret_cast<const void *>(args.a), plan.layoutB,
                  &args.beta, reinterpret_cast<const void *>(args.c),
                  plan.layoutC, reinterpret_cast<void *>(args.c), plan.layoutC,
                  &plan.algo, reinterpret_cast<void *>(workspace_.address()),
                  workspace_.bytes(), stream.handle()),
              "cublasLtMatmul");
}

} // namespace pgc::cuda
