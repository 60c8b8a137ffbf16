// Reading (memory-mapped, validated) and writing safetensors files, and
// checkpoints sharded over several.
#pragma once

#include "runtime/support/DType.h"
#include "runtime/support/Tensor.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pgc {

/// One tensor's entry in a safetensors header.
struct TensorInfo {
  std::string name;
  /// The runtime dtype; meaningful only when `loadable` (see storedDType).
  DType dtype = DType::U8;
  Shape shape;
  /// Byte offsets relative to the start of the data area; end - begin is
  /// exactly numElements(shape) times the element size.
  uint64_t begin = 0, end = 0;
  /// The dtype as the file spells it ("F32", "BF16", "I16", "F8_E4M3", ...).
  std::string storedDType;
  /// False for dtypes that safetensors knows but pgc::DType cannot hold (I8,
  /// I16, U16, U32, U64, F8_*): their sizes are validated, loading them fails.
  bool loadable = true;
};

/// The validated layout of a safetensors file: where the data area starts and
/// what lies in it.
struct SafetensorsLayout {
  std::vector<TensorInfo> tensors; // ascending `begin`, ties in header order
  std::map<std::string, std::string> metadata;
  uint64_t dataOffset = 0; // 8 + header length
};

/// Validates the bytes of a whole safetensors file and returns its layout.
/// Besides each entry, the layout must be Hugging Face's: sorted by offsets,
/// the tensors cover the data area with no gap, overlap or trailing byte.
/// `path` only names the file in errors ("<path>: <problem>").
SafetensorsLayout parseSafetensors(const std::string &path,
                                   const uint8_t *bytes, size_t size);

/// A safetensors file, memory-mapped read-only (MAP_PRIVATE, PROT_READ) and
/// validated at open. Copies share the mapping.
class SafetensorsFile {
public:
  /// Throws pgc::Error "<path>: <problem>".
  static SafetensorsFile open(const std::string &path);

  /// In file order: ascending data offset, empty tensors in header order.
  const std::vector<TensorInfo> &tensors() const { return layout_.tensors; }
  /// nullptr if absent.
  const TensorInfo *find(const std::string &name) const;
  /// A view of the mapped bytes that keeps the mapping alive. It is
  /// read-only: writing through it faults. If the bytes are not aligned to
  /// the element size the tensor is an aligned copy instead. Throws if the
  /// name is absent or the dtype is not loadable.
  Tensor tensor(const std::string &name) const;
  /// The "__metadata__" entries.
  const std::map<std::string, std::string> &metadata() const {
    return layout_.metadata;
  }
  const std::string &path() const { return path_; }

private:
  std::string path_;
  SafetensorsLayout layout_;
  std::unordered_map<std::string, size_t> byName_;
  std::shared_ptr<void> mapping_;
  const uint8_t *data_ = nullptr; // start of the data area
};

/// The safetensors spelling of a runtime dtype ("BF16", "BOOL", ...).
const char *safetensorsDTypeName(DType dtype);

/// Writes atomically (temporary + fsync + rename) what Hugging Face's
/// safetensors reads: the header padded with spaces so that the data area
/// starts 8-aligned, then the tensors back to back, wider dtypes first (the
/// given order within a width), which keeps each aligned for its dtype.
/// Names must be unique, non-empty and not "__metadata__". Nothing is
/// written if any check fails.
void writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    const std::map<std::string, std::string> &metadata = {});

/// A checkpoint: one .safetensors file, a folder holding model.safetensors or
/// model.safetensors.index.json, or the index file itself (sharded: its
/// "weight_map" maps each name to a shard file next to the index). Names are
/// unique across shards; lookup is by name.
class Checkpoint {
public:
  static Checkpoint open(const std::string &pathOrDir);

  /// In file order, shard by shard in the order the weight map first names
  /// them.
  std::vector<std::string> names() const;
  /// nullptr if absent.
  const TensorInfo *find(const std::string &name) const;
  /// The file holding `name`, or nullptr if absent.
  const SafetensorsFile *fileOf(const std::string &name) const;
  /// A read-only view of the mapped bytes (see SafetensorsFile::tensor).
  Tensor view(const std::string &name) const;
  /// An owned copy in dtype `as`. Floats convert among bf16/f16/f32/f64
  /// exactly as Tensor::to does (round to nearest even); other dtypes must
  /// match. Errors name the tensor and the file.
  Tensor load(const std::string &name, DType as) const;
  /// The file or index the checkpoint was opened from.
  const std::string &path() const { return path_; }

private:
  std::string path_;
  std::vector<SafetensorsFile> files_;
  // name -> (file index, tensor index within that file)
  std::unordered_map<std::string, std::pair<size_t, size_t>> byName_;
};

} // namespace pgc
