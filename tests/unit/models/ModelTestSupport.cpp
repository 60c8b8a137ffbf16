// Helpers shared by the PaliGemma tests.
#include "ModelTestSupport.h"

#include "compiler/Lowering/LowerToPlan.h"
#include "dsl/Builder.h"
#include "models/paligemma/ForwardRunner.h"
#include "models/paligemma/PaliGemma.h"

#include "mlir/IR/MLIRContext.h"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace pgc::models::testing {

std::string goldenPath(const std::string &file) {
  return std::string(PGC_SOURCE_DIR) + "/tests/data/golden/paligemma-tiny-a/" +
         file;
}

Session makeForwardSession(const PaliGemmaConfig &config, int64_t batch,
                           int64_t seqLen, DType dtype, bool withTrainStep) {
  mlir::MLIRContext context;
  dsl::ModuleBuilder module(context);
  PaliGemmaBuildOptions options;
  options.shape = {batch, seqLen};
  options.dtype = dtype;
  buildPaliGemmaForward(module, config, options);
  if (withTrainStep)
    addTrainStep(module.module(), "", [](const std::string &) {});
  return Session(compiler::lowerToPlan(module.module()));
}

namespace {
template <typename Body>
void forRows(const Tensor &a, const Tensor *rowMask, Body body) {
  int64_t rows = rowMask ? rowMask->numel() : 1;
  int64_t perRow = a.numel() / rows;
  for (int64_t r = 0; r < rows; ++r)
    if (!rowMask || rowMask->at(r) != 0)
      for (int64_t i = r * perRow; i < (r + 1) * perRow; ++i)
        body(i);
}
} // namespace

double maxAbsDifference(const Tensor &a, const Tensor &b,
                        const Tensor *rowMask) {
  EXPECT_EQ(a.shape(), b.shape());
  double worst = 0;
  forRows(a, rowMask, [&](int64_t i) {
    worst = std::max(worst, std::fabs(a.at(i) - b.at(i)));
  });
  return worst;
}

double maxAbs(const Tensor &a, const Tensor *rowMask) {
  double worst = 0;
  forRows(a, rowMask,
          [&](int64_t i) { worst = std::max(worst, std::fabs(a.at(i))); });
  return worst;
}

std::string temporaryFolder() {
  static std::atomic<int> counter{0};
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("pgc-model-test-" + std::to_string(::getpid()) +
                                "-" + std::to_string(counter++));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

} // namespace pgc::models::testing
