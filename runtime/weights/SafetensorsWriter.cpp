// Writing safetensors files: 8-byte aligned tensors after a space-padded JSON
// header, replaced atomically.
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"
#include "runtime/weights/StrictJson.h"

#include <unordered_set>

namespace pgc {

void writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    const std::map<std::string, std::string> &metadata) {
  using Json = nlohmann::ordered_json;
  Json header = Json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;

  // Offsets are 8-aligned so that every mapped tensor is aligned for any
  // element type; the zero bytes between tensors are holes the reader allows.
  constexpr uint64_t kAlignment = 8;
  static const char kZeros[kAlignment] = {};
  std::vector<std::string_view> dataPieces;
  std::unordered_set<std::string> seen;
  uint64_t offset = 0;
  for (const auto &[name, tensor] : tensors) {
    if (name.empty())
      fail("{}: a tensor has an empty name", path);
    if (name == "__metadata__")
      fail("{}: \"__metadata__\" cannot name a tensor", path);
    if (!seen.insert(name).second)
      fail("{}: tensor {} is given twice", path, quotedForMessage(name));
    if (!tensor.defined())
      fail("{}: tensor {} has no data", path, quotedForMessage(name));
    uint64_t padding = (kAlignment - offset % kAlignment) % kAlignment;
    if (padding)
      dataPieces.emplace_back(kZeros, padding);
    offset += padding;
    uint64_t size = tensor.byteSize();
    header[name] = {{"dtype", safetensorsDTypeName(tensor.dtype())},
                    {"shape", tensor.shape()},
                    {"data_offsets", {offset, offset + size}}};
    if (size)
      dataPieces.emplace_back(static_cast<const char *>(tensor.raw()), size);
    offset += size;
  }

  std::string headerText;
  try {
    headerText = header.dump();
  } catch (const nlohmann::json::exception &) {
    fail("{}: a tensor name or metadata string is not valid UTF-8", path);
  }
  // The data area starts after the 8-byte length and the header.
  headerText.append((kAlignment - headerText.size() % kAlignment) % kAlignment,
                    ' ');
  char lengthBytes[8];
  uint64_t length = headerText.size();
  for (int i = 0; i < 8; ++i)
    lengthBytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);

  std::vector<std::string_view> pieces = {std::string_view(lengthBytes, 8),
                                          headerText};
  pieces.insert(pieces.end(), dataPieces.begin(), dataPieces.end());
  writeFileAtomically(path, pieces);
}

} // namespace pgc
