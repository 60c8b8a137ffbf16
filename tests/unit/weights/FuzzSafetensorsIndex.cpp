// libFuzzer target: any bytes as model.safetensors.index.json in a folder
// with two shards (a.safetensors holds "x", b.safetensors holds "y") and a
// third file outside it. Checkpoint::open either fails with pgc::Error or
// gives a checkpoint whose every tensor is read from a shard inside the
// folder and named by the weight map.
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// A one-tensor safetensors file: F32 [1] named `name`.
void writeShard(const fs::path &path, const std::string &name) {
  std::string header = "{\"" + name +
                       "\":{\"dtype\":\"F32\",\"shape\":[1],"
                       "\"data_offsets\":[0,4]}}";
  while (header.size() % 8)
    header += ' ';
  uint64_t length = header.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(&length), 8);
  out << header;
  out.write("\0\0\x80?", 4); // 1.0f
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const fs::path root = [] {
    fs::path dir = fs::temp_directory_path() /
                   ("pgc-fuzz-index-" + std::to_string(::getpid()));
    fs::create_directories(dir / "model");
    writeShard(dir / "model" / "a.safetensors", "x");
    writeShard(dir / "model" / "b.safetensors", "y");
    writeShard(dir / "outside.safetensors", "z");
    return dir;
  }();
  fs::path index = root / "model" / "model.safetensors.index.json";
  {
    std::ofstream out(index, std::ios::binary);
    out.write(reinterpret_cast<const char *>(data),
              static_cast<std::streamsize>(size));
  }
  try {
    pgc::Checkpoint checkpoint = pgc::Checkpoint::open(index.string());
    fs::path folder = fs::weakly_canonical(root / "model");
    for (const std::string &name : checkpoint.names()) {
      const pgc::SafetensorsFile *file = checkpoint.fileOf(name);
      if (!file || !checkpoint.find(name))
        std::abort();
      fs::path shard = fs::weakly_canonical(file->path());
      if (shard.parent_path() != folder)
        std::abort(); // a shard outside the checkpoint's folder was opened
    }
  } catch (const pgc::Error &) {
  }
  return 0;
}
