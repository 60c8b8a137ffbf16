// Scratch file and folder names private to one test process, for the unit
// tests. ctest runs every test case as its own process, several at a time, so
// a fixed name under the temporary folder is shared between cases that run
// together: one case would read the file another just wrote (CI saw an NF4
// test read the quantisation policy of its neighbour).
#ifndef PGC_TESTS_UNIT_SCRATCHSPACE_H
#define PGC_TESTS_UNIT_SCRATCHSPACE_H

#include <atomic>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace pgc::unittest {

/// A path under the temporary folder that no other process and no other call
/// in this process is given: "pgc-<pid>-<n>-<name>". Nothing is created.
inline std::string uniqueScratchPath(const std::string &name) {
  static std::atomic<unsigned> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("pgc-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter++) + "-" + name))
      .string();
}

/// A fresh folder from uniqueScratchPath, created now.
inline std::string uniqueScratchFolder(const std::string &name) {
  std::string path = uniqueScratchPath(name);
  std::filesystem::create_directories(path);
  return path;
}

} // namespace pgc::unittest

#endif // PGC_TESTS_UNIT_SCRATCHSPACE_H
