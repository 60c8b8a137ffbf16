// Opens shared libraries with dlopen and remembers why a candidate could not be
// loaded.
#include "runtime/cuda/DynamicLibrary.h"

#include <cstdlib>
#include <dlfcn.h>

#ifndef PGC_CUDA_HOME_DEFAULT
#define PGC_CUDA_HOME_DEFAULT "/usr/local/cuda"
#endif

namespace pgc::cuda {

DynamicLibrary
DynamicLibrary::openFirst(const std::vector<std::string> &candidates) {
  DynamicLibrary library;
  for (const std::string &candidate : candidates) {
    if (candidate.empty())
      continue;
    void *handle = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      library.handle_ = handle;
      library.path_ = candidate;
      library.loadError_.clear();
      return library;
    }
    const char *why = ::dlerror();
    if (!library.loadError_.empty())
      library.loadError_ += "; ";
    library.loadError_ += why ? why : candidate + ": cannot open";
  }
  return library;
}

DynamicLibrary::DynamicLibrary(DynamicLibrary &&other) noexcept
    : handle_(other.handle_), path_(std::move(other.path_)),
      loadError_(std::move(other.loadError_)) {
  other.handle_ = nullptr;
}

DynamicLibrary &DynamicLibrary::operator=(DynamicLibrary &&other) noexcept {
  if (this != &other) {
    if (handle_)
      ::dlclose(handle_);
    handle_ = other.handle_;
    path_ = std::move(other.path_);
    loadError_ = std::move(other.loadError_);
    other.handle_ = nullptr;
  }
  return *this;
}

DynamicLibrary::~DynamicLibrary() {
  // Libraries such as libcuda keep threads and atexit handlers; unloading them
  // while they may still run is a classic source of crashes at exit. They
  // stay loaded for the life of the process.
}

void *DynamicLibrary::find(const char *symbol) const {
  return handle_ ? ::dlsym(handle_, symbol) : nullptr;
}

std::string cudaHome() {
  const char *fromEnvironment = std::getenv("CUDA_HOME");
  if (fromEnvironment && *fromEnvironment)
    return fromEnvironment;
  return PGC_CUDA_HOME_DEFAULT;
}

} // namespace pgc::cuda
