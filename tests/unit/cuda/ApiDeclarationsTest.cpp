// Checks our own CUDA declarations (runtime/cuda/CudaApi.h) against the
// toolkit's headers.
#include "runtime/cuda/CudaApi.h"

#include <cublasLt.h>
#include <cuda.h>
#include <nvrtc.h>

#include <gtest/gtest.h>

namespace pgc::cuda {
namespace {

static_assert(api::CUDA_ERROR_STUB_LIBRARY == ::CUDA_ERROR_STUB_LIBRARY);
static_assert(api::CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER ==
              ::CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER);
static_assert(api::CUDA_ERROR_DEVICE_UNAVAILABLE ==
              ::CUDA_ERROR_DEVICE_UNAVAILABLE);
static_assert(api::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH ==
              ::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH);
static_assert(api::CUDA_ERROR_NO_DEVICE == ::CUDA_ERROR_NO_DEVICE);
static_assert(api::CUDA_ERROR_NOT_FOUND == ::CUDA_ERROR_NOT_FOUND);
static_assert(api::CUDA_ERROR_NOT_INITIALIZED == ::CUDA_ERROR_NOT_INITIALIZED);
static_assert(api::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT ==
              ::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(api::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE ==
              ::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
static_assert(api::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH ==
              ::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
static_assert(api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(api::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(api::CU_STREAM_NON_BLOCKING == ::CU_STREAM_NON_BLOCKING);
static_assert(api::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL ==
              ::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(api::CU_GET_PROC_ADDRESS_DEFAULT ==
              ::CU_GET_PROC_ADDRESS_DEFAULT);
static_assert(sizeof(api::CUdeviceptr) == sizeof(::CUdeviceptr));
static_assert(api::NVRTC_SUCCESS == ::NVRTC_SUCCESS);
static_assert(api::CUBLAS_OP_T == ::CUBLAS_OP_T);
static_assert(api::CUBLAS_COMPUTE_32F == ::CUBLAS_COMPUTE_32F);
static_assert(api::CUDA_R_16BF == ::CUDA_R_16BF);
static_assert(api::CUDA_R_32F == ::CUDA_R_32F);
static_assert(api::CUBLASLT_MATMUL_DESC_TRANSA ==
              ::CUBLASLT_MATMUL_DESC_TRANSA);
static_assert(api::CUBLASLT_MATMUL_DESC_TRANSB ==
              ::CUBLASLT_MATMUL_DESC_TRANSB);
static_assert(api::CUBLASLT_MATMUL_DESC_EPILOGUE ==
              ::CUBLASLT_MATMUL_DESC_EPILOGUE);
static_assert(api::CUBLASLT_MATMUL_DESC_BIAS_POINTER ==
              ::CUBLASLT_MATMUL_DESC_BIAS_POINTER);
static_assert(api::CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE ==
              ::CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE);
static_assert(api::CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT ==
              ::CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT);
static_assert(api::CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET ==
              ::CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET);
static_assert(api::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES ==
              ::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES);
static_assert(api::CUBLASLT_EPILOGUE_DEFAULT == ::CUBLASLT_EPILOGUE_DEFAULT);
static_assert(api::CUBLASLT_EPILOGUE_BIAS == ::CUBLASLT_EPILOGUE_BIAS);
static_assert(api::CUBLASLT_EPILOGUE_GELU == ::CUBLASLT_EPILOGUE_GELU);
static_assert(api::CUBLASLT_EPILOGUE_GELU_BIAS ==
              ::CUBLASLT_EPILOGUE_GELU_BIAS);
static_assert(sizeof(api::cublasLtMatmulAlgo_t) ==
              sizeof(::cublasLtMatmulAlgo_t));
static_assert(sizeof(api::cublasLtMatmulHeuristicResult_t) ==
              sizeof(::cublasLtMatmulHeuristicResult_t));
static_assert(offsetof(api::cublasLtMatmulHeuristicResult_t, workspaceSize) ==
              offsetof(::cublasLtMatmulHeuristicResult_t, workspaceSize));
static_assert(offsetof(api::cublasLtMatmulHeuristicResult_t, state) ==
              offsetof(::cublasLtMatmulHeuristicResult_t, state));

TEST(ApiDeclarations, AgreeWithTheToolkitHeaders) {
  // The checks are the static_asserts above; this test records that they
  // were compiled against the toolkit at CUDA_VERSION.
  EXPECT_GE(CUDA_VERSION, 12000);
}

} // namespace
} // namespace pgc::cuda
