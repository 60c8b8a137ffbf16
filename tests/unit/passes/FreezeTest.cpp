// pg-freeze on the two-tower toy: the report's numbers, and remaining gradients
// bit-identical to the unfrozen graph's.
#include "compiler/Lowering/LowerToPlan.h"
#include "compiler/Policy/Policy.h"
#include "passes/Passes.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "tests/unit/ScratchSpace.h"

#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

const std::string kInputs =
    std::string(PGC_SOURCE_DIR) + "/tests/lit/passes/Inputs/";

struct Result {
  TensorMap gradients;
  std::vector<std::string> remarks;
  size_t trainSteps = 0;
};

Result compileAndRun(const std::string &policyFile) {
  mlir::MLIRContext context;
  context.loadDialect<mlir::pg::PgDialect, mlir::func::FuncDialect>();
  Result result;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Remark)
      result.remarks.push_back(d.str());
    return mlir::success();
  });
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(
      kInputs + "two-tower.mlir", &context);
  EXPECT_TRUE(module);
  mlir::PassManager pm(&context);
  pm.addPass(mlir::pg::createPgAutodiff());
  mlir::pg::PgFreezeOptions options;
  options.policy = policyFile;
  pm.addPass(mlir::pg::createPgFreeze(options));
  EXPECT_TRUE(mlir::succeeded(pm.run(*module)));
  Session session(compiler::lowerToPlan(*module));
  result.trainSteps = session.plan().findEntryPoint("train_step")->steps.size();
  session.initializeParameters(1);
  TensorMap inputs;
  for (const char *name : {"x", "target"}) {
    Tensor t(DType::F32, {4, 8});
    for (int64_t i = 0; i < t.numel(); ++i)
      t.set(i, std::sin(0.37 * i + (name[0] == 'x' ? 0 : 1)));
    inputs[name] = t;
  }
  for (auto &[name, value] : session.run("train_step", inputs))
    if (name.rfind("grad.", 0) == 0)
      result.gradients[name] = value;
  return result;
}

std::string writePolicy(const std::string &text) {
  std::string path = pgc::unittest::uniqueScratchPath("freeze-policy.yaml");
  std::ofstream(path) << text;
  return path;
}

bool bitIdentical(const Tensor &a, const Tensor &b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw(), b.raw(), a.byteSize()) == 0;
}

TEST(Freeze, FrozenEncoderLosesItsWholeBackwardAndOthersAreBitIdentical) {
  Result full = compileAndRun(writePolicy("train: ['**']\n"));
  Result frozen = compileAndRun(kInputs + "freeze-encoder.yaml");
  ASSERT_EQ(full.gradients.size(), 3u);
  ASSERT_EQ(frozen.gradients.size(), 2u);
  EXPECT_FALSE(frozen.gradients.count("grad.encoder.proj.weight"));
  for (auto &[name, value] : frozen.gradients)
    EXPECT_TRUE(bitIdentical(value, full.gradients.at(name))) << name;
  EXPECT_LT(frozen.trainSteps, full.trainSteps);
  // The encoder's two backward ops (gelu grad, weight-gradient matmul) and the
  // decoder's input-gradient matmul into the encoder are gone.
  ASSERT_EQ(frozen.remarks.size(), 2u);
  EXPECT_NE(frozen.remarks[0].find("decoder: backward ops 13 -> 12"),
            std::string::npos)
      << frozen.remarks[0];
  EXPECT_NE(frozen.remarks[1].find("encoder: backward ops 2 -> 0, backward "
                                   "MFLOP 0.001 -> 0.000"),
            std::string::npos)
      << frozen.remarks[1];
  // Nothing frozen under the full policy.
  EXPECT_NE(full.remarks[1].find("encoder: backward ops 2 -> 2"),
            std::string::npos);
}

TEST(Freeze, FrozenMiddleLayerKeepsTheInputGradientForTheEncoder) {
  Result full = compileAndRun(writePolicy("train: ['**']\n"));
  Result frozen = compileAndRun(kInputs + "freeze-decoder-layer0.yaml");
  ASSERT_EQ(frozen.gradients.size(), 2u);
  EXPECT_TRUE(bitIdentical(frozen.gradients.at("grad.encoder.proj.weight"),
                           full.gradients.at("grad.encoder.proj.weight")));
  EXPECT_TRUE(
      bitIdentical(frozen.gradients.at("grad.decoder.layers.1.proj.weight"),
                   full.gradients.at("grad.decoder.layers.1.proj.weight")));
  // Only the frozen layer's weight-gradient matmul went.
  EXPECT_NE(frozen.remarks[0].find("decoder: backward ops 13 -> 12"),
            std::string::npos)
      << frozen.remarks[0];
}

