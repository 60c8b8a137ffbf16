// Loading HF PaliGemma checkpoints: both name layouts, bf16/f16 storage,
// shards, and each error case.
#include "ModelTestSupport.h"

#include "models/paligemma/Weights.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/weights/Safetensors.h"

#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pgc::models {
namespace {

using namespace testing;
using Tensors = std::vector<std::pair<std::string, Tensor>>;

class CheckpointLoadTest : public ::testing::Test {
protected:
  void SetUp() override {
    config = loadPaliGemmaConfig(goldenPath("config.json"));
    Checkpoint golden = Checkpoint::open(goldenPath("model.safetensors"));
    for (const std::string &name : golden.names())
      tensors.emplace_back(name, golden.load(name, DType::F32));
    folder = temporaryFolder();
  }

  std::string write(const Tensors &contents, const std::string &file) {
    std::string path = folder + "/" + file;
    writeSafetensors(path, contents);
    return path;
  }

  // Loads `path` into a fresh f32 session; returns the warnings.
  std::vector<std::string> load(const std::string &path,
                                Session *into = nullptr) {
    Session session = makeForwardSession(config, 1, 20);
    std::vector<std::string> warnings;
    loadPaliGemmaWeights(session, Checkpoint::open(path),
                         [&](const std::string &w) { warnings.push_back(w); });
    EXPECT_TRUE(session.unsetParameters().empty());
    if (into)
      *into = std::move(session);
    return warnings;
  }

  std::string loadError(const Tensors &contents) {
    try {
      load(write(contents, "bad.safetensors"));
    } catch (const Error &e) {
      return e.what();
    }
    return "no error";
  }

  Tensors replaced(const std::string &name, const Tensor &value) {
    Tensors result = tensors;
    for (auto &[n, t] : result)
      if (n == name)
        t = value;
    return result;
  }

  PaliGemmaConfig config;
  Tensors tensors;
  std::string folder;
};

TEST_F(CheckpointLoadTest, NewerLayoutNamesMapToTheLegacyParameters) {
  EXPECT_EQ(
      legacyParameterName("model.language_model.layers.0.mlp.up_proj.weight"),
      "language_model.model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(legacyParameterName(
                "model.vision_tower.vision_model.post_layernorm.bias"),
            "vision_tower.vision_model.post_layernorm.bias");
  EXPECT_EQ(legacyParameterName("model.multi_modal_projector.linear.weight"),
            "multi_modal_projector.linear.weight");
  EXPECT_EQ(legacyParameterName("lm_head.weight"), kTiedLmHeadName);

  Tensors newer;
  const Tensor *embed = nullptr;
  for (const auto &[name, tensor] : tensors) {
    const std::string legacyText = "language_model.model.";
    std::string renamed =
        name.rfind(legacyText, 0) == 0
            ? "model.language_model." + name.substr(legacyText.size())
            : "model." + name;
    newer.emplace_back(renamed, tensor);
    if (name == "language_model.model.embed_tokens.weight")
      embed = &tensor;
  }
  ASSERT_NE(embed, nullptr);
  newer.emplace_back("lm_head.weight", *embed);
  Session session = makeForwardSession(config, 1, 20);
  EXPECT_TRUE(load(write(newer, "newer.safetensors"), &session).empty());
  const Tensor &loaded = session.parameter(
      "language_model.model.layers.1.self_attn.k_proj.weight");
  for (const auto &[name, tensor] : tensors)
    if (name == "language_model.model.layers.1.self_attn.k_proj.weight")
      EXPECT_EQ(maxAbsDifference(loaded, tensor), 0.0);
}

