// The DSL builds the pg IR it promises: names, broadcasting, parameters, located errors.
#include "dsl/Builder.h"
#include "dsl/Layers.h"
#include "dsl/Ops.h"
#include "compiler/Dialect/Pg.h"
#include "runtime/support/Error.h"

#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

namespace pgc::dsl {
namespace {

int countOps(mlir::Operation *root, llvm::StringRef name) {
  int count = 0;
  root->walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == name)
      ++count;
  });
  return count;
}

// Runs `body` and returns the pgc::Error message it throws ("" if none).
template <typename F> std::string errorOf(F body) {
  try {
    body();
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

class DslTest : public ::testing::Test {
protected:
  mlir::MLIRContext context;
  ModuleBuilder module{context};
};

TEST_F(DslTest, ScopesNameParametersLikeTheCheckpoint) {
  FunctionBuilder f(module, "forward");
  Scope s = f.root()["language_model"]["model"]["layers"][3]["mlp"];
  Tensor w = s["gate_proj"].param("weight", {8, 4}, Init::normal(0.02));
  auto param = w.value().getDefiningOp<mlir::pg::ParamOp>();
  ASSERT_TRUE(param);
  EXPECT_EQ(param.getName(), "language_model.model.layers.3.mlp.gate_proj.weight");
  EXPECT_EQ(param.getInit(), "normal(0.02)");
  EXPECT_EQ(w.shape(), (Shape{8, 4}));
}

TEST_F(DslTest, SameParameterNameIsOneValueAndOtherShapesAreRefused) {
  FunctionBuilder f(module, "forward");
  Scope s = f.root()["embed_tokens"];
  Tensor a = s.param("weight", {10, 4}, Init::normal(1.0));
  Tensor b = s.param("weight", {10, 4}, Init::normal(1.0));
  EXPECT_EQ(a.value(), b.value());
  std::string error =
      errorOf([&] { s.param("weight", {10, 5}, Init::normal(1.0)); });
  EXPECT_NE(error.find("parameter 'embed_tokens.weight' was declared as f32 "
                       "[10, 4] and is now asked for as f32 [10, 5]"),
            std::string::npos)
      << error;
}

TEST_F(DslTest, ElementwiseOpsBroadcastExplicitly) {
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("x", {2, 3}, DType::F32);
  Tensor b = f.input("b", {3}, DType::F32);
  Tensor y = x + b;
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  auto add = y.value().getDefiningOp<mlir::pg::AddOp>();
  ASSERT_TRUE(add);
  auto broadcast = add.getRhs().getDefiningOp<mlir::pg::BroadcastOp>();
  ASSERT_TRUE(broadcast);
  EXPECT_EQ(broadcast.getShape(), llvm::ArrayRef<int64_t>({2, 3}));
  EXPECT_EQ(add.getLhs(), x.value()); // no broadcast where none is needed
}

TEST_F(DslTest, ScalarOperandsBecomeConstantsOfTheTensorsType) {
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("x", {4}, DType::BF16);
  Tensor y = 1.0 + x * 2.0;
  EXPECT_EQ(y.dtype(), DType::BF16);
  auto mul = llvm::cast<mlir::pg::AddOp>(y.value().getDefiningOp())
                 .getRhs()
                 .getDefiningOp<mlir::pg::MulOp>();
  ASSERT_TRUE(mul);
  auto constant = mul.getRhs()
                      .getDefiningOp<mlir::pg::BroadcastOp>()
                      .getInput()
                      .getDefiningOp<mlir::pg::ConstantOp>();
  ASSERT_TRUE(constant);
  EXPECT_TRUE(llvm::cast<mlir::ShapedType>(constant.getType())
                  .getElementType()
                  .isBF16());
}

TEST_F(DslTest, ShapeErrorsNameTheCallSite) {
  FunctionBuilder f(module, "forward");
  Tensor a = f.input("a", {2, 3}, DType::F32);
  Tensor b = f.input("b", {4, 5}, DType::F32);
  int line = __LINE__ + 1;
  std::string error = errorOf([&] { matmul(a, b); });
  std::string where = "tests/unit/dsl/DslTest.cpp:" + std::to_string(line) + ":";
  EXPECT_EQ(error.rfind(where, 0), 0u) << error;
  EXPECT_NE(error.find("matmul contraction sizes differ"), std::string::npos)
      << error;
}

TEST_F(DslTest, DtypeMismatchesAskForACast) {
  FunctionBuilder f(module, "forward");
  Tensor a = f.input("a", {3}, DType::F32);
  Tensor b = f.input("b", {3}, DType::BF16);
  std::string error = errorOf([&] { add(a, b); });
  EXPECT_NE(error.find("add of f32 and bf16 tensors: cast one first"),
            std::string::npos)
      << error;
  EXPECT_EQ(add(a, b.to(DType::F32)).dtype(), DType::F32);
}

TEST_F(DslTest, VerifierRulesReachTheDslToo) {
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("x", {2, 3}, DType::F32);
  std::string error = errorOf([&] { softmax(x, 5); });
  EXPECT_NE(error.find("softmax axis 5 is out of range for rank 2"),
            std::string::npos)
      << error;
}

TEST_F(DslTest, OpsCarryTheirCallSiteAsLocation) {
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("x", {2, 3}, DType::F32);
  int line = __LINE__ + 1;
  Tensor y = exp(x);
  auto loc = llvm::dyn_cast<mlir::FileLineColLoc>(y.value().getLoc());
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc.getFilename().str(), "tests/unit/dsl/DslTest.cpp");
  EXPECT_EQ(loc.getLine(), static_cast<unsigned>(line));
}

TEST_F(DslTest, FunctionsHaveNamedInputsAndResults) {
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("pixel_values", {1, 3, 4, 4}, DType::F32);
  Tensor total = sum(x, {1, 2, 3});
  f.finish({{"total", total}});
  ASSERT_TRUE(mlir::succeeded(mlir::verify(module.module())));
  auto func = f.func();
  EXPECT_EQ(func.getArgAttrOfType<mlir::StringAttr>(0, "pg.name").str(),
            "pixel_values");
  EXPECT_EQ(func.getResultAttrOfType<mlir::StringAttr>(0, "pg.name").str(),
            "total");
  EXPECT_EQ(total.shape(), (Shape{1}));
  EXPECT_NE(errorOf([&] { exp(x); }).find("already finished"), std::string::npos);
}

TEST_F(DslTest, LinearMatchesTorchLayout) {
  FunctionBuilder f(module, "forward");
  Tensor x = f.input("x", {2, 5, 8}, DType::F32);
  Tensor y = linear(f.root()["proj"], x, 16, /*bias=*/true);
  EXPECT_EQ(y.shape(), (Shape{2, 5, 16}));
  EXPECT_EQ(countOps(f.func(), "pg.matmul"), 1);
  auto matmul = f.func()
                    .getBody()
                    .front()
                    .getOps<mlir::pg::MatmulOp>()
                    .begin();
  EXPECT_TRUE((*matmul).getTransposeRhs());
  EXPECT_FALSE((*matmul).getTransposeLhs());
  auto weight =
      (*matmul).getRhs().getDefiningOp<mlir::pg::ParamOp>();
  EXPECT_EQ(weight.getName(), "proj.weight");
  EXPECT_EQ(llvm::cast<mlir::ShapedType>(weight.getType()).getShape(),
            llvm::ArrayRef<int64_t>({16, 8}));
}

} // namespace
} // namespace pgc::dsl
