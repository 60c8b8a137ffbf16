// Checks the kernel cache: a second run compiles nothing, and damaged entries
// are detected and rebuilt.
#include "runtime/cuda/KernelCache.h"
#include "runtime/cuda/kernels/Nf4Dequantize.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace pgc::cuda {
namespace {

class KernelCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!Nvrtc::instance().available())
      GTEST_SKIP() << "NVRTC not available: "
                   << Nvrtc::instance().unavailableReason();
    char pattern[] = "/tmp/pgc-kernel-cache-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    // A folder that does not exist yet: the cache creates it.
    directory_ = std::string(pattern) + "/nested/kernels";
  }
  void TearDown() override {
    if (!directory_.empty())
      std::system(
          ("rm -rf '" + directory_.substr(0, directory_.find("/nested")) + "'")
              .c_str());
  }
  std::string readAll(const std::string &path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream contents;
    contents << file.rdbuf();
    return contents.str();
  }
  void writeAll(const std::string &path, const std::string &bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  std::string directory_;
  const CompileTarget sm80{80, false};
};

TEST_F(KernelCacheTest, SecondRunCompilesNothing) {
  const Nvrtc &nvrtc = Nvrtc::instance();
  KernelCache firstRun(directory_);
  CompiledKernel cold =
      firstRun.getOrCompile(nvrtc, nf4DequantizeSource(), sm80);
  EXPECT_EQ(firstRun.stats().compilations, 1);
  EXPECT_EQ(firstRun.stats().misses, 1);

  // A new cache object over the same folder is what a new process sees.
  KernelCache secondRun(directory_);
  CompiledKernel warm =
      secondRun.getOrCompile(nvrtc, nf4DequantizeSource(), sm80);
  EXPECT_EQ(secondRun.stats().compilations, 0);
  EXPECT_EQ(secondRun.stats().hits, 1);
  EXPECT_EQ(warm.image, cold.image);

  // Another target or other options are other entries.
  secondRun.getOrCompile(nvrtc, nf4DequantizeSource(), {90, false});
  KernelSource withOption = nf4DequantizeSource();
  withOption.options.push_back("-DPGC_UNUSED_MACRO=1");
  secondRun.getOrCompile(nvrtc, withOption, sm80);
  EXPECT_EQ(secondRun.stats().compilations, 2);
}

TEST_F(KernelCacheTest, CorruptedEntriesAreDetectedAndRebuilt) {
  const Nvrtc &nvrtc = Nvrtc::instance();
  const KernelSource &source = nf4DequantizeSource();
  std::string good =
      KernelCache(directory_).getOrCompile(nvrtc, source, sm80).image;
  std::string path = KernelCache(directory_).entryPath(nvrtc, source, sm80);
  std::string entry = readAll(path);
  ASSERT_GT(entry.size(), good.size());

  auto expectRebuilt = [&](const std::string &damaged, const char *what) {
    writeAll(path, damaged);
    KernelCache cache(directory_);
    CompiledKernel compiled = cache.getOrCompile(nvrtc, source, sm80);
    EXPECT_EQ(cache.stats().corruptEntries, 1) << what;
    EXPECT_EQ(cache.stats().compilations, 1) << what;
    EXPECT_EQ(compiled.image, good) << what;
    EXPECT_EQ(readAll(path), entry) << what << ": entry not rewritten";
  };
  std::string flipped = entry;
  flipped[flipped.size() - 100] ^= 0x10;
  expectRebuilt(flipped, "flipped payload byte");
  expectRebuilt(entry.substr(0, entry.size() / 2), "truncated");
  expectRebuilt("", "empty");
  std::string wrongKey = entry;
  wrongKey[30] ^= 1;
  expectRebuilt(wrongKey, "key digest of another kernel");

  KernelCache after(directory_);
  after.getOrCompile(nvrtc, source, sm80);
  EXPECT_EQ(after.stats().hits, 1);
}

TEST(KernelCacheDirectory, HonoursPgcCacheDir) {
  ::setenv("PGC_CACHE_DIR", "/tmp/pgc-cache-dir-test", 1);
  EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/pgc-cache-dir-test");
  ::unsetenv("PGC_CACHE_DIR");
  EXPECT_NE(KernelCache::defaultDirectory(), "/tmp/pgc-cache-dir-test");
}

} // namespace
} // namespace pgc::cuda
