// Checkpoints: single files, folders and sharded indexes, their errors, and
// dtype conversion on load.
#include "runtime/weights/Safetensors.h"
#include "tests/unit/weights/WeightsTestSupport.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

namespace pgc {
namespace {

using test::errorFrom;
using test::ScratchDir;

Tensor floats(DType dtype, const std::vector<double> &values) {
  Tensor t(dtype, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i)
    t.set(static_cast<int64_t>(i), values[i]);
  return t;
}

Tensor bits16(DType dtype, const std::vector<uint16_t> &bits) {
  Tensor t(dtype, {static_cast<int64_t>(bits.size())});
  std::memcpy(t.raw(), bits.data(), bits.size() * 2);
  return t;
}

std::vector<uint16_t> bitsOf(const Tensor &t) {
  std::vector<uint16_t> bits(t.numel());
  std::memcpy(bits.data(), t.raw(), t.byteSize());
  return bits;
}

// Two shards and an index: a and b in the first, c in the second.
class ShardedCheckpoint : public ::testing::Test {
protected:
  void SetUp() override {
    writeSafetensors(
        scratch_.file("part-1.safetensors"),
        {{"b", floats(DType::F32, {1, 2})}, {"a", floats(DType::F32, {3})}});
    writeSafetensors(scratch_.file("part-2.safetensors"),
                     {{"c", floats(DType::I64, {7, 8, 9})}});
  }
  std::string writeIndex(const std::string &weightMap) {
    std::string path = scratch_.file("model.safetensors.index.json");
    test::writeBytes(path,
                     R"({"metadata": {"total_size": 32}, "weight_map": )" +
                         weightMap + "}");
    return path;
  }
  std::string indexError(const std::string &weightMap) {
    std::string path = writeIndex(weightMap);
    std::string message = errorFrom([&] { Checkpoint::open(path); });
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    return message;
  }
  const std::string kGoodMap = R"({"a": "part-1.safetensors",
      "b": "part-1.safetensors", "c": "part-2.safetensors"})";
  ScratchDir scratch_;
};

TEST_F(ShardedCheckpoint, FindsNamesAcrossShards) {
  std::string index = writeIndex(kGoodMap);
  for (const std::string &opened : {index, scratch_.path()}) {
    Checkpoint checkpoint = Checkpoint::open(opened);
    EXPECT_EQ(checkpoint.path(), index);
    EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"b", "a", "c"}));
    ASSERT_NE(checkpoint.find("c"), nullptr);
    EXPECT_EQ(checkpoint.find("c")->shape, (Shape{3}));
    EXPECT_EQ(checkpoint.find("zz"), nullptr);
    EXPECT_EQ(checkpoint.fileOf("c")->path(),
              scratch_.file("part-2.safetensors"));
    Tensor c = checkpoint.load("c", DType::I64);
    EXPECT_EQ(c.data<int64_t>()[2], 9);
    EXPECT_EQ(checkpoint.load("a", DType::F32).at(0), 3.0);
  }
}

TEST_F(ShardedCheckpoint, MissingShardFile) {
  std::string message = indexError(R"({"a": "part-1.safetensors",
      "b": "part-1.safetensors", "c": "part-9.safetensors"})");
  EXPECT_NE(message.find("shard " + scratch_.file("part-9.safetensors") +
                         " (for tensor \"c\") does not exist"),
            std::string::npos)
      << message;
}

TEST_F(ShardedCheckpoint, NameMappedToAShardWithoutIt) {
  std::string message = indexError(R"({"a": "part-2.safetensors",
      "b": "part-1.safetensors", "c": "part-2.safetensors"})");
  EXPECT_NE(message.find("tensor \"a\" is mapped to " +
                         scratch_.file("part-2.safetensors") +
                         ", which does not contain it"),
            std::string::npos)
      << message;
}

TEST_F(ShardedCheckpoint, NameInTwoShards) {
  writeSafetensors(
      scratch_.file("part-2.safetensors"),
      {{"c", floats(DType::I64, {7})}, {"a", floats(DType::F32, {0})}});
  std::string message = indexError(kGoodMap);
  EXPECT_NE(message.find("tensor \"a\" is in both " +
                         scratch_.file("part-1.safetensors") + " and " +
                         scratch_.file("part-2.safetensors")),
            std::string::npos)
      << message;
}

