// Runs NVRTC through dlopen and turns its failures into one-line errors with
// the offending source line.
#include "runtime/cuda/Nvrtc.h"

#include "runtime/cuda/CudaApi.h"

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>
#include <memory>
#include <regex>
#include <sstream>
#include <sys/stat.h>

namespace pgc::cuda {

struct Nvrtc::Functions {
  using Result = api::nvrtcResult;
  using Program = api::nvrtcProgram;
  const char *(*getErrorString)(Result) = nullptr;
  Result (*version)(int *, int *) = nullptr;
  Result (*getNumSupportedArchs)(int *) = nullptr;
  Result (*getSupportedArchs)(int *) = nullptr;
  Result (*createProgram)(Program *, const char *, const char *, int,
                          const char *const *, const char *const *) = nullptr;
  Result (*compileProgram)(Program, int, const char *const *) = nullptr;
  Result (*getProgramLogSize)(Program, size_t *) = nullptr;
  Result (*getProgramLog)(Program, char *) = nullptr;
  Result (*getCUBINSize)(Program, size_t *) = nullptr;
  Result (*getCUBIN)(Program, char *) = nullptr;
  Result (*getPTXSize)(Program, size_t *) = nullptr;
  Result (*getPTX)(Program, char *) = nullptr;
  Result (*destroyProgram)(Program *) = nullptr;
};

namespace {

bool isDirectory(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::vector<std::string> defaultNvrtcCandidates() {
  std::vector<std::string> candidates;
  if (const char *override = std::getenv("PGC_NVRTC_LIBRARY"))
    candidates.push_back(override);
  std::string lib = cudaHome() + "/lib64/";
  for (const char *name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"})
    candidates.push_back(lib + name);
  for (const char *name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"})
    candidates.push_back(name);
  return candidates;
}

} // namespace

std::string CompileTarget::name() const {
  return fmt::format("{}_{}", ptx ? "compute" : "sm", arch);
}

CompileTarget chooseTarget(int deviceArch, const std::vector<int> &supported) {
  if (supported.empty())
    fail("NVRTC reports no supported architectures");
  if (std::find(supported.begin(), supported.end(), deviceArch) !=
      supported.end())
    return {deviceArch, false};
  int best = 0;
  for (int arch : supported)
    if (arch < deviceArch)
      best = std::max(best, arch);
  if (best == 0)
    fail("device sm_{}: older than every architecture this NVRTC supports "
         "(oldest sm_{})",
         deviceArch, *std::min_element(supported.begin(), supported.end()));
  return {best, true};
}

Nvrtc &Nvrtc::instance() {
  static Nvrtc nvrtc(defaultNvrtcCandidates());
  return nvrtc;
}

Nvrtc::Nvrtc(const std::vector<std::string> &libraryCandidates)
    : functions_(std::make_shared<Functions>()) {
  library_ = DynamicLibrary::openFirst(libraryCandidates);
  if (!library_.loaded()) {
    reason_ = "NVRTC not found (" + library_.loadError() +
              "); set CUDA_HOME or PGC_NVRTC_LIBRARY";
    return;
  }
  Functions &f = *functions_;
  std::string missing;
  auto resolve = [&](const char *name, auto &slot) {
    void *address = library_.find(name);
    if (!address)
      missing += std::string(missing.empty() ? "" : ", ") + name;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
  };
  resolve("nvrtcGetErrorString", f.getErrorString);
  resolve("nvrtcVersion", f.version);
  resolve("nvrtcGetNumSupportedArchs", f.getNumSupportedArchs);
  resolve("nvrtcGetSupportedArchs", f.getSupportedArchs);
  resolve("nvrtcCreateProgram", f.createProgram);
  resolve("nvrtcCompileProgram", f.compileProgram);
  resolve("nvrtcGetProgramLogSize", f.getProgramLogSize);
  resolve("nvrtcGetProgramLog", f.getProgramLog);
  resolve("nvrtcGetCUBINSize", f.getCUBINSize);
  resolve("nvrtcGetCUBIN", f.getCUBIN);
  resolve("nvrtcGetPTXSize", f.getPTXSize);
  resolve("nvrtcGetPTX", f.getPTX);
  resolve("nvrtcDestroyProgram", f.destroyProgram);
  if (!missing.empty()) {
    reason_ = library_.path() + ": not a usable NVRTC, lacks " + missing;
    return;
  }
  if (f.version(&major_, &minor_) != api::NVRTC_SUCCESS) {
    reason_ = library_.path() + ": nvrtcVersion failed";
    return;
  }
  available_ = true;
}

void Nvrtc::requireAvailable() const {
  if (!available_)
    fail("{}", reason_);
}

std::string Nvrtc::version() const {
  requireAvailable();
  return fmt::format("{}.{}", major_, minor_);
}

std::vector<int> Nvrtc::supportedArchs() const {
  requireAvailable();
  int count = 0;
  functions_->getNumSupportedArchs(&count);
  std::vector<int> archs(static_cast<size_t>(std::max(count, 0)));
  if (count > 0)
    functions_->getSupportedArchs(archs.data());
  return archs;
}

std::vector<std::string> Nvrtc::optionsFor(const KernelSource &source,
                                           const CompileTarget &target) const {
  std::vector<std::string> options = {"--gpu-architecture=" + target.name(),
                                      "--std=c++17"};
  for (const char *sub : {"/include", "/include/cccl"}) {
    std::string path = cudaHome() + sub;
    if (isDirectory(path))
      options.push_back("--include-path=" + path);
  }
  options.insert(options.end(), source.options.begin(), source.options.end());
  return options;
}

CompiledKernel Nvrtc::compile(const KernelSource &source,
                              const CompileTarget &target) const {
  requireAvailable();
  const Functions &f = *functions_;
  api::nvrtcProgram program = nullptr;
  api::nvrtcResult result = f.createProgram(
      &program, source.code.c_str(), source.name.c_str(), 0, nullptr, nullptr);
  if (result != api::NVRTC_SUCCESS)
    fail("{}: nvrtcCreateProgram failed: {}", source.name,
         f.getErrorString(result));
  std::vector<std::string> options = optionsFor(source, target);
  std::vector<const char *> optionPointers;
  for (const std::string &option : options)
    optionPointers.push_back(option.c_str());
  result = f.compileProgram(program, static_cast<int>(optionPointers.size()),
                            optionPointers.data());
  CompiledKernel compiled;
  compiled.target = target;
  size_t logSize = 0;
  f.getProgramLogSize(program, &logSize);
  if (logSize > 1) {
    compiled.log.resize(logSize);
    f.getProgramLog(program, compiled.log.data());
    compiled.log.resize(logSize - 1);
  }
  if (result != api::NVRTC_SUCCESS) {
    std::string message = summarizeCompileLog(source, compiled.log);
    f.destroyProgram(&program);
    throw NvrtcCompileError(fmt::format("{} (for {}, {})", message,
                                        target.name(),
                                        f.getErrorString(result)),
                            compiled.log);
  }
  size_t imageSize = 0;
  if (target.ptx) {
    f.getPTXSize(program, &imageSize);
    compiled.image.resize(imageSize);
    f.getPTX(program, compiled.image.data());
  } else {
    f.getCUBINSize(program, &imageSize);
    compiled.image.resize(imageSize);
    f.getCUBIN(program, compiled.image.data());
  }
  f.destroyProgram(&program);
  if (compiled.image.empty())
    fail("{}: NVRTC produced an empty {} for {}", source.name,
         target.ptx ? "PTX" : "CUBIN", target.name());
  return compiled;
}

std::string summarizeCompileLog(const KernelSource &source,
                                const std::string &log) {
  std::istringstream lines(log);
  std::string line;
  std::regex located(
      R"(^(.*)\((\d+)\): (error|catastrophic error)[^:]*: (.*)$)");
  std::smatch match;
  while (std::getline(lines, line)) {
    if (!std::regex_match(line, match, located))
      continue;
    int lineNumber = std::stoi(match[2]);
    std::istringstream code(source.code);
    std::string sourceLine;
    for (int i = 0; i < lineNumber && std::getline(code, sourceLine); ++i) {
    }
    size_t first = sourceLine.find_first_not_of(" \t");
    sourceLine = first == std::string::npos ? "" : sourceLine.substr(first);
    return fmt::format("{}:{}: error: {} [line {}: `{}`]", source.name,
                       lineNumber, match[4].str(), lineNumber, sourceLine);
  }
  std::string firstLine = log.substr(0, log.find('\n'));
  return fmt::format("{}: NVRTC compilation failed: {}", source.name,
                     firstLine.empty() ? "no log" : firstLine);
}

} // namespace pgc::cuda
