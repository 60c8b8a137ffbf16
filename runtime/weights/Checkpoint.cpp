// Checkpoints: a single safetensors file or shards listed by a
// model.safetensors.index.json weight map.
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"
#include "runtime/weights/StrictJson.h"

#include <filesystem>

namespace pgc {
namespace {

namespace fs = std::filesystem;

constexpr const char *kSingleFileName = "model.safetensors";
constexpr const char *kIndexFileName = "model.safetensors.index.json";

bool isIndexPath(const std::string &path) {
  return fs::path(path).extension() == ".json";
}

} // namespace

Checkpoint Checkpoint::open(const std::string &pathOrDir) {
  std::error_code error;
  std::string path = pathOrDir;
  if (fs::is_directory(pathOrDir, error)) {
    // Like Hugging Face loaders, a single file wins over an index.
    fs::path dir(pathOrDir);
    if (fs::exists(dir / kSingleFileName, error))
      path = (dir / kSingleFileName).string();
    else if (fs::exists(dir / kIndexFileName, error))
      path = (dir / kIndexFileName).string();
    else
      fail("{}: folder holds neither {} nor {}", pathOrDir, kSingleFileName,
           kIndexFileName);
  }

  Checkpoint checkpoint;
  checkpoint.path_ = path;
  if (!isIndexPath(path)) {
    checkpoint.files_.push_back(SafetensorsFile::open(path));
    const auto &tensors = checkpoint.files_[0].tensors();
    for (size_t i = 0; i < tensors.size(); ++i)
      checkpoint.byName_[tensors[i].name] = {0, i};
    return checkpoint;
  }

  std::vector<char> bytes = readFile(path);
  auto index = parseStrictJson(path, "index",
                               std::string_view(bytes.data(), bytes.size()));
  if (!index.is_object() || !index.contains("weight_map") ||
      !index["weight_map"].is_object())
    fail("{}: index has no \"weight_map\" object", path);
  const auto &weightMap = index["weight_map"];

  // Open each shard once, in the order the weight map first names it.
  fs::path folder = fs::path(path).parent_path();
  std::map<std::string, size_t> fileIndexOfShard;
  for (const auto &[name, shardValue] : weightMap.items()) {
    if (!shardValue.is_string())
      fail("{}: weight_map entry for {} is not a string", path,
           quotedForMessage(name));
    std::string shard = shardValue.get<std::string>();
    if (fileIndexOfShard.count(shard))
      continue;
    // A bare file name: "../x" or "dir/x" would let an index make pgc open
    // files outside the checkpoint's folder.
    if (shard.empty() || shard == "." || shard == ".." ||
        fs::path(shard).filename() != fs::path(shard) ||
        shard.find('\0') != std::string::npos)
      fail("{}: tensor {} maps to {}, which is not a file name next to the "
           "index",
           path, quotedForMessage(name), quotedForMessage(shard));
    std::string shardPath = (folder / shard).string();
    if (!fs::is_regular_file(shardPath, error))
      fail("{}: shard {} (for tensor {}) does not exist", path, shardPath,
           quotedForMessage(name));
    fileIndexOfShard[shard] = checkpoint.files_.size();
    checkpoint.files_.push_back(SafetensorsFile::open(shardPath));
  }

  for (size_t f = 0; f < checkpoint.files_.size(); ++f) {
    const SafetensorsFile &file = checkpoint.files_[f];
    for (size_t i = 0; i < file.tensors().size(); ++i) {
      const std::string &name = file.tensors()[i].name;
      auto [it, inserted] = checkpoint.byName_.try_emplace(name, f, i);
      if (!inserted)
        fail("{}: tensor {} is in both {} and {}", path, quotedForMessage(name),
             checkpoint.files_[it->second.first].path(), file.path());
      if (!weightMap.contains(name))
        fail("{}: tensor {} in {} is missing from the weight_map", path,
             quotedForMessage(name), file.path());
    }
  }
  for (const auto &[name, shardValue] : weightMap.items()) {
    const SafetensorsFile &file =
        checkpoint.files_[fileIndexOfShard[shardValue.get<std::string>()]];
    if (!file.find(name))
      fail("{}: tensor {} is mapped to {}, which does not contain it", path,
           quotedForMessage(name), file.path());
  }
  return checkpoint;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> names;
  for (const SafetensorsFile &file : files_)
    for (const TensorInfo &info : file.tensors())
      names.push_back(info.name);
  return names;
}

const TensorInfo *Checkpoint::find(const std::string &name) const {
  auto it = byName_.find(name);
  if (it == byName_.end())
    return nullptr;
  return &files_[it->second.first].tensors()[it->second.second];
}

const SafetensorsFile *Checkpoint::fileOf(const std::string &name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : &files_[it->second.first];
}

Tensor Checkpoint::view(const std::string &name) const {
  const SafetensorsFile *file = fileOf(name);
  if (!file)
    fail("{}: no tensor {}", path_, quotedForMessage(name));
  return file->tensor(name);
}

Tensor Checkpoint::load(const std::string &name, DType as) const {
  Tensor stored = view(name); // fails naming the file for absent/unloadable
  DType from = stored.dtype();
  if (from != as && !(isFloat(from) && isFloat(as)))
    fail("{}: tensor {} is {}, cannot load it as {} (only floating-point "
         "dtypes convert)",
         fileOf(name)->path(), quotedForMessage(name), dtypeName(from),
         dtypeName(as));
  return stored.to(as); // a copy even when the dtype matches
}

} // namespace pgc
