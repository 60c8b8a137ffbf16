// NVRTC loaded with dlopen: compiles CUDA C++ source to CUBIN for a given sm_XX
// (or PTX), with or without a GPU.
#pragma once

#include "runtime/cuda/DynamicLibrary.h"
#include "runtime/support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace pgc::cuda {

/// CUDA C++ source of one translation unit with extern "C" kernels.
struct KernelSource {
  std::string name; // file name used in diagnostics, e.g. "nf4_dequantize.cu"
  std::string code;
  std::vector<std::string> options; // beyond the architecture and -std
};

/// What to compile for: machine code for sm_<arch>, or PTX for
/// compute_<arch> that the driver finishes for a newer device.
struct CompileTarget {
  int arch = 80;
  bool ptx = false;
  std::string name() const; // "sm_80" or "compute_90"
};

/// The target for a device of compute capability `deviceArch` given the
/// architectures NVRTC supports: the device's own sm_XX when supported, else
/// PTX of the newest supported architecture below it. Throws pgc::Error when
/// the device is older than every supported architecture.
CompileTarget chooseTarget(int deviceArch, const std::vector<int> &supported);

struct CompiledKernel {
  CompileTarget target;
  std::string image; // CUBIN bytes, or PTX text
  std::string log;
};

/// A compile failure: the message is one line with the first error and the
/// source line it points at; log() holds NVRTC's whole log.
class NvrtcCompileError : public Error {
public:
  NvrtcCompileError(const std::string &message, std::string log)
      : Error(message), log_(std::move(log)) {}
  const std::string &log() const { return log_; }

private:
  std::string log_;
};

class Nvrtc {
public:
  /// The process-wide NVRTC: $PGC_NVRTC_LIBRARY, else libnvrtc from
  /// cudaHome()/lib64, else the standard sonames.
  static Nvrtc &instance();
  explicit Nvrtc(const std::vector<std::string> &libraryCandidates);

  bool available() const { return available_; }
  /// One line saying why NVRTC cannot be used.
  const std::string &unavailableReason() const { return reason_; }
  const std::string &libraryPath() const { return library_.path(); }
  /// e.g. "13.0".
  std::string version() const;
  std::vector<int> supportedArchs() const;

  /// Compiles `source` for `target`. Include paths for the toolkit's headers
  /// (cudaHome()/include and include/cccl, when present) are added.
  CompiledKernel compile(const KernelSource &source,
                         const CompileTarget &target) const;
  /// The options compile() passes for `target`, in order.
  std::vector<std::string> optionsFor(const KernelSource &source,
                                      const CompileTarget &target) const;

private:
  void requireAvailable() const;
  DynamicLibrary library_;
  bool available_ = false;
  std::string reason_;
  int major_ = 0, minor_ = 0;
  struct Functions;
  std::shared_ptr<Functions> functions_;
};

/// Turns NVRTC's log into one line: the first "name(line): error: ..." with
/// the offending source line quoted.
std::string summarizeCompileLog(const KernelSource &source,
                                const std::string &log);

} // namespace pgc::cuda
