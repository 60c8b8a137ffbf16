// Lowering pg functions to Plan entry points: buffers for values, steps with
// generic attributes.
#include "compiler/Lowering/LowerToPlan.h"

#include "compiler/Codegen/CudaElementwise.h"
#include "compiler/Dialect/DTypeMapping.h"
#include "compiler/Dialect/Pg.h"
#include "runtime/exec/Nf4Storage.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <cstring>
#include <fmt/format.h>
#include <set>

namespace pgc::compiler {

namespace {

std::string locationText(mlir::Location loc) {
  if (auto fileLoc = llvm::dyn_cast<mlir::FileLineColLoc>(loc))
    return fileLoc.getFilename().str() + ":" +
           std::to_string(fileLoc.getLine());
  if (auto nameLoc = llvm::dyn_cast<mlir::NameLoc>(loc))
    return locationText(nameLoc.getChildLoc());
  if (auto fused = llvm::dyn_cast<mlir::FusedLoc>(loc))
    for (mlir::Location inner : fused.getLocations()) {
      std::string text = locationText(inner);
      if (!text.empty())
        return text;
    }
  return "";
}

[[noreturn]] void failAtOp(mlir::Operation *op, const std::string &message) {
  std::string where = locationText(op->getLoc());
  fail("{}{}: {}", where.empty() ? "" : where + ": ",
       op->getName().getStringRef().str(), message);
}

DType dtypeOf(mlir::Type element, mlir::Operation *op) {
  if (std::optional<DType> dtype = mlir::pg::runtimeDType(element))
    return *dtype;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << element;
  failAtOp(op, "element type " + text + " has no runtime dtype");
}

std::string typeName(mlir::Type type, mlir::Operation *op) {
  return std::string(dtypeName(dtypeOf(type, op)));
}

// Converts an op's inherent attributes to the artifact's generic form.
StepAttribute convertAttribute(mlir::Attribute attr, mlir::Operation *op) {
  StepAttribute result;
  // Enum attributes are IntegerAttrs underneath: carry their keyword.
  if (auto predicate = llvm::dyn_cast<mlir::pg::ComparePredicateAttr>(attr))
    result.text =
        mlir::pg::stringifyComparePredicate(predicate.getValue()).str();
  else if (auto unit = llvm::dyn_cast<mlir::UnitAttr>(attr))
    result.ints = {1};
  else if (auto integer = llvm::dyn_cast<mlir::IntegerAttr>(attr))
    result.ints = {integer.getValue().getSExtValue()};
  else if (auto real = llvm::dyn_cast<mlir::FloatAttr>(attr))
    result.floats = {real.getValueAsDouble()};
  else if (auto ints = llvm::dyn_cast<mlir::DenseI64ArrayAttr>(attr))
    result.ints.assign(ints.asArrayRef().begin(), ints.asArrayRef().end());
  else if (auto text = llvm::dyn_cast<mlir::StringAttr>(attr))
    result.text = text.str();
  else if (auto type = llvm::dyn_cast<mlir::TypeAttr>(attr))
    result.text = typeName(type.getValue(), op);
  else
    failAtOp(op, "has an attribute the artifact cannot carry");
  return result;
}

// Row-major little-endian bytes of a dense constant in its dtype.
std::vector<uint8_t> constantBytes(mlir::pg::ConstantOp op, DType dtype) {
  auto dense = llvm::dyn_cast<mlir::DenseElementsAttr>(op.getValue());
  if (!dense)
    failAtOp(op, "only dense constants can be embedded");
  auto type = llvm::cast<mlir::RankedTensorType>(dense.getType());
  int64_t count = type.getNumElements();
  std::vector<uint8_t> bytes(static_cast<size_t>(count) * dtypeSize(dtype));
  int64_t i = 0;
  if (llvm::isa<mlir::FloatType>(type.getElementType())) {
    for (llvm::APFloat value : dense.getValues<llvm::APFloat>()) {
      uint64_t raw = value.bitcastToAPInt().getZExtValue();
      std::memcpy(bytes.data() + i * dtypeSize(dtype), &raw, dtypeSize(dtype));
      ++i;
    }
  } else {
    for (llvm::APInt value : dense.getValues<llvm::APInt>()) {
      uint64_t raw =
          dtype == DType::Bool ? value.getZExtValue() : value.getSExtValue();
      std::memcpy(bytes.data() + i * dtypeSize(dtype), &raw, dtypeSize(dtype));
      ++i;
    }
  }
  return bytes;
}

// pg-insert-lora's `pg.lora` settings as the JSON object the runtime reads
// (runtime/train/Adapters.h): r, lora_alpha, lora_dropout, use_rslora,
// target_modules (a list of names or one regular expression).
std::string loraSettingsJson(mlir::DictionaryAttr lora, mlir::ModuleOp module) {
  auto r = lora.getAs<mlir::IntegerAttr>("r");
  auto alpha = lora.getAs<mlir::FloatAttr>("lora_alpha");
  auto dropout = lora.getAs<mlir::FloatAttr>("lora_dropout");
  auto rslora = lora.getAs<mlir::BoolAttr>("use_rslora");
  mlir::Attribute targets = lora.get("target_modules");
  if (!r || !alpha || !dropout || !rslora || !targets)
    failAtOp(module, "pg.lora needs r, lora_alpha, lora_dropout, use_rslora "
                     "and target_modules");
  llvm::json::Object object{{"r", r.getInt()},
                            {"lora_alpha", alpha.getValueAsDouble()},
                            {"lora_dropout", dropout.getValueAsDouble()},
                            {"use_rslora", rslora.getValue()}};
  if (auto regex = llvm::dyn_cast<mlir::StringAttr>(targets)) {
    object["target_modules"] = regex.str();
  } else if (auto list = llvm::dyn_cast<mlir::ArrayAttr>(targets)) {
    llvm::json::Array names;
    for (mlir::Attribute name : list) {
      auto text = llvm::dyn_cast<mlir::StringAttr>(name);
      if (!text)
        failAtOp(module, "pg.lora target_modules must hold strings");
      names.push_back(text.str());
    }
    object["target_modules"] = std::move(names);
  } else {
    failAtOp(module, "pg.lora target_modules is neither a list nor a string");
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(object));
  return text;
}

class PlanLowering {
  using Buffers = llvm::DenseMap<mlir::Value, uint32_t>;

public:
  Plan lower(mlir::ModuleOp module) {
    plan_.producer = "pgc 0.1.0";
    for (auto func : module.getOps<mlir::func::FuncOp>())
      lowerFunction(func);
    if (auto lora = module->getAttrOfType<mlir::DictionaryAttr>("pg.lora"))
      plan_.metadata[kMetadataLora] = loraSettingsJson(lora, module);
    plan_.validate("lowered plan");
    return std::move(plan_);
  }

private:
  uint32_t addBuffer(std::string name, mlir::Type type, BufferRole role,
                     mlir::Operation *op) {
    PlanBuffer buffer;
    buffer.name = std::move(name);
    buffer.role = role;
    if (auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type)) {
      buffer.dtype = dtypeOf(tensor.getElementType(), op);
      buffer.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
    } else if (auto nf4 = llvm::dyn_cast<mlir::pg::NF4Type>(type)) {
      // Packed codes and absmax in one byte buffer (Nf4Storage.h); the
      // runtime quantizes into it when a checkpoint is loaded.
      buffer.dtype = DType::U8;
      buffer.shape = shapeOf(type);
    } else {
      failAtOp(op, "produces a value that is not a tensor");
    }
    plan_.buffers.push_back(std::move(buffer));
    return static_cast<uint32_t>(plan_.buffers.size() - 1);
  }

