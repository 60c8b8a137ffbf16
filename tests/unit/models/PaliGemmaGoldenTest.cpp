// PaliGemma through the `pgc forward` code path against the Hugging Face golden
// vectors of tiny model A.
#include "ModelTestSupport.h"

#include "models/paligemma/ForwardRunner.h"
#include "runtime/weights/Safetensors.h"

#include <cmath>
#include <gtest/gtest.h>

namespace pgc::models {
namespace {

using namespace testing;

class PaliGemmaGoldenTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    golden = new SafetensorsFile(
        SafetensorsFile::open(goldenPath("golden.safetensors")));
  }
  static void TearDownTestSuite() { delete golden; }

  static TensorMap run(DType dtype) {
    ForwardRequest request;
    request.config = goldenPath("config.json");
    request.weights = goldenPath("model.safetensors");
    request.batch = goldenPath("golden.safetensors");
    request.dtype = dtype;
    request.debugOutputs = true;
    std::vector<std::string> warnings;
    TensorMap outputs = runPaliGemmaForward(
        request, [&](const std::string &w) { warnings.push_back(w); });
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    return outputs;
  }

  static Tensor expected(const std::string &name) {
    return golden->tensor(name);
  }

  static SafetensorsFile *golden;
};
SafetensorsFile *PaliGemmaGoldenTest::golden = nullptr;

TEST_F(PaliGemmaGoldenTest, F32LogitsAndLossMatchHuggingFace) {
  TensorMap out = run(DType::F32);
  Tensor mask = expected("attention_mask");
  Tensor logits = expected("logits");
  ASSERT_EQ(out["logits"].shape(), logits.shape());
  double scale = maxAbs(logits, &mask);
  double logitError = maxAbsDifference(out["logits"], logits, &mask) / scale;
  EXPECT_LE(logitError, 1e-5) << "max |logit| " << scale;

  ASSERT_EQ(out["loss"].shape(), (Shape{1}));
  double loss = expected("loss").at(0);
  double lossError = std::fabs(out["loss"].at(0) - loss) / std::fabs(loss);
  EXPECT_LE(lossError, 1e-5) << out["loss"].at(0) << " vs " << loss;
  std::printf("golden A f32: logits max rel error %.3g, loss %.9g (HF %.9g) "
              "rel error %.3g\n",
              logitError, out["loss"].at(0), loss, lossError);
}

// The intermediates localise a mismatch: vision tower, projector, positions.
TEST_F(PaliGemmaGoldenTest, F32IntermediatesMatchHuggingFace) {
  TensorMap out = run(DType::F32);
  for (const char *name :
       {"debug.vision_last_hidden_state", "debug.image_features"}) {
    Tensor reference = expected(name);
    double error = maxAbsDifference(out[name], reference) / maxAbs(reference);
    EXPECT_LE(error, 1e-5) << name;
  }
  Tensor positions = expected("debug.position_ids");
  ASSERT_EQ(out["debug.position_ids"].shape(), positions.shape());
  EXPECT_EQ(maxAbsDifference(out["debug.position_ids"], positions), 0.0);
}

// bf16 storage and matmuls against the f32 reference: only bf16 rounding
// (8 significant bits, compounded over 4 blocks) separates them.
TEST_F(PaliGemmaGoldenTest, Bf16StaysWithinRoundingOfTheF32Reference) {
  TensorMap out = run(DType::BF16);
  Tensor mask = expected("attention_mask");
  Tensor logits = expected("logits");
  EXPECT_EQ(out["logits"].dtype(), DType::F32);
  double logitError =
      maxAbsDifference(out["logits"], logits, &mask) / maxAbs(logits, &mask);
  double loss = expected("loss").at(0);
  double lossError = std::fabs(out["loss"].at(0) - loss) / loss;
  EXPECT_LE(logitError, 2e-2);
  EXPECT_LE(lossError, 5e-3);
  std::printf("golden A bf16: logits max rel error %.3g, loss rel error "
              "%.3g\n",
              logitError, lossError);
}

} // namespace
} // namespace pgc::models
