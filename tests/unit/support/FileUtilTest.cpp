// Atomic writes leave either the old or the new content, never a partial file
// or a temporary.
#include "runtime/support/FileUtil.h"
#include "runtime/support/Error.h"
#include "tests/unit/ScratchSpace.h"

#include <filesystem>
#include <gtest/gtest.h>

namespace pgc {
namespace {

TEST(FileUtil, AtomicWriteReplacesAndLeavesNoTemporary) {
  std::filesystem::path dir =
      pgc::unittest::uniqueScratchFolder("fileutil-test");
  std::string path = (dir / "out.bin").string();
  writeFileAtomically(path, "first");
  writeFileAtomically(path, "second");
  auto bytes = readFile(path);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "second");
  int entries = 0;
  for ([[maybe_unused]] auto &e : std::filesystem::directory_iterator(dir))
    ++entries;
  EXPECT_EQ(entries, 1);
  std::filesystem::remove_all(dir);
}

TEST(FileUtil, ErrorsNameThePath) {
  try {
    writeFileAtomically("/nonexistent-dir/x.bin", "x");
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.bin"),
              std::string::npos);
  }
  EXPECT_THROW(readFile("/nonexistent-dir/y.bin"), Error);
}

} // namespace
} // namespace pgc
