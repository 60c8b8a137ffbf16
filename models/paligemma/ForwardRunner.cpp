// `pgc forward` as a function: builds PaliGemma for the batch's shape, lowers
// it, loads weights and runs it.
#include "models/paligemma/ForwardRunner.h"

#include "compiler/Dialect/Pg.h"
#include "compiler/Lowering/LowerToPlan.h"
#include "compiler/Policy/Policy.h"
#include "dsl/Builder.h"
#include "models/paligemma/PaliGemma.h"
#include "models/paligemma/Weights.h"
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"

#include "passes/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

namespace pgc::models {

const char *const kBatchInputNames[5] = {
    "pixel_values", "input_ids", "attention_mask", "token_type_ids", "labels"};

namespace {

Tensor batchTensor(const SafetensorsFile &file, const std::string &name) {
  const TensorInfo *info = file.find(name);
  if (!info)
    fail("{}: batch tensor '{}' is missing", file.path(), name);
  if (!info->loadable)
    fail("{}: batch tensor '{}' has dtype {}, which pgc cannot load",
         file.path(), name, info->storedDType);
  return file.tensor(name);
}

void checkShape(const std::string &path, const std::string &name,
                const Tensor &tensor, const Shape &expected) {
  if (tensor.shape() != expected)
    fail("{}: batch tensor '{}' has shape {}, expected {}", path, name,
         formatShape(tensor.shape()), formatShape(expected));
}

void checkImageTokenCounts(const std::string &path, const Tensor &inputIds,
                           const PaliGemmaConfig &config) {
  int64_t batch = inputIds.dim(0), length = inputIds.dim(1);
  const int64_t *ids = inputIds.data<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t count = 0;
    for (int64_t l = 0; l < length; ++l)
      count += ids[b * length + l] == config.imageTokenIndex;
    if (count != config.numImageTokens())
      fail("{}: input_ids row {} holds {} <image> tokens (id {}), the model "
           "expects {}",
           path, b, count, config.imageTokenIndex, config.numImageTokens());
  }
}

} // namespace

TensorMap readForwardBatch(const std::string &path,
                           const PaliGemmaConfig &config) {
  SafetensorsFile file = SafetensorsFile::open(path);
  TensorMap batch;
  Tensor pixels = batchTensor(file, "pixel_values");
  if (!isFloat(pixels.dtype()))
    fail("{}: batch tensor 'pixel_values' has dtype {}, expected a float", path,
         dtypeName(pixels.dtype()));
  const SiglipVisionConfig &vision = config.vision;
  int64_t batchSize = pixels.rank() == 4 ? pixels.dim(0) : 0;
  checkShape(
      path, "pixel_values", pixels,
      {batchSize, vision.numChannels, vision.imageSize, vision.imageSize});
  batch["pixel_values"] = pixels.to(DType::F32);

  Tensor inputIds = batchTensor(file, "input_ids");
  int64_t length = inputIds.rank() == 2 ? inputIds.dim(1) : 0;
  for (const char *name :
       {"input_ids", "attention_mask", "token_type_ids", "labels"}) {
    Tensor ids = batchTensor(file, name);
    if (ids.dtype() != DType::I64 && ids.dtype() != DType::I32)
      fail("{}: batch tensor '{}' has dtype {}, expected i64", path, name,
           dtypeName(ids.dtype()));
    checkShape(path, name, ids, {batchSize, length});
    batch[name] = ids.to(DType::I64);
  }
  checkImageTokenCounts(path, batch["input_ids"], config);
  return batch;
}

void addTrainStep(mlir::ModuleOp module, const std::string &policyPath,
                  const std::function<void(const std::string &)> &report) {
  mlir::MLIRContext *context = module.getContext();
  std::string error;
  mlir::ScopedDiagnosticHandler handler(
      context, [&](mlir::Diagnostic &diagnostic) {
        if (diagnostic.getSeverity() == mlir::DiagnosticSeverity::Error) {
          if (error.empty())
            error = diagnostic.str();
        } else {
          report("note: " + diagnostic.str());
        }
        return mlir::success();
      });
  // Without a policy every parameter trains; a policy's last matching
  // freeze/train rule decides, and pg-autodiff then differentiates only the
  // trainable parameters.
  std::optional<Policy> policy;
  if (!policyPath.empty())
    policy = Policy::fromYamlFile(policyPath);
  mlir::UnitAttr trainable = mlir::UnitAttr::get(context);
  module.walk([&](mlir::pg::ParamOp param) {
    bool trains = !policy || policy->isTrainable(param.getName().str());
    param.setTrainableAttr(trains ? trainable : mlir::UnitAttr());
  });
  mlir::PassManager passes(context);
  mlir::pg::PgAutodiffOptions autodiff;
  autodiff.trainableOnly = true;
  passes.addPass(mlir::pg::createPgAutodiff(autodiff));
  if (mlir::failed(passes.run(module)))
    fail("building PaliGemma's train_step failed: {}", error);
}

TensorMap
runPaliGemmaForward(const ForwardRequest &request,
                    const std::function<void(const std::string &)> &report) {
  PaliGemmaConfig config = loadPaliGemmaConfig(request.config);
  TensorMap batch = readForwardBatch(request.batch, config);
  Checkpoint checkpoint = Checkpoint::open(request.weights);

  mlir::MLIRContext context;
  dsl::ModuleBuilder module(context);
  PaliGemmaBuildOptions options;
  options.shape = {batch["input_ids"].dim(0), batch["input_ids"].dim(1)};
  options.dtype = request.dtype;
  options.debugOutputs = request.debugOutputs;
  buildPaliGemmaForward(module, config, options);
  if (mlir::failed(mlir::verify(module.module())))
    fail("PaliGemma built invalid IR");
  if (request.backward)
    addTrainStep(module.module(), request.policy, report);

  Session session(compiler::lowerToPlan(module.module()));
  loadPaliGemmaWeights(session, checkpoint, [&](const std::string &message) {
    report("warning: " + message);
  });
  TensorMap outputs =
      session.run(request.backward ? "train_step" : "forward", batch);
  outputs["loss"] = outputs["loss"].reshaped({1});
  // bf16 parameters have bf16 gradients; the output file holds f32.
  for (auto &[name, tensor] : outputs)
    if (name.rfind("grad.", 0) == 0)
      tensor = tensor.to(DType::F32);
  return outputs;
}

} // namespace pgc::models
