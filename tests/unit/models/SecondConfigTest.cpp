// A second PaliGemma configuration (nothing of set A hard-coded): shapes,
// parameter names, and prefix-LM semantics.
#include "ModelTestSupport.h"

#include <cmath>
#include <gtest/gtest.h>
#include <map>

namespace pgc::models {
namespace {

// 3 vision layers of 3 heads, 6 x 6 patches of 4 x 4 pixels from 2 channels;
// 3 decoder layers, 6 query heads over 2 KV heads of 12 (6 * 12 != 40), a
// vocabulary of 97 and an <image> id outside it.
constexpr const char *kSecondConfig = R"({
  "model_type": "paligemma", "image_token_index": 100, "projection_dim": 40,
  "vision_config": {"hidden_size": 24, "intermediate_size": 40,
    "num_hidden_layers": 3, "num_attention_heads": 3, "num_channels": 2,
    "image_size": 24, "patch_size": 4, "layer_norm_eps": 1e-5},
  "text_config": {"hidden_size": 40, "intermediate_size": 56,
    "num_hidden_layers": 3, "num_attention_heads": 6, "num_key_value_heads": 2,
    "head_dim": 12, "vocab_size": 97, "rms_norm_eps": 1e-5,
    "rope_theta": 500.0}})";

constexpr int64_t kBatch = 2, kImageTokens = 36, kText = 9,
                  kLength = kImageTokens + kText;

class SecondConfigTest : public ::testing::Test {
protected:
  explicit SecondConfigTest(DType dtype = DType::F32)
      : config(parsePaliGemmaConfig(kSecondConfig, "second.json")),
        session(testing::makeForwardSession(config, kBatch, kLength, dtype,
                                            /*withTrainStep=*/true)) {
    session.initializeParameters(7);
    // Gemma's norm weights start at zero; make every parameter matter.
    for (const PlanParameter &p : session.plan().parameters) {
      Tensor value = session.parameter(p.name).clone();
      for (int64_t i = 0; i < value.numel(); ++i)
        value.set(i, value.at(i) + 0.05 * std::sin(double(i) + p.name.size()));
      session.setParameter(p.name, value);
    }
    batch["pixel_values"] = Tensor(DType::F32, {kBatch, 2, 24, 24});
    for (int64_t i = 0; i < batch["pixel_values"].numel(); ++i)
      batch["pixel_values"].set(i, std::cos(0.37 * double(i)));
    for (const char *name :
         {"input_ids", "attention_mask", "token_type_ids", "labels"})
      batch[name] = Tensor(DType::I64, {kBatch, kLength});
    // Row 0: 36 images, bos, prefix 3, "\n", suffix 3, eos. Row 1: 2 pads.
    for (int64_t b = 0; b < kBatch; ++b)
      for (int64_t l = 0; l < kLength; ++l) {
        int64_t i = b * kLength + l, t = l - kImageTokens;
        bool pad = b == 1 && l >= kLength - 2;
        int64_t id = l < kImageTokens ? 100 : t == 0 ? 2 : 3 + (7 * i) % 90;
        batch["input_ids"].set(i, pad ? 0 : id);
        batch["attention_mask"].set(i, pad ? 0 : 1);
        batch["token_type_ids"].set(i, t >= 5 ? 1 : 0);
        batch["labels"].set(i, t >= 5 && !pad ? id : -100);
      }
  }

  TensorMap run() { return session.run("forward", batch); }

  PaliGemmaConfig config;
  Session session;
  TensorMap batch;
};

TEST_F(SecondConfigTest, ParametersHaveTheConfiguredShapes) {
  std::map<std::string, Shape> shapes;
  for (const PlanParameter &p : session.plan().parameters)
    shapes[p.name] = session.parameter(p.name).shape();
  const std::string v = "vision_tower.vision_model.",
                    t = "language_model.model.";
  EXPECT_EQ(shapes[v + "embeddings.patch_embedding.weight"],
            (Shape{24, 2, 4, 4}));
  EXPECT_EQ(shapes[v + "embeddings.position_embedding.weight"],
            (Shape{36, 24}));
  EXPECT_EQ(shapes[v + "encoder.layers.2.mlp.fc1.weight"], (Shape{40, 24}));
  EXPECT_EQ(shapes[v + "encoder.layers.2.self_attn.k_proj.bias"], (Shape{24}));
  EXPECT_EQ(shapes["multi_modal_projector.linear.weight"], (Shape{40, 24}));
  EXPECT_EQ(shapes[t + "embed_tokens.weight"], (Shape{97, 40}));
  EXPECT_EQ(shapes[t + "layers.2.self_attn.q_proj.weight"], (Shape{72, 40}));
  EXPECT_EQ(shapes[t + "layers.2.self_attn.k_proj.weight"], (Shape{24, 40}));
  EXPECT_EQ(shapes[t + "layers.2.self_attn.o_proj.weight"], (Shape{40, 72}));
  EXPECT_EQ(shapes[t + "layers.2.mlp.down_proj.weight"], (Shape{40, 56}));
  EXPECT_EQ(shapes[t + "norm.weight"], (Shape{40}));
  // 16 per vision layer + 4, 2 projector, 9 per decoder layer + 2.
  EXPECT_EQ(shapes.size(), 3u * 16 + 5 + 2 + 3 * 9 + 2);
  EXPECT_EQ(shapes.count("language_model.lm_head.weight"), 0u);
}

