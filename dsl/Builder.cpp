// Function building, op creation with located shape errors, and parameter scopes.
#include "dsl/Builder.h"

#include "compiler/Dialect/DTypeMapping.h"
#include "compiler/Dialect/Pg.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <cstring>
#include <fmt/format.h>

namespace pgc::dsl {

namespace {

// Model code is reported relative to the source tree, as "models/x.cpp:12".
const char *relativeSourcePath(const char *file) {
#ifdef PGC_SOURCE_DIR
  size_t rootLength = std::strlen(PGC_SOURCE_DIR);
  if (std::strncmp(file, PGC_SOURCE_DIR, rootLength) == 0 &&
      file[rootLength] == '/')
    return file + rootLength + 1;
#endif
  return file;
}

} // namespace

//===----------------------------------------------------------------------===//
// ModuleBuilder
//===----------------------------------------------------------------------===//

ModuleBuilder::ModuleBuilder(mlir::MLIRContext &context) : context_(context) {
  context.loadDialect<mlir::pg::PgDialect, mlir::func::FuncDialect>();
  module_ = mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
}

//===----------------------------------------------------------------------===//
// FunctionBuilder
//===----------------------------------------------------------------------===//

FunctionBuilder::DiagnosticCapture::DiagnosticCapture(
    mlir::MLIRContext &context, std::string &message)
    : handler(&context, [&message](mlir::Diagnostic &diag) {
        if (diag.getSeverity() == mlir::DiagnosticSeverity::Error &&
            message.empty())
          message = diag.str();
        return mlir::success();
      }) {}

FunctionBuilder::FunctionBuilder(ModuleBuilder &module, const std::string &name,
                                 Loc loc)
    : module_(module), builder_(&module.context()) {
  builder_.setInsertionPointToEnd(module.module().getBody());
  func_ = builder_.create<mlir::func::FuncOp>(
      location(loc), name, builder_.getFunctionType({}, {}));
  builder_.setInsertionPointToStart(func_.addEntryBlock());
}

mlir::Location FunctionBuilder::location(Loc loc) {
  if (!loc.file || !*loc.file)
    return builder_.getUnknownLoc();
  return mlir::FileLineColLoc::get(&context(), relativeSourcePath(loc.file),
                                   static_cast<unsigned>(loc.line), 0);
}

void FunctionBuilder::failAt(Loc loc, const std::string &message) {
  throw Error(fmt::format("{}:{}: {}", relativeSourcePath(loc.file), loc.line,
                          message));
}

mlir::Type FunctionBuilder::elementType(DType dtype) {
  if (mlir::Type type = mlir::pg::elementTypeOf(dtype, &context()))
    return type;
  throw Error("the pg dialect has no u8 tensors");
}

mlir::RankedTensorType FunctionBuilder::tensorType(const Shape &shape,
                                                   DType dtype) {
  return mlir::RankedTensorType::get(shape, elementType(dtype));
}

mlir::Type FunctionBuilder::placeholderType() {
  return mlir::NoneType::get(&context());
}

std::unique_ptr<FunctionBuilder::DiagnosticCapture>
FunctionBuilder::captureDiagnostics(std::string &message) {
  return std::make_unique<DiagnosticCapture>(context(), message);
}

Tensor FunctionBuilder::finishOp(Loc loc, mlir::OperationState &state) {
  if (finished_)
    failAt(loc, "function '" + func_.getName().str() + "' is already finished");
  mlir::Operation *op = builder_.create(state);
  std::string message;
  {
    auto capture = captureDiagnostics(message);
    if (mlir::failed(mlir::verify(op, /*verifyRecursively=*/false))) {
      op->erase();
      failAt(loc, message);
    }
  }
  return Tensor(op->getResult(0), this);
}

Tensor FunctionBuilder::input(const std::string &name, const Shape &shape,
                              DType dtype, Loc loc) {
  if (std::find(inputNames_.begin(), inputNames_.end(), name) !=
      inputNames_.end())
    failAt(loc, "input '" + name + "' is declared twice");
  mlir::Block &entry = func_.getBody().front();
  mlir::Value arg = entry.addArgument(tensorType(shape, dtype), location(loc));
  inputNames_.push_back(name);
  return Tensor(arg, this);
}

Scope FunctionBuilder::root() { return Scope(*this, ""); }

void FunctionBuilder::finish(
    const std::vector<std::pair<std::string, Tensor>> &results, Loc loc) {
  if (finished_)
    failAt(loc, "function '" + func_.getName().str() + "' is already finished");
  llvm::SmallVector<mlir::Value> values;
  llvm::SmallVector<mlir::Type> types;
  for (const auto &[name, tensor] : results) {
    if (!tensor.defined())
      failAt(loc, "result '" + name + "' is not a defined tensor");
    values.push_back(tensor.value());
    types.push_back(tensor.value().getType());
  }
  builder_.create<mlir::func::ReturnOp>(location(loc), values);
  mlir::Block &entry = func_.getBody().front();
  func_.setFunctionType(
      builder_.getFunctionType(entry.getArgumentTypes(), types));
  for (size_t i = 0; i < inputNames_.size(); ++i)
    func_.setArgAttr(i, "pg.name", builder_.getStringAttr(inputNames_[i]));
  for (size_t i = 0; i < results.size(); ++i)
    func_.setResultAttr(i, "pg.name", builder_.getStringAttr(results[i].first));
  finished_ = true;
}

//===----------------------------------------------------------------------===//
// Scope
//===----------------------------------------------------------------------===//

Scope Scope::operator[](const std::string &child) const {
  return Scope(*function_, path(child));
}

Scope Scope::operator[](int64_t index) const {
  return (*this)[std::to_string(index)];
}

std::string Scope::path(const std::string &name) const {
  return prefix_.empty() ? name : prefix_ + "." + name;
}

Tensor Scope::param(const std::string &name, const Shape &shape, Init init,
                    DType dtype, Loc loc) const {
  std::string fullName = path(name);
  auto &known = function_->parameters();
  if (auto it = known.find(fullName); it != known.end()) {
    if (it->second.shape() != shape || it->second.dtype() != dtype)
      function_->failAt(
          loc, fmt::format("parameter '{}' was declared as {} {} and is now "
                           "asked for as {} {}",
                           fullName, dtypeName(it->second.dtype()),
                           formatShape(it->second.shape()), dtypeName(dtype),
                           formatShape(shape)));
    return it->second;
  }
  // Parameters go at the top of the function, before any computation, so
  // that the IR reads as "weights, then the graph".
  mlir::OpBuilder &builder = function_->builder();
  mlir::OpBuilder::InsertionGuard guard(builder);
  mlir::Block &entry = function_->func().getBody().front();
  auto firstNonParam = std::find_if(entry.begin(), entry.end(), [](auto &op) {
    return !mlir::isa<mlir::pg::ParamOp>(op);
  });
  builder.setInsertionPoint(&entry, firstNonParam);
  mlir::Type type = function_->tensorType(shape, dtype);
  Tensor result = function_->create<mlir::pg::ParamOp>(
      loc, builder.getStringAttr(fullName), mlir::TypeAttr::get(type),
      mlir::UnitAttr(), builder.getStringAttr(init.spelling()));
  known.emplace(fullName, result);
  return result;
}

} // namespace pgc::dsl
