// The content-addressed on-disk cache of compiled kernels, so that a warm start
// compiles nothing.
#pragma once

#include "runtime/cuda/Nvrtc.h"

#include <string>

namespace pgc::cuda {

/// Bumped whenever pgc's kernel generation changes in a way the source text
/// does not show (e.g. how options are assembled), to invalidate old entries.
constexpr int kCodegenVersion = 1;

struct KernelCacheStats {
  int hits = 0;
  int misses = 0;         // entries absent, compiled and stored
  int corruptEntries = 0; // entries present but damaged, compiled again
  int compilations = 0;
};

/// One file per compiled kernel, named by the SHA-256 of everything that
/// determines the output: source, name, options, NVRTC version, target and
/// kCodegenVersion. Each file carries a header with the key digest, the
/// payload size and the payload digest; anything that does not check out is
/// treated as a miss and rewritten. Writes are atomic (temporary + rename),
/// so concurrent processes at worst compile the same kernel twice.
class KernelCache {
public:
  /// `directory` is created on first store.
  explicit KernelCache(std::string directory);
  /// $PGC_CACHE_DIR, else $XDG_CACHE_HOME/pgc/kernels, else
  /// $HOME/.cache/pgc/kernels.
  static std::string defaultDirectory();

  CompiledKernel getOrCompile(const Nvrtc &nvrtc, const KernelSource &source,
                              const CompileTarget &target);
  /// Path of the entry for (source, target) under this cache.
  std::string entryPath(const Nvrtc &nvrtc, const KernelSource &source,
                        const CompileTarget &target) const;

  const KernelCacheStats &stats() const { return stats_; }
  const std::string &directory() const { return directory_; }

private:
  std::string directory_;
  KernelCacheStats stats_;
};

} // namespace pgc::cuda
