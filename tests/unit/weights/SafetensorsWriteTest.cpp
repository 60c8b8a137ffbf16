// Round trips through writeSafetensors for every dtype and awkward shape,
// checked by an independent reader.
#include "runtime/weights/Safetensors.h"
#include "tests/unit/weights/WeightsTestSupport.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace pgc {
namespace {

using test::errorFrom;
using test::ScratchDir;

// Deterministic arbitrary bytes (all bit patterns, NaNs and subnormals
// included) for every dtype but Bool, which must hold 0 or 1.
Tensor patterned(DType dtype, Shape shape, uint32_t seed) {
  Tensor tensor(dtype, std::move(shape));
  auto *bytes = static_cast<uint8_t *>(tensor.raw());
  uint32_t state = seed * 2654435761u + 1;
  for (size_t i = 0; i < tensor.byteSize(); ++i) {
    state = state * 1664525u + 1013904223u;
    bytes[i] = static_cast<uint8_t>(state >> 24);
    if (dtype == DType::Bool)
      bytes[i] &= 1;
  }
  return tensor;
}

std::vector<std::pair<std::string, Tensor>> everyDTypeAndShape() {
  std::vector<std::pair<std::string, Tensor>> tensors;
  const DType dtypes[] = {DType::BF16, DType::F16, DType::F32, DType::F64,
                          DType::I32,  DType::I64, DType::U8,  DType::Bool};
  // Odd element counts leave byte sizes that are not multiples of 8; with
  // no padding allowed between tensors, only the order keeps them aligned.
  const Shape shapes[] = {{}, {0}, {3}, {2, 3}, {3, 0, 2}, {1, 5, 1}};
  uint32_t seed = 0;
  for (DType dtype : dtypes)
    for (const Shape &shape : shapes)
      tensors.emplace_back(std::string(dtypeName(dtype)) + "/" +
                               formatShape(shape),
                           patterned(dtype, shape, ++seed));
  return tensors;
}

TEST(SafetensorsWrite, RoundTripsEveryDTypeAndShape) {
  ScratchDir scratch;
  std::string path = scratch.file("all.safetensors");
  auto tensors = everyDTypeAndShape();
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"note", "λ \"quoted\""}};
  writeSafetensors(path, tensors, metadata);

  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  // File order: wider elements first, the given order within a width.
  auto inFileOrder = tensors;
  std::stable_sort(
      inFileOrder.begin(), inFileOrder.end(), [](const auto &a, const auto &b) {
        return dtypeSize(a.second.dtype()) > dtypeSize(b.second.dtype());
      });
  uint64_t previousEnd = 0;
  for (size_t i = 0; i < inFileOrder.size(); ++i) {
    const auto &[name, written] = inFileOrder[i];
    const TensorInfo &info = file.tensors()[i];
    EXPECT_EQ(info.name, name);
    EXPECT_EQ(info.dtype, written.dtype()) << name;
    EXPECT_TRUE(info.loadable) << name;
    EXPECT_EQ(info.shape, written.shape()) << name;
    // Back to back, and still aligned for the element type.
    EXPECT_EQ(info.begin, previousEnd) << name;
    EXPECT_EQ(info.begin % dtypeSize(written.dtype()), 0u) << name;
    previousEnd = info.end;
    EXPECT_EQ(info.end - info.begin, written.byteSize()) << name;
    Tensor read = file.tensor(name);
    EXPECT_EQ(read.shape(), written.shape()) << name;
    ASSERT_EQ(read.byteSize(), written.byteSize()) << name;
    if (read.byteSize())
      EXPECT_EQ(std::memcmp(read.raw(), written.raw(), read.byteSize()), 0)
          << name;
  }
  test::expectAgreesWithReference(file);
}

TEST(SafetensorsWrite, OddSizedTensorsAreBackToBackForTheReference) {
  // Byte sizes 3, 10, 1 and 2: any padding would show as a gap, which the
  // reference (Hugging Face's rule) refuses.
  ScratchDir scratch;
  std::string path = scratch.file("odd.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"u8.3", patterned(DType::U8, {3}, 1)},
      {"bf16.5", patterned(DType::BF16, {5}, 2)},
      {"u8.1", patterned(DType::U8, {1, 1}, 3)},
      {"bf16.1", patterned(DType::BF16, {1}, 4)},
  };
  writeSafetensors(path, tensors);
  EXPECT_EQ(test::referenceRejection(path), "");
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.tensors().back().end, 16u);
  test::expectAgreesWithReference(file);
}

