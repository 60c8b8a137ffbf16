// PaliGemma configs: HF defaults for absent keys, the built-in 3B variants, the
// 3B parameter count, bad input.
#include "ModelTestSupport.h"

#include "dsl/Builder.h"
#include "models/paligemma/PaliGemma.h"
#include "models/paligemma/ParameterTable.h"
#include "runtime/support/Error.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

namespace pgc::models {
namespace {

std::string errorOf(const std::string &json) {
  try {
    parsePaliGemmaConfig(json, "cfg.json");
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

TEST(PaliGemmaConfigTest, GoldenConfigReadsEveryNestedSize) {
  PaliGemmaConfig c = loadPaliGemmaConfig(testing::goldenPath("config.json"));
  EXPECT_EQ(c.vision.hiddenSize, 32);
  EXPECT_EQ(c.vision.intermediateSize, 64);
  EXPECT_EQ(c.vision.numHiddenLayers, 2);
  EXPECT_EQ(c.vision.numAttentionHeads, 4);
  EXPECT_EQ(c.vision.imageSize, 56);
  EXPECT_EQ(c.vision.patchSize, 14);
  EXPECT_EQ(c.numImageTokens(), 16);
  EXPECT_EQ(c.projectionDim, 64);
  EXPECT_EQ(c.text.hiddenSize, 64);
  EXPECT_EQ(c.text.intermediateSize, 128);
  EXPECT_EQ(c.text.numAttentionHeads, 4);
  EXPECT_EQ(c.text.numKeyValueHeads, 1);
  EXPECT_EQ(c.text.headDim, 16);
  EXPECT_EQ(c.text.vocabSize, 320);
  EXPECT_EQ(c.imageTokenIndex, 256);
  // Loading the folder finds config.json in it.
  EXPECT_EQ(loadPaliGemmaConfig(testing::goldenPath("")).text.vocabSize, 320);
}

TEST(PaliGemmaConfigTest, AbsentSectionsTakePaliGemmaConfigDefaults) {
  PaliGemmaConfig c =
      parsePaliGemmaConfig(R"({"model_type": "paligemma"})", "cfg.json");
  EXPECT_EQ(c.vision.hiddenSize, 1152);
  EXPECT_EQ(c.vision.intermediateSize, 4096);
  EXPECT_EQ(c.vision.numHiddenLayers, 27);
  EXPECT_EQ(c.vision.numAttentionHeads, 16);
  EXPECT_EQ(c.vision.patchSize, 14);
  EXPECT_EQ(c.numImageTokens(), 256);
  EXPECT_EQ(c.text.hiddenSize, 2048);
  EXPECT_EQ(c.text.numHiddenLayers, 18);
  EXPECT_EQ(c.text.intermediateSize, 16384);
  EXPECT_EQ(c.text.numAttentionHeads, 8);
  EXPECT_EQ(c.text.numKeyValueHeads, 1);
  EXPECT_EQ(c.text.headDim, 256);
  EXPECT_EQ(c.text.vocabSize, 257152);
  EXPECT_EQ(c.imageTokenIndex, 256000);
  EXPECT_EQ(c.projectionDim, 2048);
}

TEST(PaliGemmaConfigTest, GivenSectionsTakeSiglipAndGemmaDefaults) {
  PaliGemmaConfig c = parsePaliGemmaConfig(
      R"({"projection_dim": 3072, "vision_config": {"patch_size": 16},
          "text_config": {"num_attention_heads": 16}})",
      "cfg.json");
  EXPECT_EQ(c.vision.hiddenSize, 768);
  EXPECT_EQ(c.vision.intermediateSize, 3072);
  EXPECT_EQ(c.vision.numHiddenLayers, 12);
  EXPECT_EQ(c.vision.imageSize, 224);
  EXPECT_EQ(c.numImageTokens(), 196);
  EXPECT_EQ(c.text.hiddenSize, 3072);
  EXPECT_EQ(c.text.numHiddenLayers, 28);
  EXPECT_EQ(c.text.numKeyValueHeads, 16);
  EXPECT_EQ(c.text.vocabSize, 256000);
  EXPECT_DOUBLE_EQ(c.text.ropeTheta, 10000.0);
}

TEST(PaliGemmaConfigTest, BuiltinVariantsDifferOnlyInImageSize) {
  const std::pair<const char *, int64_t> variants[] = {
      {"paligemma-3b-pt-224", 256},
      {"paligemma-3b-pt-448", 1024},
      {"paligemma-3b-pt-896", 4096}};
  for (const auto &[name, tokens] : variants) {
    PaliGemmaConfig c = loadPaliGemmaConfig(name);
    EXPECT_EQ(c.numImageTokens(), tokens) << name;
    EXPECT_EQ(c.vision.intermediateSize, 4304);
    EXPECT_EQ(c.vision.hiddenSize, 1152);
    EXPECT_EQ(c.text.vocabSize, 257216);
    EXPECT_EQ(c.text.headDim, 256);
    EXPECT_EQ(c.text.numKeyValueHeads, 1);
    EXPECT_EQ(c.imageTokenIndex, 257152);
  }
}

// spec/paligemma.md §1.7: 2,923,466,480 with the tied LM head counted once.
TEST(PaliGemmaConfigTest, Builtin224HasTheReleasedParameterCount) {
  mlir::MLIRContext context;
  dsl::ModuleBuilder module(context);
  PaliGemmaBuildOptions options;
  options.shape = {1, 256 + 8};
  buildPaliGemmaForward(module, loadPaliGemmaConfig("paligemma-3b-pt-224"),
                        options);
  int64_t total = 0;
  for (const ParameterGroup &group : groupParameters(module.module()))
    total += group.elementsEach * group.instances;
  EXPECT_EQ(total, 2923466480);
  std::string table = formatParameterTable(groupParameters(module.module()));
  EXPECT_NE(table.find("total 2,923,466,480 parameters"), std::string::npos);
  EXPECT_NE(table.find("language_model.model.layers.*.mlp.gate_proj.weight"),
            std::string::npos);
}

TEST(PaliGemmaConfigTest, BadConfigsNameTheProblem) {
  EXPECT_NE(errorOf("{").find("cfg.json: not valid JSON"), std::string::npos);
  EXPECT_NE(errorOf(R"({"model_type": "llava"})").find("model_type"),
            std::string::npos);
  // A float where an integer goes: 2e264 as int64_t was undefined behaviour
  // (fuzz_paligemma_config); 2048.5 would be truncated.
  for (const char *number :
       {"2e264", "2048.5", "2048.0", "9223372036854775808"})
    EXPECT_NE(errorOf(std::string(R"({"image_token_index": )") + number + "}")
                  .find("key 'image_token_index' must be an integer"),
              std::string::npos)
        << number;
  EXPECT_NE(errorOf(R"({"text_config": {"hidden_size": "big"}})")
                .find("text_config: key 'hidden_size' has the wrong type"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"vision_config": {"hidden_size": 100,
                        "num_attention_heads": 16}})")
                .find("not a multiple of num_attention_heads"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"text_config": {"num_attention_heads": 8,
                        "num_key_value_heads": 3, "hidden_size": 2048}})")
                .find("num_key_value_heads 3"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"vision_config": {"hidden_act": "relu"}})")
                .find("hidden_act 'relu' is not supported"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"projection_dim": 100})").find("projection_dim 100"),
            std::string::npos);
  try {
    loadPaliGemmaConfig("paligemma-7b-nope");
    FAIL();
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("paligemma-3b-pt-224"),
              std::string::npos);
  }
}

} // namespace
} // namespace pgc::models
