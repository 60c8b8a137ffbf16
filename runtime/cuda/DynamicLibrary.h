// A dlopen'ed shared library: the only way the runtime reaches libcuda,
// libnvrtc and libcublasLt.
#pragma once

#include <string>
#include <vector>

namespace pgc::cuda {

class DynamicLibrary {
public:
  DynamicLibrary() = default;
  /// Tries each candidate in order (a path or a bare soname); returns an
  /// unloaded library whose loadError() lists why each one failed.
  static DynamicLibrary openFirst(const std::vector<std::string> &candidates);
  DynamicLibrary(DynamicLibrary &&other) noexcept;
  DynamicLibrary &operator=(DynamicLibrary &&other) noexcept;
  DynamicLibrary(const DynamicLibrary &) = delete;
  DynamicLibrary &operator=(const DynamicLibrary &) = delete;
  ~DynamicLibrary();

  bool loaded() const { return handle_ != nullptr; }
  const std::string &path() const { return path_; }
  const std::string &loadError() const { return loadError_; }
  /// The address of `symbol`, or null.
  void *find(const char *symbol) const;

private:
  void *handle_ = nullptr;
  std::string path_;
  std::string loadError_;
};

/// The CUDA toolkit folder used at run time: $CUDA_HOME, else the folder
/// found at configure time, else /usr/local/cuda.
std::string cudaHome();

} // namespace pgc::cuda
