// The NF4-to-bf16 dequantization kernel (bitsandbytes layout, optional
// double-quantized absmax) and its launcher.
#pragma once

#include "runtime/cuda/Module.h"
#include "runtime/quant/Nf4.h"

namespace pgc::cuda {

/// CUDA C++ source of the kernels `pgc_nf4_dequantize_bf16` and
/// `pgc_nf4_dequantize_bf16_nested`. It includes no header, so it compiles
/// wherever NVRTC runs.
const KernelSource &nf4DequantizeSource();

/// Device copies of an Nf4Weight's arrays (each from the given arena or
/// buffers), as the kernel reads them.
struct DeviceNf4Weight {
  api::CUdeviceptr packed = 0;
  api::CUdeviceptr absmax = 0;       // f32 per block, when !doubleQuant
  api::CUdeviceptr absmaxCodes = 0;  // u8 per block, when doubleQuant
  api::CUdeviceptr absmaxScales = 0; // f32 per 256 blocks, when doubleQuant
  api::CUdeviceptr dynamicMap = 0;   // the 256 f32 codes, when doubleQuant
  float absmaxOffset = 0;
  bool doubleQuant = false;
  int64_t numel = 0;
  int64_t blockSize = 64;
};

/// Launches the dequantization of `weight` into `outputBf16` (numel bf16
/// values, 16-byte aligned) on `stream`, with enough blocks to fill the
/// device.
void launchNf4Dequantize(const Module &module, const Stream &stream,
                         const DeviceNf4Weight &weight,
                         api::CUdeviceptr outputBf16);

} // namespace pgc::cuda
