// The example models build IR of the expected structure that re-parses to the same text.
#include "compiler/Dialect/Pg.h"
#include "examples/Examples.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>
#include <map>

namespace pgc::examples {
namespace {

std::string print(mlir::Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os);
  return text;
}

std::map<std::string, int> opCounts(mlir::Operation *root) {
  std::map<std::string, int> counts;
  root->walk([&](mlir::Operation *op) { ++counts[op->getName().getStringRef().str()]; });
  return counts;
}

std::map<std::string, std::vector<int64_t>> params(mlir::Operation *root) {
  std::map<std::string, std::vector<int64_t>> result;
  root->walk([&](mlir::pg::ParamOp op) {
    auto shape = llvm::cast<mlir::ShapedType>(op.getType()).getShape();
    result[op.getName().str()] = std::vector<int64_t>(shape.begin(), shape.end());
  });
  return result;
}

class ExamplesTest : public ::testing::Test {
protected:
  mlir::MLIRContext context;
  dsl::ModuleBuilder module{context};

  void expectReparsesIdentically() {
    std::string text = print(module.module());
    auto reparsed = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
    ASSERT_TRUE(reparsed);
    EXPECT_EQ(print(*reparsed), text);
  }
};

TEST_F(ExamplesTest, MlpHasTwoLinearLayersAndAScalarLoss) {
  ExampleOptions options;
  options.batch = 3;
  buildMlp(module, options);
  ASSERT_TRUE(mlir::succeeded(mlir::verify(module.module())));
  auto counts = opCounts(module.module());
  EXPECT_EQ(counts["pg.matmul"], 2);
  EXPECT_EQ(counts["pg.gelu_tanh"], 1);
  EXPECT_EQ(counts["pg.reduce_mean"], 1);
  auto p = params(module.module());
  EXPECT_EQ(p["fc1.weight"], (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(p["fc1.bias"], (std::vector<int64_t>{32}));
  EXPECT_EQ(p["fc2.weight"], (std::vector<int64_t>{4, 32}));
  EXPECT_EQ(p["fc2.bias"], (std::vector<int64_t>{4}));
  auto func = *module.module().getOps<mlir::func::FuncOp>().begin();
  EXPECT_EQ(func.getName(), "forward");
  auto loss = llvm::cast<mlir::RankedTensorType>(func.getResultTypes()[0]);
  EXPECT_EQ(loss.getRank(), 0);
  EXPECT_TRUE(loss.getElementType().isF32());
  expectReparsesIdentically();
}

TEST_F(ExamplesTest, AttentionBlockUsesGroupedQueryAttentionWithRope) {
  ExampleOptions options;
  options.batch = 2;
  options.seqLen = 5;
  options.dtype = DType::BF16;
  buildAttentionBlock(module, options);
  ASSERT_TRUE(mlir::succeeded(mlir::verify(module.module())));
  auto counts = opCounts(module.module());
  EXPECT_EQ(counts["pg.attention"], 1);
  EXPECT_EQ(counts["pg.rope"], 2);
  EXPECT_EQ(counts["pg.rms_norm"], 2);
  EXPECT_EQ(counts["pg.matmul"], 7);
  mlir::pg::AttentionOp attention;
  module.module().walk([&](mlir::pg::AttentionOp op) { attention = op; });
  auto q = llvm::cast<mlir::ShapedType>(attention.getQuery().getType());
  auto k = llvm::cast<mlir::ShapedType>(attention.getKey().getType());
  EXPECT_EQ(q.getShape(), llvm::ArrayRef<int64_t>({2, 4, 5, 8}));
  EXPECT_EQ(k.getShape(), llvm::ArrayRef<int64_t>({2, 1, 5, 8}));
  EXPECT_TRUE(q.getElementType().isBF16());
  auto p = params(module.module());
  EXPECT_EQ(p["layer.self_attn.k_proj.weight"], (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(p["layer.mlp.down_proj.weight"], (std::vector<int64_t>{32, 64}));
  expectReparsesIdentically();
}

TEST_F(ExamplesTest, RegistryFindsEveryExampleByName) {
  for (const ExampleModel &model : exampleModels())
    EXPECT_EQ(findExample(model.name), &model);
  EXPECT_EQ(findExample("no-such-model"), nullptr);
}

} // namespace
} // namespace pgc::examples