TEST_F(CheckpointLoadTest, Bf16AndF16StorageConvertToTheParameterDtype) {
  for (DType storage : {DType::BF16, DType::F16}) {
    Tensors converted;
    for (const auto &[name, tensor] : tensors)
      converted.emplace_back(name, tensor.to(storage));
    Session session = makeForwardSession(config, 1, 20);
    load(write(converted, "half.safetensors"), &session);
    const char *name = "multi_modal_projector.linear.weight";
    for (const auto &[n, t] : converted)
      if (n == name)
        EXPECT_EQ(maxAbsDifference(session.parameter(name), t.to(DType::F32)),
                  0.0);
  }
}

TEST_F(CheckpointLoadTest, ShardedCheckpointsLoadThroughTheIndex) {
  Tensors first(tensors.begin(), tensors.begin() + tensors.size() / 2);
  Tensors second(tensors.begin() + tensors.size() / 2, tensors.end());
  write(first, "model-00001-of-00002.safetensors");
  write(second, "model-00002-of-00002.safetensors");
  nlohmann::json index;
  for (const auto &[name, tensor] : first)
    index["weight_map"][name] = "model-00001-of-00002.safetensors";
  for (const auto &[name, tensor] : second)
    index["weight_map"][name] = "model-00002-of-00002.safetensors";
  writeFileAtomically(folder + "/model.safetensors.index.json", index.dump());
  EXPECT_TRUE(load(folder).empty());
}

TEST_F(CheckpointLoadTest, MissingTensorIsAnErrorNamingIt) {
  Tensors without;
  for (const auto &entry : tensors)
    if (entry.first != "language_model.model.layers.1.mlp.down_proj.weight")
      without.push_back(entry);
  std::string error = loadError(without);
  EXPECT_NE(error.find("bad.safetensors: tensor "
                       "'language_model.model.layers.1.mlp.down_proj.weight' "
                       "is missing (the model expects f32 [64, 128])"),
            std::string::npos)
      << error;
}

TEST_F(CheckpointLoadTest, WrongShapeIsAnErrorNamingBothShapes) {
  std::string error = loadError(replaced(
      "vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight",
      Tensor(DType::F32, {32, 16})));
  EXPECT_NE(error.find("'vision_tower.vision_model.encoder.layers.0.self_attn."
                       "q_proj.weight' has shape [32, 16], the model expects "
                       "[32, 32]"),
            std::string::npos)
      << error;
}

TEST_F(CheckpointLoadTest, WrongDtypeIsAnErrorNamingTheTensor) {
  std::string error = loadError(
      replaced("language_model.model.norm.weight", Tensor(DType::I64, {64})));
  EXPECT_NE(error.find("'language_model.model.norm.weight' has dtype I64, "
                       "expected F32, BF16 or F16"),
            std::string::npos)
      << error;
}

TEST_F(CheckpointLoadTest, TiedLmHeadOfAnotherShapeIsAnError) {
  Tensors withHead = tensors;
  withHead.emplace_back(kTiedLmHeadName, Tensor(DType::F32, {320, 32}));
  std::string error = loadError(withHead);
  EXPECT_NE(error.find("'language_model.lm_head.weight' has shape [320, 32], "
                       "the model ties it to embed_tokens [320, 64]"),
            std::string::npos)
      << error;
}

TEST_F(CheckpointLoadTest, UnknownExtraTensorIsOnlyAWarning) {
  Tensors extra = tensors;
  extra.emplace_back("vision_tower.vision_model.head.probe",
                     Tensor(DType::F32, {1, 1, 32}));
  std::vector<std::string> warnings = load(write(extra, "extra.safetensors"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("'vision_tower.vision_model.head.probe' is not a "
                             "parameter of the model"),
            std::string::npos);
}

TEST_F(CheckpointLoadTest, BothLayoutsOfOneParameterIsAnError) {
  Tensors both = tensors;
  both.emplace_back("model.language_model.norm.weight",
                    Tensor(DType::F32, {64}));
  EXPECT_NE(loadError(both).find("same parameter "
                                 "'language_model.model.norm.weight'"),
            std::string::npos);
}

} // namespace
} // namespace pgc::models