TEST_F(SecondConfigTest, ForwardGivesLogitsOverTheVocabularyAndAFiniteLoss) {
  TensorMap out = run();
  EXPECT_EQ(out["logits"].shape(), (Shape{kBatch, kLength, 97}));
  EXPECT_EQ(out["logits"].dtype(), DType::F32);
  EXPECT_EQ(out["loss"].shape(), Shape{});
  EXPECT_TRUE(std::isfinite(out["loss"].at(0)));
  EXPECT_GT(out["loss"].at(0), 0.0);
}

// Prefix rows see only the prefix; a suffix row sees what comes before it;
// pads are invisible. Changing one token must change exactly the rows that
// may attend to it.
TEST_F(SecondConfigTest, OnlyRowsThatMayAttendToATokenDependOnIt) {
  Tensor before = run()["logits"];
  auto changedRows = [&](int64_t b, int64_t l, int64_t newId) {
    int64_t saved = int64_t(batch["input_ids"].at(b * kLength + l));
    batch["input_ids"].set(b * kLength + l, newId);
    Tensor after = run()["logits"];
    batch["input_ids"].set(b * kLength + l, saved);
    std::vector<int64_t> rows;
    for (int64_t r = 0; r < kLength; ++r) {
      double worst = 0;
      for (int64_t v = 0; v < 97; ++v) {
        int64_t i = (b * kLength + r) * 97 + v;
        worst = std::max(worst, std::fabs(after.at(i) - before.at(i)));
      }
      if (worst > 0)
        rows.push_back(r);
    }
    return rows;
  };
  auto range = [](int64_t from, int64_t to) {
    std::vector<int64_t> rows;
    for (int64_t r = from; r < to; ++r)
      rows.push_back(r);
    return rows;
  };
  // A prefix token (type 0) is seen by every row.
  EXPECT_EQ(changedRows(0, kImageTokens + 2, 50), range(0, kLength));
  // A suffix token is seen by itself and later rows only.
  EXPECT_EQ(changedRows(0, kImageTokens + 6, 50),
            range(kImageTokens + 6, kLength));
  // A pad is seen by nobody but itself.
  EXPECT_EQ(changedRows(1, kLength - 2, 50), std::vector<int64_t>{kLength - 2});
}

TEST_F(SecondConfigTest, EachExampleSeesOnlyItsOwnImage) {
  TensorMap out = run();
  for (int64_t i = 0; i < batch["pixel_values"].numel() / 2; ++i)
    batch["pixel_values"].set(i, 0.0);
  Tensor after = run()["logits"];
  // Example 0's image changed, example 1's did not.
  double first = 0, second = 0;
  for (int64_t i = 0; i < kLength * 97; ++i) {
    first = std::max(first, std::fabs(after.at(i) - out["logits"].at(i)));
    int64_t j = kLength * 97 + i;
    second = std::max(second, std::fabs(after.at(j) - out["logits"].at(j)));
  }
  EXPECT_GT(first, 0.0);
  EXPECT_EQ(second, 0.0);
}

// The same model in f64, train_step against central finite differences of
// the loss: for every parameter, at its largest-gradient element and one
// other element.
class SecondConfigGradientTest : public SecondConfigTest {
protected:
  SecondConfigGradientTest() : SecondConfigTest(DType::F64) {}

  double lossWith(const std::string &name, int64_t index, double value) {
    Tensor changed = session.parameter(name).clone();
    double saved = changed.at(index);
    changed.set(index, value);
    session.setParameter(name, changed);
    double loss = session.run("forward", batch)["loss"].at(0);
    changed.set(index, saved);
    session.setParameter(name, changed);
    return loss;
  }
};

TEST_F(SecondConfigGradientTest, EveryGradientMatchesF64FiniteDifferences) {
  TensorMap out = session.run("train_step", batch);
  EXPECT_EQ(out["loss"].dtype(), DType::F64);
  const double step = 1e-6;
  size_t checked = 0;
  for (const PlanParameter &p : session.plan().parameters) {
    const Tensor &grad = out.at("grad." + p.name);
    ASSERT_EQ(grad.shape(), session.parameter(p.name).shape()) << p.name;
    int64_t largest = 0;
    for (int64_t i = 1; i < grad.numel(); ++i)
      if (std::fabs(grad.at(i)) > std::fabs(grad.at(largest)))
        largest = i;
    double scale = std::fabs(grad.at(largest));
    for (int64_t index : {largest, (grad.numel() * 5) / 7}) {
      double x = session.parameter(p.name).at(index);
      double numeric = (lossWith(p.name, index, x + step) -
                        lossWith(p.name, index, x - step)) /
                       (2 * step);
      EXPECT_NEAR(grad.at(index), numeric, 1e-6 * scale + 1e-9)
          << p.name << "[" << index << "]";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2u * session.plan().parameters.size());
}

} // namespace
} // namespace pgc::models
