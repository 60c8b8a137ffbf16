// Helpers for the weights tests: scratch folders, hand-built file bytes, and
// the independent Python reader.
#pragma once

#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgc::test {

/// A fresh folder under the system temporary directory, removed afterwards.
class ScratchDir {
public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir &) = delete;
  ScratchDir &operator=(const ScratchDir &) = delete;
  std::string file(const std::string &name) const { return path_ + "/" + name; }
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

/// The 8-byte little-endian length of `header`, `header`, then `data`.
std::string safetensorsBytes(const std::string &header,
                             const std::string &data);
/// Writes bytes with plain stdio, bypassing the code under test.
void writeBytes(const std::string &path, const std::string &bytes);
/// The pgc::Error message `action` throws, or "" if it returns normally.
std::string errorFrom(const std::function<void()> &action);

/// One tensor as the independent reader (safetensors_reference.py) sees it.
struct ReferenceTensor {
  std::string name, dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
  std::vector<std::string> values; // float.hex() for floats, decimal integers
};
struct ReferenceFile {
  std::map<std::string, std::string> metadata;
  std::vector<ReferenceTensor> tensors; // header order
};
/// Runs /usr/bin/python3 safetensors_reference.py on `path`.
ReferenceFile readWithReference(const std::string &path);
/// Why the reference reader (which applies Hugging Face's layout rule)
/// refuses `path`, or "" if it accepts it.
std::string referenceRejection(const std::string &path);

/// Checks, with gtest expectations, that every tensor the reference reader
/// sees has the same dtype, shape, offsets and values in `file`, and that
/// `file` holds no other tensors.
void expectAgreesWithReference(const SafetensorsFile &file);

} // namespace pgc::test