TEST_F(ShardedCheckpoint, ShardTensorMissingFromTheWeightMap) {
  std::string message = indexError(R"({"a": "part-1.safetensors",
      "c": "part-2.safetensors"})");
  EXPECT_NE(message.find("tensor \"b\" in " +
                         scratch_.file("part-1.safetensors") +
                         " is missing from the weight_map"),
            std::string::npos)
      << message;
}

TEST_F(ShardedCheckpoint, MalformedIndex) {
  EXPECT_NE(indexError(R"({"a": "part-1.safetensors",)")
                .find("index is not valid JSON"),
            std::string::npos);
  EXPECT_NE(indexError(R"({"a": 3})")
                .find("weight_map entry for \"a\" is not a string"),
            std::string::npos);
  EXPECT_NE(
      indexError(R"({"a": "part-1.safetensors", "a": "part-1.safetensors"})")
          .find("index has key \"a\" twice"),
      std::string::npos);
  EXPECT_NE(
      indexError(R"({"a": "/etc/passwd"})").find("not a file name next to"),
      std::string::npos);
  // Relative names that leave the folder, or reach into a subfolder.
  for (const char *shard :
       {"../part-1.safetensors", "sub/part-1.safetensors", "..", "."})
    EXPECT_NE(indexError(std::string(R"({"a": ")") + shard + "\"}")
                  .find("not a file name next to"),
              std::string::npos)
        << shard;
  std::string path = scratch_.file("other.index.json");
  test::writeBytes(path, R"({"weights": {}})");
  EXPECT_EQ(errorFrom([&] { Checkpoint::open(path); }),
            path + ": index has no \"weight_map\" object");
}

TEST_F(ShardedCheckpoint, CorruptShardIsNamed) {
  test::writeBytes(scratch_.file("part-2.safetensors"), "garbage");
  std::string message =
      errorFrom([&] { Checkpoint::open(writeIndex(kGoodMap)); });
  EXPECT_EQ(message.rfind(scratch_.file("part-2.safetensors") + ": ", 0), 0u)
      << message;
}

TEST(Checkpoint, FolderPrefersTheSingleFileAndNeedsOne) {
  ScratchDir scratch;
  EXPECT_NE(errorFrom([&] {
              Checkpoint::open(scratch.path());
            }).find("folder holds neither model.safetensors nor"),
            std::string::npos);
  writeSafetensors(scratch.file("model.safetensors"),
                   {{"w", floats(DType::F32, {1})}});
  test::writeBytes(scratch.file("model.safetensors.index.json"), "broken");
  Checkpoint checkpoint = Checkpoint::open(scratch.path());
  EXPECT_EQ(checkpoint.path(), scratch.file("model.safetensors"));
  EXPECT_EQ(checkpoint.names(), std::vector<std::string>{"w"});
}

TEST(Checkpoint, LoadErrorsNameTheTensorAndTheFile) {
  ScratchDir scratch;
  std::string path = scratch.file("m.safetensors");
  writeSafetensors(path, {{"ids", floats(DType::I64, {1, 2})},
                          {"w", floats(DType::F32, {1})}});
  Checkpoint checkpoint = Checkpoint::open(path);
  EXPECT_EQ(errorFrom([&] { checkpoint.load("nope", DType::F32); }),
            path + ": no tensor \"nope\"");
  EXPECT_EQ(errorFrom([&] { checkpoint.load("ids", DType::I32); }),
            path + ": tensor \"ids\" is i64, cannot load it as i32 (only "
                   "floating-point dtypes convert)");
  EXPECT_NE(errorFrom([&] { checkpoint.load("ids", DType::F32); }), "");
  EXPECT_NE(errorFrom([&] {
              checkpoint.load("w", DType::I64);
            }).find("tensor \"w\" is f32, cannot load it as i64"),
            std::string::npos);
}

TEST(Checkpoint, LoadReturnsAWritableCopy) {
  ScratchDir scratch;
  std::string path = scratch.file("m.safetensors");
  writeSafetensors(path, {{"w", floats(DType::F32, {1, 2})}});
  Checkpoint checkpoint = Checkpoint::open(path);
  Tensor loaded = checkpoint.load("w", DType::F32);
  EXPECT_NE(loaded.raw(), checkpoint.view("w").raw());
  loaded.set(0, 5); // would fault on the read-only mapping
  EXPECT_EQ(checkpoint.view("w").at(0), 1.0);
}