  uint32_t parameterBuffer(mlir::pg::ParamOp op) {
    std::string name = op.getName().str();
    if (auto it = parameterBuffers_.find(name); it != parameterBuffers_.end()) {
      if (plan_.buffers[it->second].shape != shapeOf(op.getType()))
        failAtOp(op,
                 "parameter '" + name + "' is declared with different shapes");
      return it->second;
    }
    uint32_t index = addBuffer(name, op.getType(), BufferRole::Parameter, op);
    PlanParameter param;
    param.name = name;
    param.buffer = index;
    param.trainable = op.getTrainable();
    param.init = op.getInit() ? op.getInit()->str() : "";
    if (auto nf4 = llvm::dyn_cast<mlir::pg::NF4Type>(op.getType()))
      param.nf4 =
          Nf4Spec{static_cast<int>(nf4.getBlockSize()), nf4.getDoubleQuant(),
                  Shape(nf4.getShape().begin(), nf4.getShape().end())};
    plan_.parameters.push_back(param);
    parameterBuffers_[name] = index;
    return index;
  }

  uint32_t stateBuffer(mlir::pg::StateOp op) {
    std::string name = op.getName().str();
    if (auto it = stateBuffers_.find(name); it != stateBuffers_.end()) {
      if (plan_.buffers[it->second].shape != shapeOf(op.getType()))
        failAtOp(op, "state '" + name + "' is declared with different shapes");
      return it->second;
    }
    BufferRole role = op.getKind() == "gradient" ? BufferRole::Gradient
                                                 : BufferRole::OptimizerState;
    uint32_t index = addBuffer(name, op.getType(), role, op);
    stateBuffers_[name] = index;
    return index;
  }

