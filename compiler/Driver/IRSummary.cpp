// Summaries of pg modules for `pgc compile` and the demo.
#include "compiler/Driver/IRSummary.h"

#include "compiler/Dialect/Pg.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/raw_ostream.h"

namespace pgc::compiler {

namespace {

std::string describeType(mlir::Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type)) {
    os << tensor.getElementType() << "[";
    llvm::interleaveComma(tensor.getShape(), os);
    os << "]";
  } else {
    os << type;
  }
  return text;
}

std::string nameOf(mlir::DictionaryAttr attrs, unsigned index) {
  if (attrs)
    if (auto name = attrs.getAs<mlir::StringAttr>("pg.name"))
      return name.str();
  return "#" + std::to_string(index);
}

int64_t elementsOf(mlir::Type type) {
  if (auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type))
    return tensor.getNumElements();
  if (auto nf4 = llvm::dyn_cast<mlir::pg::NF4Type>(type))
    return nf4.getNumElements();
  return 0;
}

} // namespace

std::string summarizeModule(mlir::ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  for (auto func : module.getOps<mlir::func::FuncOp>()) {
    llvm::MapVector<llvm::StringRef, int64_t> opCounts;
    int64_t params = 0, paramValues = 0, trainableValues = 0, ops = 0;
    func.walk([&](mlir::Operation *op) {
      if (llvm::isa<mlir::func::FuncOp, mlir::func::ReturnOp>(op))
        return;
      if (auto param = llvm::dyn_cast<mlir::pg::ParamOp>(op)) {
        ++params;
        paramValues += elementsOf(param.getType());
        if (param.getTrainable())
          trainableValues += elementsOf(param.getType());
        return;
      }
      ++opCounts[op->getName().getStringRef()];
      ++ops;
    });
    os << "func " << func.getName() << ": " << func.getNumArguments()
       << " inputs, " << func.getNumResults() << " results, " << params
       << " parameters (" << paramValues << " values, " << trainableValues
       << " trainable), " << ops << " ops\n";
    os << "  inputs:  ";
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      os << (i ? ", " : "") << nameOf(func.getArgAttrDict(i), i) << " "
         << describeType(func.getArgument(i).getType());
    os << "\n  results: ";
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      os << (i ? ", " : "") << nameOf(func.getResultAttrDict(i), i) << " "
         << describeType(func.getResultTypes()[i]);
    os << "\n  ops:     ";
    bool first = true;
    for (auto &[name, count] : opCounts) {
      os << (first ? "" : ", ") << name << " " << count;
      first = false;
    }
    os << "\n";
  }
  return text;
}

} // namespace pgc::compiler
