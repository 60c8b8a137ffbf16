// Corrupt and lying safetensors files, built byte by byte: each rule at open
// gives a one-line error naming the file.
#include "runtime/weights/Safetensors.h"
#include "tests/unit/weights/WeightsTestSupport.h"

#include <gtest/gtest.h>

namespace pgc {
namespace {

using test::errorFrom;
using test::safetensorsBytes;
using test::ScratchDir;

class SafetensorsReject : public ::testing::Test {
protected:
  // Writes `bytes`, opens them, and returns the error (or "" if accepted).
  std::string openError(const std::string &bytes) {
    std::string path = scratch_.file("t" + std::to_string(count_++) + ".st");
    test::writeBytes(path, bytes);
    std::string message = errorFrom([&] { SafetensorsFile::open(path); });
    if (!message.empty()) {
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
    return message;
  }
  void expectRejected(const std::string &header, const std::string &data,
                      const std::string &phrase) {
    std::string message = openError(safetensorsBytes(header, data));
    EXPECT_NE(message.find(phrase), std::string::npos)
        << "header " << header << "\nwanted \"" << phrase << "\", got \""
        << message << "\"";
  }
  void expectAccepted(const std::string &header, const std::string &data) {
    EXPECT_EQ(openError(safetensorsBytes(header, data)), "") << header;
  }

  ScratchDir scratch_;
  int count_ = 0;
};

const std::string kEightBytes(8, '\0');

TEST_F(SafetensorsReject, FileTooShortForTheLength) {
  EXPECT_NE(openError("abc").find("too short"), std::string::npos);
  EXPECT_NE(openError("").find("too short"), std::string::npos);
}

TEST_F(SafetensorsReject, AbsurdHeaderLength) {
  std::string bytes = safetensorsBytes("{}", "");
  bytes[5] = 1; // length 2^40 + 2
  EXPECT_NE(openError(bytes).find("is absurd"), std::string::npos);
}

TEST_F(SafetensorsReject, HeaderLengthBeyondTheFile) {
  std::string bytes = safetensorsBytes("{}", "");
  bytes[0] = 3; // one byte more than the file holds
  EXPECT_NE(openError(bytes).find("runs past the end of the file"),
            std::string::npos);
}

TEST_F(SafetensorsReject, HeaderNotJson) {
  expectRejected("{\"a\": ", "", "header is not valid JSON");
  expectRejected("{\"a\xff\": {}}", "", "header is not valid JSON");
}

TEST_F(SafetensorsReject, HeaderNotAnObject) {
  expectRejected("[1, 2]", "", "header is not a JSON object");
  expectRejected("\"text\"", "", "header is not a JSON object");
}

TEST_F(SafetensorsReject, EntryNotAnObject) {
  expectRejected(R"({"a": 5})", "", "\"a\": entry is not a JSON object");
}

TEST_F(SafetensorsReject, MissingOrUnknownField) {
  expectRejected(R"({"a": {"dtype": "F32", "shape": [1]}})", kEightBytes,
                 "missing field \"data_offsets\"");
  expectRejected(
      R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}})",
      kEightBytes, "unknown field \"x\"");
}

TEST_F(SafetensorsReject, EmptyName) {
  expectRejected(
      R"({"": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}})",
      kEightBytes, "empty name");
}

TEST_F(SafetensorsReject, DuplicateName) {
  expectRejected(R"({"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
                     "a": {"dtype": "F32", "shape": [], "data_offsets": [4, 8]}})",
                 kEightBytes, "header has key \"a\" twice");
}

TEST_F(SafetensorsReject, UnknownDType) {
  expectRejected(
      R"({"a": {"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}})",
      kEightBytes, "unknown dtype \"F31\"");
  expectRejected(
      R"({"a": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}})",
      kEightBytes, "unknown dtype \"f32\"");
  expectRejected(R"({"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})",
                 kEightBytes, "dtype is not a string");
}

TEST_F(SafetensorsReject, ShapeNotAListOfNonNegativeIntegers) {
  const char *badShapes[] = {"4",       "\"4\"", "[-1]", "[2.0]",
                             "[\"2\"]", "[[2]]", "null"};
  for (const char *shape : badShapes) {
    std::string header = std::string(R"({"a": {"dtype": "U8", "shape": )") +
                         shape + R"(, "data_offsets": [0, 4]}})";
    std::string message = openError(safetensorsBytes(header, kEightBytes));
    EXPECT_NE(message.find("shape is not a list"), std::string::npos)
        << shape << ": " << message;
  }
}

