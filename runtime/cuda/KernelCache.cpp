// Stores and validates compiled kernels on disk, keyed by a digest of
// everything that shapes the binary.
#include "runtime/cuda/KernelCache.h"

#include "runtime/cuda/Sha256.h"
#include "runtime/support/FileUtil.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace pgc::cuda {
namespace {

constexpr char kMagic[8] = {'P', 'G', 'C', 'K', 'R', 'N', 'L', '1'};
// magic, kind (u32), reserved (u32), payload size (u64), key digest,
// payload digest.
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 32 + 32;

std::string keyMaterial(const Nvrtc &nvrtc, const KernelSource &source,
                        const CompileTarget &target) {
  // Fields are separated by a NUL so that no two different keys can
  // concatenate to the same text.
  std::string key = "pgc-kernel-cache";
  auto add = [&](const std::string &field) {
    key += '\0';
    key += field;
  };
  add("codegen=" + std::to_string(kCodegenVersion));
  add("nvrtc=" + nvrtc.version());
  add("target=" + target.name());
  add("name=" + source.name);
  for (const std::string &option : nvrtc.optionsFor(source, target))
    add("option=" + option);
  add("source=" + source.code);
  return key;
}

void createDirectories(const std::string &path) {
  for (size_t slash = 1; slash != std::string::npos;) {
    slash = path.find('/', slash + 1);
    std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      fail("{}: cannot create kernel cache folder: {}", prefix,
           std::strerror(errno));
  }
}

void putU32(std::string &out, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out += static_cast<char>(value >> (8 * i));
}
void putU64(std::string &out, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>(value >> (8 * i));
}
uint64_t getLittleEndian(const char *bytes, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i)
    value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  return value;
}

/// The payload of a valid entry, or false when the file is absent or damaged
/// (`*corrupt` says which).
bool readEntry(const std::string &path, const Sha256Digest &keyDigest,
               std::string *payload, bool *isPtx, bool *corrupt) {
  std::ifstream file(path, std::ios::binary);
  *corrupt = false;
  if (!file)
    return false;
  std::stringstream contents;
  contents << file.rdbuf();
  std::string bytes = contents.str();
  *corrupt = true;
  if (bytes.size() < kHeaderSize || std::memcmp(bytes.data(), kMagic, 8) != 0)
    return false;
  uint32_t kind = static_cast<uint32_t>(getLittleEndian(bytes.data() + 8, 4));
  uint64_t size = getLittleEndian(bytes.data() + 16, 8);
  if (kind > 1 || size != bytes.size() - kHeaderSize)
    return false;
  if (std::memcmp(bytes.data() + 24, keyDigest.data(), 32) != 0)
    return false;
  std::string_view body(bytes.data() + kHeaderSize, size);
  Sha256Digest bodyDigest = sha256(body);
  if (std::memcmp(bytes.data() + 56, bodyDigest.data(), 32) != 0)
    return false;
  *corrupt = false;
  *payload = std::string(body);
  *isPtx = kind == 1;
  return true;
}

} // namespace

KernelCache::KernelCache(std::string directory)
    : directory_(std::move(directory)) {
  if (directory_.empty())
    fail("kernel cache: empty folder name");
}

std::string KernelCache::defaultDirectory() {
  if (const char *dir = std::getenv("PGC_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/pgc/kernels";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/pgc/kernels";
  return "/tmp/pgc-kernel-cache";
}

std::string KernelCache::entryPath(const Nvrtc &nvrtc,
                                   const KernelSource &source,
                                   const CompileTarget &target) const {
  return directory_ + "/" + toHex(sha256(keyMaterial(nvrtc, source, target))) +
         ".kernel";
}

CompiledKernel KernelCache::getOrCompile(const Nvrtc &nvrtc,
                                         const KernelSource &source,
                                         const CompileTarget &target) {
  Sha256Digest keyDigest = sha256(keyMaterial(nvrtc, source, target));
  std::string path = directory_ + "/" + toHex(keyDigest) + ".kernel";
  CompiledKernel compiled;
  compiled.target = target;
  bool isPtx = false, corrupt = false;
  if (readEntry(path, keyDigest, &compiled.image, &isPtx, &corrupt) &&
      isPtx == target.ptx) {
    ++stats_.hits;
    return compiled;
  }
  ++(corrupt ? stats_.corruptEntries : stats_.misses);
  compiled = nvrtc.compile(source, target);
  ++stats_.compilations;

  std::string entry(kMagic, 8);
  putU32(entry, target.ptx ? 1 : 0);
  putU32(entry, 0);
  putU64(entry, compiled.image.size());
  entry.append(reinterpret_cast<const char *>(keyDigest.data()), 32);
  Sha256Digest bodyDigest = sha256(compiled.image);
  entry.append(reinterpret_cast<const char *>(bodyDigest.data()), 32);
  entry += compiled.image;
  createDirectories(directory_);
  writeFileAtomically(path, entry);
  return compiled;
}

} // namespace pgc::cuda
