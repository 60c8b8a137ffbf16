// Validation of safetensors headers and the memory-mapped SafetensorsFile.
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"
#include "runtime/weights/StrictJson.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/mman.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace pgc {
namespace {

using Json = nlohmann::ordered_json;

// A header this long is not a real checkpoint's: refuse it before reading.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct StoredDType {
  const char *name;
  unsigned bits; // per element; sub-byte types pack several into a byte
  std::optional<DType> runtime;
};

// Every dtype the safetensors format defines, so that files holding ones pgc
// cannot use still have their sizes checked.
constexpr StoredDType kStoredDTypes[] = {
    {"BOOL", 8, DType::Bool},     {"U8", 8, DType::U8},
    {"I8", 8, std::nullopt},      {"U16", 16, std::nullopt},
    {"I16", 16, std::nullopt},    {"F16", 16, DType::F16},
    {"BF16", 16, DType::BF16},    {"U32", 32, std::nullopt},
    {"I32", 32, DType::I32},      {"F32", 32, DType::F32},
    {"U64", 64, std::nullopt},    {"I64", 64, DType::I64},
    {"F64", 64, DType::F64},      {"F8_E5M2", 8, std::nullopt},
    {"F8_E4M3", 8, std::nullopt}, {"F8_E8M0", 8, std::nullopt},
    {"F6_E2M3", 6, std::nullopt}, {"F6_E3M2", 6, std::nullopt},
    {"F4", 4, std::nullopt},
};

const StoredDType *findStoredDType(const std::string &name) {
  for (const StoredDType &d : kStoredDTypes)
    if (name == d.name)
      return &d;
  return nullptr;
}

uint64_t readU64LittleEndian(const uint8_t *bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | bytes[i];
  return value;
}

// JSON integers that fit in uint64 (nlohmann stores non-negative literals as
// unsigned, negative ones as signed, anything with a '.' or exponent as float).
std::optional<uint64_t> asUnsigned(const Json &value) {
  if (value.is_number_unsigned())
    return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0)
    return static_cast<uint64_t>(value.get<int64_t>());
  return std::nullopt;
}

TensorInfo parseTensorEntry(const std::string &path, const std::string &name,
                            const Json &entry, uint64_t dataSize) {
  std::string where =
      fmt::format("{}: tensor {}", path, quotedForMessage(name));
  if (name.empty())
    fail("{}: a tensor has an empty name", path);
  if (!entry.is_object())
    fail("{}: entry is not a JSON object", where);
  for (const auto &[key, value] : entry.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail("{}: unknown field {}", where, quotedForMessage(key));
  for (const char *key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key))
      fail("{}: missing field \"{}\"", where, key);

  TensorInfo info;
  info.name = name;
  const Json &dtype = entry["dtype"];
  if (!dtype.is_string())
    fail("{}: dtype is not a string", where);
  info.storedDType = dtype.get<std::string>();
  const StoredDType *stored = findStoredDType(info.storedDType);
  if (!stored)
    fail("{}: unknown dtype {}", where, quotedForMessage(info.storedDType));
  info.loadable = stored->runtime.has_value();
  info.dtype = stored->runtime.value_or(DType::U8);

  const Json &shape = entry["shape"];
  if (!shape.is_array())
    fail("{}: shape is not a list", where);
  // Count bits saturating at "more than the data area holds", so that no
  // product can wrap around into a plausible size.
  const unsigned __int128 tooMany =
      (static_cast<unsigned __int128>(dataSize) << 3) + 8;
  unsigned __int128 bits = stored->bits;
  bool anyZero = false;
  for (const Json &dim : shape) {
    std::optional<uint64_t> size = asUnsigned(dim);
    if (!size || *size > static_cast<uint64_t>(INT64_MAX))
      fail("{}: shape is not a list of non-negative integers (has {})", where,
           quotedForMessage(dim.dump()));
    info.shape.push_back(static_cast<int64_t>(*size));
    if (*size == 0)
      anyZero = true;
    else if (bits >= tooMany || *size > tooMany / bits)
      bits = tooMany;
    else
      bits *= *size;
  }
  if (anyZero)
    bits = 0;
  try {
    numElements(info.shape); // what Tensor will compute later must not throw
  } catch (const Error &) {
    fail("{}: shape {} has too many elements", where, formatShape(info.shape));
  }

  const Json &offsets = entry["data_offsets"];
  std::optional<uint64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = asUnsigned(offsets[0]);
    end = asUnsigned(offsets[1]);
  }
  if (!begin || !end)
    fail("{}: data_offsets is not a list of two non-negative integers", where);
  info.begin = *begin;
  info.end = *end;
  if (info.end < info.begin)
    fail("{}: data_offsets [{}, {}] end before they begin", where, info.begin,
         info.end);
  if (info.end > dataSize)
    fail("{}: data_offsets [{}, {}] run past the data area ({} bytes)", where,
         info.begin, info.end, dataSize);
  uint64_t byteCount = info.end - info.begin;
  if (bits % 8 != 0)
    fail("{}: shape {} of {} does not fill whole bytes", where,
         formatShape(info.shape), info.storedDType);
  if (bits / 8 != byteCount)
    fail("{}: shape {} of {} needs {} bytes but data_offsets hold {}", where,
         formatShape(info.shape), info.storedDType,
         bits >= tooMany ? std::string("more than the data area holds")
                         : std::to_string(static_cast<uint64_t>(bits / 8)),
         byteCount);
  return info;
}