TEST(Policy, LaterRulesWinAndGlobsRespectDots) {
  Policy policy = Policy::fromYamlString(
      "freeze: ['**']\ntrain: ['language_model.**.mlp.*.weight']\n", "test");
  EXPECT_FALSE(policy.isTrainable(
      "vision_tower.vision_model.embeddings.patch_embedding.weight"));
  EXPECT_TRUE(
      policy.isTrainable("language_model.model.layers.3.mlp.up_proj.weight"));
  EXPECT_FALSE(policy.isTrainable(
      "language_model.model.layers.3.mlp.up_proj.bias.extra"));
  EXPECT_FALSE(policy.isTrainable("language_model.model.norm.weight"));
  EXPECT_TRUE(globMatches("a.**.b", "a.b"));
  EXPECT_TRUE(globMatches("a.*.c", "a.xyz.c"));
  EXPECT_FALSE(globMatches("a.*.c", "a.x.y.c"));
  EXPECT_TRUE(globMatches(
      "**.q_proj.*", "language_model.model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(Policy().isTrainable("anything"));
  EXPECT_FALSE(
      Policy().freeze("x.*").train("x.a").freeze("x.a").isTrainable("x.a"));
}

// The glob rules of Policy.h, transcribed as plain backtracking (exponential in
// the worst case, fine for short inputs): the reference for the matcher's
// dynamic programme.
bool referenceGlob(const std::string &p, const std::string &s) {
  if (p.empty())
    return s.empty();
  if (p.compare(0, 2, "**") == 0) {
    if (p.size() > 2 && p[2] == '.' && referenceGlob(p.substr(3), s))
      return true;
    for (size_t k = 0; k <= s.size(); ++k)
      if (referenceGlob(p.substr(2), s.substr(k)))
        return true;
    return false;
  }
  if (p[0] == '*') {
    for (size_t k = 0; k <= s.size(); ++k) {
      if (referenceGlob(p.substr(1), s.substr(k)))
        return true;
      if (k < s.size() && s[k] == '.')
        return false;
    }
    return false;
  }
  if (s.empty() || (p[0] == '?' ? s[0] == '.' : p[0] != s[0]))
    return false;
  return referenceGlob(p.substr(1), s.substr(1));
}

TEST(Policy, GlobMatchingAgreesWithTheBacktrackingReference) {
  std::mt19937 random(20261127);
  const std::string patternChars = "a.*?*", nameChars = "aab.";
  int matched = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string pattern, name;
    for (int i = random() % 9; i > 0; --i)
      pattern += patternChars[random() % patternChars.size()];
    for (int i = random() % 9; i > 0; --i)
      name += nameChars[random() % nameChars.size()];
    bool expected = referenceGlob(pattern, name);
    matched += expected;
    ASSERT_EQ(globMatches(pattern, name), expected)
        << "pattern '" << pattern << "' name '" << name << "'";
  }
  // Both outcomes are well represented, so the comparison means something.
  EXPECT_GT(matched, 2000) << matched;
  EXPECT_LT(matched, 18000);
}

// Found by fuzz_policy (a libFuzzer timeout): a run of stars made the
// backtracking matcher take exponential time. The dynamic programme answers
// at once.
TEST(Policy, GlobMatchingIsPolynomialOnRunsOfStars) {
  std::string name(200, 'a');
  EXPECT_FALSE(globMatches(std::string(101, '*') + "b", name));
  EXPECT_FALSE(globMatches(std::string(60, '*') + ".*.*.*.*.*.*.b",
                           "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a"));
  EXPECT_TRUE(globMatches(std::string(101, '*') + "a", name));
}

TEST(Policy, BadFilesNameTheProblem) {
  auto errorOf = [](const std::string &text) {
    try {
      Policy::fromYamlString(text, "p.yaml");
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(
      errorOf("freez: ['**']\n"),
      "p.yaml:1: unknown policy key 'freez' (expected freeze, train, lora or "
      "quantize)");
  EXPECT_EQ(errorOf("freeze: '**'\n"),
            "p.yaml:1: 'freeze' must be a list of glob patterns");
  EXPECT_EQ(errorOf("freeze: [[a]]\n"),
            "p.yaml:1: 'freeze' entries must be non-empty strings");
  EXPECT_NE(errorOf("freeze: [a\n").find("p.yaml:"), std::string::npos);
  EXPECT_EQ(errorOf("- a\n"),
            "p.yaml: a policy is a mapping with 'freeze', 'train', 'lora' and "
            "'quantize' keys");
}

} // namespace
} // namespace pgc