TEST_F(SafetensorsReject, ByteSizeDiffersFromShape) {
  expectRejected(
      R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})",
      kEightBytes, "needs 8 bytes but data_offsets hold 4");
  expectRejected(
      R"({"a": {"dtype": "BF16", "shape": [], "data_offsets": [0, 4]}})",
      kEightBytes, "needs 2 bytes but data_offsets hold 4");
  expectRejected(
      R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 4]}})",
      kEightBytes, "needs 0 bytes but data_offsets hold 4");
}

TEST_F(SafetensorsReject, HugeShapesDoNotWrapAround) {
  // 2^61 f64 elements are 2^64 bytes: 0 in 64-bit arithmetic.
  expectRejected(
      R"({"a": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 0]}})",
      "", "more than the data area holds");
  expectRejected(
      R"({"a": {"dtype": "U8", "shape": [4611686018427387904, 4611686018427387904], "data_offsets": [0, 0]}})",
      "", "too many elements");
  expectRejected(
      R"({"a": {"dtype": "F32", "shape": [4611686018427387904, 4611686018427387904, 0], "data_offsets": [0, 0]}})",
      "", "too many elements");
  expectRejected(
      R"({"a": {"dtype": "F32", "shape": [18446744073709551615], "data_offsets": [0, 0]}})",
      "", "shape is not a list");
}

TEST_F(SafetensorsReject, DTypesPgcCannotHoldAreSizeCheckedThenRefusedAtLoad) {
  expectRejected(
      R"({"a": {"dtype": "I16", "shape": [3], "data_offsets": [0, 8]}})",
      kEightBytes, "needs 6 bytes but data_offsets hold 8");
  expectRejected(
      R"({"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}})",
      kEightBytes, "does not fill whole bytes");
  expectRejected(
      R"({"a": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [0, 2]}})",
      kEightBytes, "needs 4 bytes but data_offsets hold 2");

  std::string path = scratch_.file("i16.safetensors");
  test::writeBytes(
      path,
      safetensorsBytes(
          R"({"a": {"dtype": "I16", "shape": [2, 2], "data_offsets": [0, 8]},
              "b": {"dtype": "F4", "shape": [4], "data_offsets": [8, 10]}})",
          std::string(10, '\0')));
  SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_NE(file.find("a"), nullptr);
  EXPECT_FALSE(file.find("a")->loadable);
  EXPECT_EQ(file.find("a")->storedDType, "I16");
  EXPECT_EQ(errorFrom([&] { file.tensor("a"); }),
            path + ": tensor \"a\" has dtype I16, which pgc cannot load");
  EXPECT_NE(errorFrom([&] { file.tensor("b"); }).find("F4, which pgc cannot"),
            std::string::npos);
}

TEST_F(SafetensorsReject, MalformedOffsets) {
  const char *badOffsets[] = {"[0]",        "[0, 4, 8]", "[-4, 0]",
                              "[0, \"4\"]", "[0.0, 4]",  "{}"};
  for (const char *offsets : badOffsets) {
    std::string header =
        std::string(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": )") +
        offsets + "}}";
    std::string message = openError(safetensorsBytes(header, kEightBytes));
    EXPECT_NE(message.find("data_offsets is not a list of two"),
              std::string::npos)
        << offsets << ": " << message;
  }
}

TEST_F(SafetensorsReject, OffsetsOutsideTheDataArea) {
  expectRejected(
      R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [6, 10]}})",
      kEightBytes, "run past the data area (8 bytes)");
  expectRejected(
      R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [9, 9]}})",
      kEightBytes, "run past the data area");
}

TEST_F(SafetensorsReject, EndBeforeBegin) {
  expectRejected(
      R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [8, 4]}})",
      kEightBytes, "end before they begin");
}

TEST_F(SafetensorsReject, OverlappingTensors) {
  expectRejected(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                     "b": {"dtype": "U8", "shape": [4], "data_offsets": [3, 7]}})",
                 kEightBytes, "tensors \"a\" and \"b\" overlap");
  // Header order does not matter; a small tensor inside a big one after a
  // third that ends earlier is still caught.
  expectRejected(R"({"c": {"dtype": "U8", "shape": [1], "data_offsets": [6, 7]},
                     "a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
                     "b": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                 kEightBytes, "tensors \"a\" and \"b\" overlap");
  // Touching is not overlapping.
  expectAccepted(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                     "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})",
                 kEightBytes);
}