// Expected bit patterns are worked out by hand from the IEEE formats.
TEST(Checkpoint, F32ToBf16RoundsToNearestEven) {
  ScratchDir scratch;
  std::string path = scratch.file("m.safetensors");
  const std::vector<double> values = {
      1.0,
      1.0 + std::ldexp(1, -8),     // halfway: stays even 0x3f80
      1.0 + 3 * std::ldexp(1, -8), // halfway: up to even 0x3f82
      1.0 + std::ldexp(1, -8) + std::ldexp(1, -20), // above halfway: 0x3f81
      -2.5,
      std::ldexp(1, -133), // f32 subnormal, exact in bf16: 0x0001
  };
  writeSafetensors(path, {{"w", floats(DType::F32, values)}});
  Tensor loaded = Checkpoint::open(path).load("w", DType::BF16);
  EXPECT_EQ(loaded.dtype(), DType::BF16);
  EXPECT_EQ(bitsOf(loaded), (std::vector<uint16_t>{0x3f80, 0x3f80, 0x3f82,
                                                   0x3f81, 0xc020, 0x0001}));
}

TEST(Checkpoint, F32ToF16RoundsToNearestEven) {
  ScratchDir scratch;
  std::string path = scratch.file("m.safetensors");
  const std::vector<double> values = {
      1.0,
      1.0 + std::ldexp(1, -11),     // halfway: stays even 0x3c00
      1.0 + 3 * std::ldexp(1, -11), // halfway: up to even 0x3c02
      65504,                        // largest finite 0x7bff
      65520,                        // rounds past it: infinity 0x7c00
      std::ldexp(1, -24),           // smallest subnormal 0x0001
      std::ldexp(1, -25),           // halfway to it: even, zero
      3 * std::ldexp(1, -25),       // 1.5 units: up to 2 units 0x0002
      -0.0,
  };
  writeSafetensors(path, {{"w", floats(DType::F32, values)}});
  Tensor loaded = Checkpoint::open(path).load("w", DType::F16);
  EXPECT_EQ(bitsOf(loaded),
            (std::vector<uint16_t>{0x3c00, 0x3c00, 0x3c02, 0x7bff, 0x7c00,
                                   0x0001, 0x0000, 0x0002, 0x8000}));
}

TEST(Checkpoint, HalfFormatsWidenExactly) {
  ScratchDir scratch;
  std::string path = scratch.file("m.safetensors");
  writeSafetensors(path, {{"b", bits16(DType::BF16, {0x3f81, 0xc020, 0x7f80})},
                          {"h", bits16(DType::F16, {0x3555, 0x0001, 0xfc00})}});
  Checkpoint checkpoint = Checkpoint::open(path);
  Tensor b = checkpoint.load("b", DType::F32);
  EXPECT_EQ(b.data<float>()[0], 1.0078125f);
  EXPECT_EQ(b.data<float>()[1], -2.5f);
  EXPECT_EQ(b.data<float>()[2], INFINITY);
  Tensor h = checkpoint.load("h", DType::F64);
  EXPECT_EQ(h.data<double>()[0], 0.333251953125);
  EXPECT_EQ(h.data<double>()[1], std::ldexp(1, -24));
  EXPECT_EQ(h.data<double>()[2], -INFINITY);
  // bf16 -> f16: 1.0078125 needs 7 mantissa bits, f16 has 10: exact 0x3c08.
  EXPECT_EQ(bitsOf(checkpoint.load("b", DType::F16))[0], 0x3c08);
}

TEST(Checkpoint, F64NarrowsWithOneRounding) {
  ScratchDir scratch;
  std::string path = scratch.file("m.safetensors");
  writeSafetensors(path, {{"d", floats(DType::F64, {0.1, 1.0 / 3})}});
  Tensor f = Checkpoint::open(path).load("d", DType::F32);
  // 0.1 = 0x1.999999999999ap-4 rounds to f32 0x1.99999ap-4 (0x3dcccccd).
  uint32_t bits;
  std::memcpy(&bits, &f.data<float>()[0], 4);
  EXPECT_EQ(bits, 0x3dcccccdu);
  std::memcpy(&bits, &f.data<float>()[1], 4);
  EXPECT_EQ(bits, 0x3eaaaaabu); // 1/3 rounds up in its last bit
}

} // namespace
} // namespace pgc
