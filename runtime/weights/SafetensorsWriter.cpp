// Writing safetensors files as Hugging Face's safetensors does: tensors back
// to back after a space-padded JSON header, replaced atomically.
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"
#include "runtime/weights/StrictJson.h"

#include <algorithm>
#include <numeric>
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

  std::unordered_set<std::string> seen;
  for (const auto &[name, tensor] : tensors) {
    if (name.empty())
      fail("{}: a tensor has an empty name", path);
    if (name == "__metadata__")
      fail("{}: \"__metadata__\" cannot name a tensor", path);
    if (!seen.insert(name).second)
      fail("{}: tensor {} is given twice", path, quotedForMessage(name));
    if (!tensor.defined())
      fail("{}: tensor {} has no data", path, quotedForMessage(name));
  }

  // safetensors wants the tensors to cover the data area with no gap, so no
  // padding may separate them. Writing wider elements first (as HF's writer
  // does) keeps every tensor aligned for its dtype anyway: each offset is a
  // sum of byte sizes that are multiples of the current element size.
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtypeSize(tensors[a].second.dtype()) >
           dtypeSize(tensors[b].second.dtype());
  });
  std::vector<std::string_view> dataPieces;
  uint64_t offset = 0;
  for (size_t index : order) {
    const auto &[name, tensor] = tensors[index];
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
  // The data area starts 8-aligned after the 8-byte length and the header.
  constexpr size_t kAlignment = 8;
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