// Hugging Face's safetensors refuses any byte of the data area that no
// tensor covers; pgc does too, and the independent reference (which applies
// HF's rule) must agree on every case.
TEST_F(SafetensorsReject, GapsAndTrailingBytesAreRejectedAsHuggingFaceDoes) {
  const std::pair<std::string, std::string> cases[] = {
      // A leading gap.
      {R"({"a": {"dtype": "U8", "shape": [7], "data_offsets": [1, 8]}})",
       "tensor \"a\" begins at byte 1 of the data area, not 0"},
      // A gap between tensors, whatever the header order.
      {R"({"b": {"dtype": "U8", "shape": [3], "data_offsets": [5, 8]},
           "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})",
       "tensor \"b\" begins at byte 5 of the data area, but \"a\" ends at 4"},
      // Bytes after the last tensor.
      {R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})",
       "the tensors end at byte 4 of the data area, which has 8 bytes"},
      // Data but no tensor at all.
      {"{}    ", "the tensors end at byte 0 of the data area, which has 8"},
      // An empty tensor inside another one's bytes.
      {R"({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
           "e": {"dtype": "F32", "shape": [0], "data_offsets": [3, 3]}})",
       "tensors \"a\" and \"e\" overlap"},
  };
  for (const auto &[header, phrase] : cases) {
    expectRejected(header, kEightBytes, phrase);
    std::string path = scratch_.file("gap" + std::to_string(count_++));
    test::writeBytes(path, safetensorsBytes(header, kEightBytes));
    EXPECT_NE(test::referenceRejection(path), "") << header;
  }
}

TEST_F(SafetensorsReject,
       BackToBackTensorsAndEmptyOnesAtBoundariesAreAccepted) {
  const std::string accepted[] = {
      R"({"b": {"dtype": "U8", "shape": [3], "data_offsets": [5, 8]},
          "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [5, 5]},
          "a": {"dtype": "U8", "shape": [5], "data_offsets": [0, 5]},
          "f": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]},
          "g": {"dtype": "BF16", "shape": [0], "data_offsets": [0, 0]}})",
      R"({"a": {"dtype": "F64", "shape": [], "data_offsets": [0, 8]}})",
  };
  for (const std::string &header : accepted) {
    expectAccepted(header, kEightBytes);
    std::string path = scratch_.file("ok" + std::to_string(count_++));
    test::writeBytes(path, safetensorsBytes(header, kEightBytes));
    EXPECT_EQ(test::referenceRejection(path), "") << header;
  }
  expectAccepted("{}", "");
  expectAccepted("{}    ", "");
}

TEST_F(SafetensorsReject, MetadataMustMapStringsToStrings) {
  expectRejected(R"({"__metadata__": {"k": 1}})", "",
                 "__metadata__ value for \"k\" is not a string");
  expectRejected(R"({"__metadata__": ["k"]})", "",
                 "__metadata__ is not a JSON object");
}

TEST_F(SafetensorsReject, NamesInErrorsStayOnOneLine) {
  std::string message = openError(safetensorsBytes(
      R"({"a\nb": {"dtype": "F31", "shape": [], "data_offsets": [0, 4]}})",
      kEightBytes));
  EXPECT_NE(message.find("tensor \"a\\x0ab\""), std::string::npos) << message;
}

TEST_F(SafetensorsReject, MissingFileOrFolder) {
  std::string missing = scratch_.file("absent.safetensors");
  EXPECT_EQ(errorFrom([&] {
              SafetensorsFile::open(missing);
            }).rfind(missing + ": cannot open", 0),
            0u);
  EXPECT_EQ(errorFrom([&] { SafetensorsFile::open(scratch_.path()); }),
            scratch_.path() + ": not a regular file");
}

TEST_F(SafetensorsReject, MisalignedDataGivesAnAlignedCopy) {
  // A 63-byte header puts the data area at byte 71 of the file: the f32
  // tensor at offset 0 is misaligned in the mapping, yet legal.
  std::string header =
      R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  header.resize(63, ' ');
  std::string data = std::string("\x00\x00\x80\x3f", 4) +
                     std::string("\x00\x00\x00\xc0", 4); // 1.0f, -2.0f
  std::string path = scratch_.file("odd.safetensors");
  test::writeBytes(path, safetensorsBytes(header, data));
  Tensor x = SafetensorsFile::open(path).tensor("x");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.raw()) % 4, 0u);
  EXPECT_EQ(x.at(0), 1.0);
  EXPECT_EQ(x.at(1), -2.0);
  EXPECT_EQ(test::referenceRejection(path), "");
}

} // namespace
} // namespace pgc