std::map<std::string, std::string> parseMetadata(const std::string &path,
                                                 const Json &entry) {
  if (!entry.is_object())
    fail("{}: __metadata__ is not a JSON object", path);
  std::map<std::string, std::string> metadata;
  for (const auto &[key, value] : entry.items()) {
    if (!value.is_string())
      fail("{}: __metadata__ value for {} is not a string", path,
           quotedForMessage(key));
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

} // namespace

SafetensorsLayout parseSafetensors(const std::string &path,
                                   const uint8_t *bytes, size_t size) {
  if (size < 8)
    fail("{}: file is {} bytes, too short for the 8-byte header length", path,
         size);
  uint64_t headerLength = readU64LittleEndian(bytes);
  if (headerLength > kMaxHeaderBytes)
    fail("{}: header length {} is absurd (limit {} bytes)", path, headerLength,
         kMaxHeaderBytes);
  if (headerLength > size - 8)
    fail("{}: header length {} runs past the end of the file ({} bytes)", path,
         headerLength, size);
  std::string_view text(reinterpret_cast<const char *>(bytes + 8),
                        headerLength);
  Json header = parseStrictJson(path, "header", text);
  if (!header.is_object())
    fail("{}: header is not a JSON object", path);

  SafetensorsLayout layout;
  layout.dataOffset = 8 + headerLength;
  uint64_t dataSize = size - layout.dataOffset;
  for (const auto &[key, value] : header.items()) {
    if (key == "__metadata__")
      layout.metadata = parseMetadata(path, value);
    else
      layout.tensors.push_back(parseTensorEntry(path, key, value, dataSize));
  }

  // File order: by offsets, as safetensors sorts them; empty tensors that
  // share an offset keep their header order.
  std::vector<size_t> order(layout.tensors.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::make_tuple(layout.tensors[a].begin, layout.tensors[a].end, a) <
           std::make_tuple(layout.tensors[b].begin, layout.tensors[b].end, b);
  });
  std::vector<TensorInfo> inFileOrder;
  inFileOrder.reserve(order.size());
  for (size_t i : order)
    inFileOrder.push_back(std::move(layout.tensors[i]));
  layout.tensors = std::move(inFileOrder);

  // Hugging Face's safetensors (Metadata::validate) wants the tensors, in
  // that order, to cover the data area exactly: the first begins at 0, each
  // begins where the previous one ends, the last ends at the end of the
  // file. Files pgc writes are read by it, so pgc holds every file to the
  // same rule.
  uint64_t covered = 0;
  const TensorInfo *previous = nullptr;
  for (const TensorInfo &info : layout.tensors) {
    if (info.begin < covered)
      fail("{}: tensors {} and {} overlap (bytes [{}, {}) and [{}, {}))", path,
           quotedForMessage(previous->name), quotedForMessage(info.name),
           previous->begin, previous->end, info.begin, info.end);
    if (info.begin > covered && !previous)
      fail("{}: tensor {} begins at byte {} of the data area, not 0: "
           "safetensors allows no gap before the first tensor",
           path, quotedForMessage(info.name), info.begin);
    if (info.begin > covered)
      fail("{}: tensor {} begins at byte {} of the data area, but {} ends at "
           "{}: safetensors allows no gap between tensors",
           path, quotedForMessage(info.name), info.begin,
           quotedForMessage(previous->name), covered);
    covered = info.end;
    previous = &info;
  }
  if (covered != dataSize)
    fail("{}: the tensors end at byte {} of the data area, which has {} "
         "bytes: safetensors allows no bytes after the last tensor",
         path, covered, dataSize);
  return layout;
}

SafetensorsFile SafetensorsFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat status;
  if (::fstat(fd, &status) != 0) {
    int err = errno;
    ::close(fd);
    fail("{}: cannot stat: {}", path, std::strerror(err));
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  auto size = static_cast<size_t>(status.st_size);
  SafetensorsFile file;
  file.path_ = path;
  if (size > 0) {
    void *address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    ::close(fd);
    if (address == MAP_FAILED)
      fail("{}: cannot map: {}", path, std::strerror(err));
    file.mapping_ =
        std::shared_ptr<void>(address, [size](void *p) { ::munmap(p, size); });
  } else {
    ::close(fd);
  }
  auto *bytes = static_cast<const uint8_t *>(file.mapping_.get());
  file.layout_ = parseSafetensors(path, bytes, size);
  file.data_ = bytes + file.layout_.dataOffset;
  for (size_t i = 0; i < file.layout_.tensors.size(); ++i)
    file.byName_[file.layout_.tensors[i].name] = i;
  return file;
}

const TensorInfo *SafetensorsFile::find(const std::string &name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : &layout_.tensors[it->second];
}

Tensor SafetensorsFile::tensor(const std::string &name) const {
  const TensorInfo *info = find(name);
  if (!info)
    fail("{}: no tensor {}", path_, quotedForMessage(name));
  if (!info->loadable)
    fail("{}: tensor {} has dtype {}, which pgc cannot load", path_,
         quotedForMessage(name), info->storedDType);
  const uint8_t *bytes = data_ + info->begin;
  if (info->begin == info->end)
    return Tensor(info->dtype, info->shape);
  // Views must be aligned for their element type; a file with odd offsets
  // (legal, if unusual) gets an aligned copy instead.
  if (reinterpret_cast<uintptr_t>(bytes) % dtypeSize(info->dtype) != 0) {
    Tensor copy(info->dtype, info->shape);
    std::memcpy(copy.raw(), bytes, info->end - info->begin);
    return copy;
  }
  return Tensor::borrow(info->dtype, info->shape, const_cast<uint8_t *>(bytes),
                        mapping_);
}

const char *safetensorsDTypeName(DType dtype) {
  for (const StoredDType &d : kStoredDTypes)
    if (d.runtime == dtype)
      return d.name;
  return "?";
}

} // namespace pgc