  static Shape shapeOf(mlir::Type type) {
    if (auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type))
      return Shape(tensor.getShape().begin(), tensor.getShape().end());
    auto nf4 = llvm::cast<mlir::pg::NF4Type>(type);
    return Shape{Nf4Layout{nf4.getNumElements(), nf4.getBlockSize(),
                           nf4.getDoubleQuant()}
                     .totalBytes()};
  }

  void lowerFunction(mlir::func::FuncOp func) {
    PlanEntryPoint entry;
    entry.name = func.getName().str();
    Buffers buffers;
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      auto nameAttr = func.getArgAttrOfType<mlir::StringAttr>(i, "pg.name");
      std::string name = nameAttr ? nameAttr.str() : "arg" + std::to_string(i);
      uint32_t index = addBuffer(name, func.getArgument(i).getType(),
                                 BufferRole::Input, func);
      buffers[func.getArgument(i)] = index;
      entry.inputs.push_back(index);
      entry.inputNames.push_back(name);
    }
    for (mlir::Operation &op : func.getBody().front()) {
      if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
        for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
          auto nameAttr =
              func.getResultAttrOfType<mlir::StringAttr>(i, "pg.name");
          std::string name =
              nameAttr ? nameAttr.str() : "result" + std::to_string(i);
          uint32_t index = buffers.lookup(ret.getOperand(i));
          if (plan_.buffers[index].role == BufferRole::Temporary) {
            plan_.buffers[index].role = BufferRole::Output;
            plan_.buffers[index].name = name;
          }
          entry.outputs.push_back(index);
          entry.outputNames.push_back(name);
        }
        continue;
      }
      if (auto param = llvm::dyn_cast<mlir::pg::ParamOp>(op)) {
        buffers[param.getResult()] = parameterBuffer(param);
        continue;
      }
      if (auto state = llvm::dyn_cast<mlir::pg::StateOp>(op)) {
        buffers[state.getResult()] = stateBuffer(state);
        continue;
      }
      if (auto store = llvm::dyn_cast<mlir::pg::StoreOp>(op)) {
        // The store writes the persistent buffer its target reads.
        PlanStep step;
        step.op = "copy";
        step.location = locationText(op.getLoc());
        step.inputs.push_back(buffers.lookup(store.getValue()));
        step.outputs.push_back(buffers.lookup(store.getTarget()));
        entry.steps.push_back(std::move(step));
        continue;
      }
      if (auto constant = llvm::dyn_cast<mlir::pg::ConstantOp>(op)) {
        uint32_t index =
            addBuffer("", constant.getType(), BufferRole::Constant, &op);
        plan_.buffers[index].data =
            constantBytes(constant, plan_.buffers[index].dtype);
        buffers[constant.getResult()] = index;
        continue;
      }
      if (auto fusion = llvm::dyn_cast<mlir::pg::FusionOp>(op)) {
        lowerFusion(fusion, buffers, entry);
        continue;
      }
      lowerStep(op, buffers, entry);
    }
    plan_.entryPoints.push_back(std::move(entry));
  }

  // A pg op with its own kernel: one step, a buffer for each result.
  void lowerStep(mlir::Operation &op, Buffers &buffers, PlanEntryPoint &entry) {
    if (op.getDialect() == nullptr || op.getDialect()->getNamespace() != "pg")
      failAtOp(&op, "is not a pg op and cannot be lowered to a plan");
    PlanStep step;
    step.op = op.getName().stripDialect().str();
    step.location = locationText(op.getLoc());
    for (mlir::Value operand : op.getOperands())
      step.inputs.push_back(buffers.lookup(operand));
    for (mlir::Value result : op.getResults()) {
      uint32_t index =
          addBuffer("", result.getType(), BufferRole::Temporary, &op);
      buffers[result] = index;
      step.outputs.push_back(index);
    }
    for (mlir::NamedAttribute attr : op.getAttrDictionary()) {
      // Dialect-prefixed attributes ("pg.backward") annotate the IR for
      // passes; the runtime needs only the op's own attributes.
      if (attr.getName().getValue().contains('.'))
        continue;
      step.attributes[attr.getName().str()] =
          convertAttribute(attr.getValue(), &op);
    }
    if (auto dequant = llvm::dyn_cast<mlir::pg::DequantNF4Op>(op)) {
      // The storage parameters live in the operand's type, which the plan
      // does not carry: the kernel gets them as attributes.
      auto nf4 = llvm::cast<mlir::pg::NF4Type>(dequant.getWeight().getType());
      step.attributes["block_size"].ints = {nf4.getBlockSize()};
      step.attributes["double_quant"].ints = {nf4.getDoubleQuant() ? 1 : 0};
    }
    entry.steps.push_back(std::move(step));
  }

  // A pg.fusion: its body's steps in order, as an executor that runs op by op
  // needs them, the first of them naming the generated kernel that computes
  // them all, the number of steps it replaces and its arguments.
  void lowerFusion(mlir::pg::FusionOp fusion, Buffers &buffers,
                   PlanEntryPoint &entry) {
    size_t first = entry.steps.size();
    mlir::Block &body = fusion.getBody().front();
    for (mlir::Operation &op : body.without_terminator())
      lowerStep(op, buffers, entry);
    codegen::ElementwiseGroup group;
    group.steps.assign(entry.steps.begin() + first, entry.steps.end());
    std::set<uint32_t> written;
    for (const PlanStep &step : group.steps) {
      for (uint32_t in : step.inputs)
        if (!written.count(in) && !llvm::is_contained(group.inputs, in))
          group.inputs.push_back(in);
      written.insert(step.outputs.begin(), step.outputs.end());
    }
    auto yield = llvm::cast<mlir::pg::YieldOp>(body.getTerminator());
    for (auto [result, value] :
         llvm::zip(fusion.getResults(), yield.getValues())) {
      uint32_t index = buffers.lookup(value);
      buffers[result] = index;
      if (!llvm::is_contained(group.outputs, index))
        group.outputs.push_back(index);
    }
    // Named by a hash of its source, so that the identical fusions of every
    // layer share one kernel (and one compilation).
    group.name = "pgc_elementwise";
    uint64_t hash =
        llvm::xxh3_64bits(codegen::emitElementwiseKernel(plan_, group));
    group.name = fmt::format("pgc_elementwise_{:016x}", hash);
    auto [it, added] =
        kernelIndex_.try_emplace(group.name, plan_.kernels.size());
    if (added) {
      PlanKernel kernel;
      kernel.target = "cuda";
      kernel.name = group.name;
      kernel.source = codegen::emitElementwiseKernel(plan_, group);
      plan_.kernels.push_back(std::move(kernel));
    }
    PlanStep &head = entry.steps[first];
    head.attributes[kStepKernel].ints = {static_cast<int64_t>(it->second)};
    head.attributes[kStepFusedSteps].ints = {
        static_cast<int64_t>(group.steps.size())};
    for (uint32_t buffer : codegen::kernelArguments(plan_, group))
      head.attributes[kStepKernelArgs].ints.push_back(buffer);
  }

  Plan plan_;
  std::map<std::string, size_t> kernelIndex_;
  std::map<std::string, uint32_t> parameterBuffers_;
  std::map<std::string, uint32_t> stateBuffers_;
};

} // namespace

Plan lowerToPlan(mlir::ModuleOp module) { return PlanLowering().lower(module); }

} // namespace pgc::compiler
