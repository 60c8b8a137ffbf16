// PaliGemma through the `pgc forward` code path against the Hugging Face golden
// vectors of tiny model A.
#include "ModelTestSupport.h"

#include "models/paligemma/ForwardRunner.h"
#include "runtime/support/FileUtil.h"
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

  static TensorMap run(DType dtype, bool backward = false,
                       const std::string &policy = "") {
    ForwardRequest request;
    request.config = goldenPath("config.json");
    request.weights = goldenPath("model.safetensors");
    request.batch = goldenPath("golden.safetensors");
    request.dtype = dtype;
    request.debugOutputs = true;
    request.backward = backward;
    request.policy = policy;
    std::vector<std::string> warnings;
    TensorMap outputs =
        runPaliGemmaForward(request, [&](const std::string &line) {
          if (line.rfind("warning:", 0) == 0)
            warnings.push_back(line);
        });
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

// Every gradient within 1e-4 of its tensor's largest |gradient|. The SigLIP
// k_proj biases are zero analytically (softmax ignores a shift of every
// score), so HF's stored values are round-off: compare those absolutely.
TEST_F(PaliGemmaGoldenTest, F32GradientsMatchHuggingFace) {
  TensorMap out = run(DType::F32, /*backward=*/true);
  size_t compared = 0;
  double worst = 0;
  std::string worstName;
  for (const TensorInfo &info : golden->tensors()) {
    if (info.name.rfind("grad.", 0) != 0)
      continue;
    ASSERT_TRUE(out.count(info.name)) << info.name;
    Tensor reference = expected(info.name);
    const Tensor &grad = out[info.name];
    ASSERT_EQ(grad.shape(), reference.shape()) << info.name;
    EXPECT_EQ(grad.dtype(), DType::F32);
    double difference = maxAbsDifference(grad, reference);
    if (info.name.find("self_attn.k_proj.bias") != std::string::npos &&
        info.name.find("vision_tower") != std::string::npos) {
      EXPECT_LE(difference, 1e-6) << info.name;
    } else {
      double relative = difference / maxAbs(reference);
      EXPECT_LE(relative, 1e-4) << info.name;
      if (relative > worst) {
        worst = relative;
        worstName = info.name;
      }
    }
    ++compared;
  }
  EXPECT_EQ(compared, 59u);
  size_t produced = 0;
  for (const auto &[name, tensor] : out)
    produced += name.rfind("grad.", 0) == 0;
  EXPECT_EQ(produced, 59u);
  std::printf("golden A f32: %zu gradients, worst relative error %.3g (%s)\n",
              compared, worst, worstName.c_str());
}

// A policy freezing the vision tower: the other gradients do not change (bit
// for bit: freezing removes work, it does not reorder sums) and no frozen
// parameter gets one.
TEST_F(PaliGemmaGoldenTest, FreezingTheVisionTowerLeavesTheOtherGradients) {
  std::string policy = temporaryFolder() + "/freeze-vision.yaml";
  writeFileAtomically(policy, "freeze: [\"vision_tower.**\"]\n");
  TensorMap all = run(DType::F32, /*backward=*/true);
  TensorMap frozen = run(DType::F32, /*backward=*/true, policy);
  size_t kept = 0;
  for (const auto &[name, tensor] : all) {
    if (name.rfind("grad.", 0) != 0)
      continue;
    bool vision = name.rfind("grad.vision_tower.", 0) == 0;
    EXPECT_EQ(frozen.count(name), vision ? 0u : 1u) << name;
    if (!vision && frozen.count(name)) {
      EXPECT_EQ(maxAbsDifference(frozen[name], tensor), 0.0) << name;
      ++kept;
    }
  }
  EXPECT_EQ(kept, 59u - 37u); // SigLIP: 2 x 16 per layer + 5
  EXPECT_EQ(frozen["loss"].at(0), all["loss"].at(0));
}

} // namespace
} // namespace pgc::models
