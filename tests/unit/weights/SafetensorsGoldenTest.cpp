// The Hugging Face golden files read as their README describes and as an
// independent Python reader sees them.
#include "runtime/weights/Safetensors.h"
#include "tests/unit/weights/WeightsTestSupport.h"

#include <gtest/gtest.h>

namespace pgc {
namespace {

const std::string kGoldenDir =
    std::string(PGC_SOURCE_DIR) + "/tests/data/golden/paligemma-tiny-a";

TEST(SafetensorsGolden, ModelHoldsTheReadmeParameters) {
  SafetensorsFile model =
      SafetensorsFile::open(kGoldenDir + "/model.safetensors");
  EXPECT_EQ(model.tensors().size(), 59u);
  for (const TensorInfo &info : model.tensors()) {
    EXPECT_EQ(info.storedDType, "F32") << info.name;
    EXPECT_EQ(info.dtype, DType::F32) << info.name;
  }
  // Shapes from the README: text hidden 64, vocab 320, MLP 128, 1 KV head of
  // 16; vision hidden 32, patch 14, 16 patches; projector 32 -> 64.
  const std::pair<const char *, Shape> expected[] = {
      {"language_model.model.embed_tokens.weight", {320, 64}},
      {"language_model.model.layers.1.mlp.gate_proj.weight", {128, 64}},
      {"language_model.model.layers.0.self_attn.k_proj.weight", {16, 64}},
      {"language_model.model.layers.0.self_attn.q_proj.weight", {64, 64}},
      {"multi_modal_projector.linear.weight", {64, 32}},
      {"multi_modal_projector.linear.bias", {64}},
      {"vision_tower.vision_model.embeddings.patch_embedding.weight",
       {32, 3, 14, 14}},
      {"vision_tower.vision_model.embeddings.position_embedding.weight",
       {16, 32}},
      {"vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight", {64, 32}},
  };
  for (const auto &[name, shape] : expected) {
    const TensorInfo *info = model.find(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->shape, shape) << name;
  }
  EXPECT_EQ(model.find("language_model.lm_head.weight"), nullptr);
  EXPECT_EQ(model.metadata().at("format"), "pt");
}

TEST(SafetensorsGolden, GoldenHoldsBatchOutputsAndOneGradientPerParameter) {
  SafetensorsFile model =
      SafetensorsFile::open(kGoldenDir + "/model.safetensors");
  SafetensorsFile golden =
      SafetensorsFile::open(kGoldenDir + "/golden.safetensors");
  const std::tuple<const char *, DType, Shape> expected[] = {
      {"pixel_values", DType::F32, {2, 3, 56, 56}},
      {"input_ids", DType::I64, {2, 27}},
      {"labels", DType::I64, {2, 27}},
      {"logits", DType::F32, {2, 27, 320}},
      {"loss", DType::F32, {1}},
      {"debug.attention_bias", DType::F32, {2, 1, 27, 27}},
      {"debug.image_features", DType::F32, {2, 16, 64}},
  };
  for (const auto &[name, dtype, shape] : expected) {
    const TensorInfo *info = golden.find(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->dtype, dtype) << name;
    EXPECT_EQ(info->shape, shape) << name;
  }
  int gradients = 0;
  for (const TensorInfo &info : golden.tensors())
    if (info.name.rfind("grad.", 0) == 0) {
      ++gradients;
      const TensorInfo *param = model.find(info.name.substr(5));
      ASSERT_NE(param, nullptr) << info.name;
      EXPECT_EQ(info.shape, param->shape) << info.name;
    }
  EXPECT_EQ(gradients, 59);
  // Layout from the README: 16 image tokens, bos (2) at 16, prefix (P = 5)
  // and "\n" at 17 + P; suffix (S = 3) and eos (1) follow, so eos is at
  // 18 + P + S; labels are -100 before the suffix.
  Tensor ids = golden.tensor("input_ids");
  EXPECT_EQ(ids.data<int64_t>()[0], 256);
  EXPECT_EQ(ids.data<int64_t>()[16], 2);
  EXPECT_EQ(ids.data<int64_t>()[17 + 5], 108);
  EXPECT_EQ(ids.data<int64_t>()[18 + 5 + 3], 1);
  Tensor labels = golden.tensor("labels");
  EXPECT_EQ(labels.data<int64_t>()[17 + 5], -100);
  EXPECT_EQ(labels.data<int64_t>()[18 + 5 + 3], 1);
}

TEST(SafetensorsGolden, ModelAgreesWithTheIndependentReader) {
  test::expectAgreesWithReference(
      SafetensorsFile::open(kGoldenDir + "/model.safetensors"));
}

TEST(SafetensorsGolden, GoldenAgreesWithTheIndependentReader) {
  test::expectAgreesWithReference(
      SafetensorsFile::open(kGoldenDir + "/golden.safetensors"));
}

TEST(SafetensorsGolden, FolderOpensAsACheckpoint) {
  Checkpoint checkpoint = Checkpoint::open(kGoldenDir);
  EXPECT_EQ(checkpoint.names().size(), 59u);
  Tensor bias =
      checkpoint.load("multi_modal_projector.linear.bias", DType::BF16);
  EXPECT_EQ(bias.shape(), (Shape{64}));
}

} // namespace
} // namespace pgc