TEST(SafetensorsWrite, ReadsWhatTheReferenceWriterWrites) {
  // The reference writes as HF's serialize does (sorted by width, then name;
  // values it encodes itself), including odd-sized u8 and bf16 tensors.
  ScratchDir scratch;
  std::string path = scratch.file("reference.safetensors");
  std::string command =
      std::string("cd ") + PGC_SOURCE_DIR +
      "/tests/unit/weights && /usr/bin/python3 -c 'import "
      "safetensors_reference as r; r.write(\"" +
      path +
      "\", {\"b\": (\"BF16\", [3], r.encode(\"BF16\", [1.0, -2.5, "
      "3.140625])), \"u\": (\"U8\", [1, 3], bytes([7, 0, 255])), "
      "\"f\": (\"F32\", [2], r.encode(\"F32\", [0.5, -1.0]))}, "
      "{\"format\": \"pt\"})'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.tensors()[0].name, "f");
  Tensor b = file.tensor("b");
  EXPECT_EQ(b.at(0), 1.0);
  EXPECT_EQ(b.at(1), -2.5);
  EXPECT_EQ(b.at(2), 3.140625);
  Tensor u = file.tensor("u");
  EXPECT_EQ(u.shape(), (Shape{1, 3}));
  EXPECT_EQ(u.at(2), 255.0);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  test::expectAgreesWithReference(file);
}

TEST(SafetensorsWrite, DataAreaStartsEightAligned) {
  ScratchDir scratch;
  std::string path = scratch.file("aligned.safetensors");
  // A one-character name makes an unpadded header length odd.
  writeSafetensors(path, {{"x", patterned(DType::F32, {1}, 7)}});
  std::ifstream in(path, std::ios::binary);
  unsigned char lengthBytes[8];
  in.read(reinterpret_cast<char *>(lengthBytes), 8);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = (length << 8) | lengthBytes[i];
  EXPECT_EQ((8 + length) % 8, 0u);
  std::string header(length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(length));
  EXPECT_EQ(header.front(), '{');
  // Padding is spaces after the closing brace, nothing else.
  size_t close = header.rfind('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(path), 8 + length + 4);
}

TEST(SafetensorsWrite, ViewOutlivesTheFileObject) {
  ScratchDir scratch;
  std::string path = scratch.file("view.safetensors");
  Tensor written = patterned(DType::F64, {4, 4}, 3);
  writeSafetensors(path, {{"w", written}});
  Tensor view;
  {
    SafetensorsFile file = SafetensorsFile::open(path);
    view = file.tensor("w");
  }
  ASSERT_EQ(view.byteSize(), written.byteSize());
  EXPECT_EQ(std::memcmp(view.raw(), written.raw(), view.byteSize()), 0);
}

TEST(SafetensorsWrite, OverwritesAtomicallyAndLeavesNoTemporary) {
  ScratchDir scratch;
  std::string path = scratch.file("w.safetensors");
  writeSafetensors(path, {{"a", patterned(DType::F32, {2}, 1)}});
  writeSafetensors(path, {{"b", patterned(DType::I64, {3}, 2)}});
  SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.tensors().size(), 1u);
  EXPECT_EQ(file.tensors()[0].name, "b");
  int entries = 0;
  for ([[maybe_unused]] auto &entry :
       std::filesystem::directory_iterator(scratch.path()))
    ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(SafetensorsWrite, RejectsBadNamesAndWritesNothing) {
  ScratchDir scratch;
  std::string path = scratch.file("bad.safetensors");
  Tensor t = patterned(DType::F32, {2}, 1);
  std::string message = errorFrom([&] {
    writeSafetensors(path, {{"a", t}, {"a", t}});
  });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("\"a\" is given twice"), std::string::npos) << message;
  message = errorFrom([&] { writeSafetensors(path, {{"", t}}); });
  EXPECT_NE(message.find("empty name"), std::string::npos) << message;
  message = errorFrom([&] { writeSafetensors(path, {{"__metadata__", t}}); });
  EXPECT_NE(message.find("cannot name a tensor"), std::string::npos) << message;
  message = errorFrom([&] { writeSafetensors(path, {{"bad\xff", t}}); });
  EXPECT_NE(message.find("not valid UTF-8"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(path));

  // An existing file is left as it was.
  writeSafetensors(path, {{"kept", t}});
  EXPECT_NE(errorFrom([&] {
              writeSafetensors(path, {{"x", t}, {"x", t}});
            }),
            "");
  EXPECT_NE(SafetensorsFile::open(path).find("kept"), nullptr);
}

} // namespace
} // namespace pgc
