// Paths of the data tests' reference files and scratch folders.
#pragma once

#include <filesystem>
#include <string>
#include <unistd.h>

namespace pgc::testing {

inline std::string imagesDir() {
  return std::string(PGC_SOURCE_DIR) + "/tests/data/images";
}

/// A fresh, empty folder under the system temp dir, removed by the
/// destructor; the pid keeps concurrent ctest runs apart.
class ScratchDir {
public:
  explicit ScratchDir(const std::string &name)
      : path_(std::filesystem::temp_directory_path() /
              (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  std::string operator/(const std::string &child) const {
    return (path_ / child).string();
  }
  std::string str() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

} // namespace pgc::testing
