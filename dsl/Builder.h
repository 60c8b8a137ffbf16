// Building pg functions from C++: modules, functions with named inputs and results, and parameter scopes.
#pragma once

#include "dsl/Tensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <map>
#include <memory>
#include <string>
#include <utility>

namespace pgc::dsl {

/// Owns the module that DSL functions are built into. Loads the pg and func
/// dialects into the context.
class ModuleBuilder {
public:
  explicit ModuleBuilder(mlir::MLIRContext &context);
  mlir::MLIRContext &context() { return context_; }
  mlir::ModuleOp module() { return *module_; }
  mlir::OwningOpRef<mlir::ModuleOp> release() { return std::move(module_); }

private:
  mlir::MLIRContext &context_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
};

class Scope;

/// Builds one func.func. Inputs become arguments named by a `pg.name`
/// argument attribute, results are named by `pg.name` result attributes.
/// Every op is checked as it is created: a shape error throws pgc::Error with
/// the C++ file and line of the DSL call.
class FunctionBuilder {
public:
  FunctionBuilder(ModuleBuilder &module, const std::string &name,
                  Loc loc = Loc::current());
  FunctionBuilder(const FunctionBuilder &) = delete;
  FunctionBuilder &operator=(const FunctionBuilder &) = delete;

  /// A named function argument.
  Tensor input(const std::string &name, const Shape &shape, DType dtype,
               Loc loc = Loc::current());
  /// The root of the parameter namespace.
  Scope root();
  /// Ends the function with these named results.
  void finish(const std::vector<std::pair<std::string, Tensor>> &results,
              Loc loc = Loc::current());

  mlir::func::FuncOp func() { return func_; }
  mlir::OpBuilder &builder() { return builder_; }
  mlir::MLIRContext &context() { return *builder_.getContext(); }
  mlir::Location location(Loc loc);
  mlir::Type elementType(DType dtype);
  mlir::RankedTensorType tensorType(const Shape &shape, DType dtype);

  /// Creates an op whose result type the op infers, verifies it, and wraps
  /// its result. `build` receives (OpBuilder&, OperationState&) and fills the
  /// operands and attributes through one of the op's generated builders.
  template <typename OpTy, typename... Args>
  Tensor create(Loc loc, Args &&...args) {
    mlir::OperationState state(location(loc), OpTy::getOperationName());
    OpTy::build(builder_, state, placeholderType(), std::forward<Args>(args)...);
    state.types.clear();
    llvm::SmallVector<mlir::Type, 1> types;
    std::string message;
    {
      auto capture = captureDiagnostics(message);
      if (mlir::failed(OpTy::inferReturnTypes(
              &context(), state.location, state.operands,
              state.attributes.getDictionary(&context()),
              state.getRawProperties(), state.regions, types)))
        failAt(loc, message);
    }
    state.addTypes(types);
    return finishOp(loc, state);
  }

  /// Creates an op with a result type given by the caller, then verifies it.
  template <typename OpTy, typename... Args>
  Tensor createWithType(Loc loc, mlir::Type type, Args &&...args) {
    mlir::OperationState state(location(loc), OpTy::getOperationName());
    OpTy::build(builder_, state, type, std::forward<Args>(args)...);
    return finishOp(loc, state);
  }

  /// Parameters already created in this function, by full name (so that a
  /// name used twice, such as a tied embedding, is one value).
  std::map<std::string, Tensor> &parameters() { return parameters_; }

  [[noreturn]] void failAt(Loc loc, const std::string &message);

private:
  mlir::Type placeholderType();
  Tensor finishOp(Loc loc, mlir::OperationState &state);
  /// Records the first error diagnostic while alive.
  struct DiagnosticCapture {
    DiagnosticCapture(mlir::MLIRContext &context, std::string &message);
    mlir::ScopedDiagnosticHandler handler;
  };
  std::unique_ptr<DiagnosticCapture> captureDiagnostics(std::string &message);

  ModuleBuilder &module_;
  mlir::OpBuilder builder_;
  mlir::func::FuncOp func_;
  std::vector<std::string> inputNames_;
  std::map<std::string, Tensor> parameters_;
  bool finished_ = false;
};

/// A position in the hierarchical parameter namespace: s["layers"][3]["mlp"]
/// names "layers.3.mlp", and s.param("weight", ...) creates the pg.param
/// "layers.3.mlp.weight", named exactly as in the Hugging Face checkpoint.
class Scope {
public:
  Scope(FunctionBuilder &function, std::string prefix)
      : function_(&function), prefix_(std::move(prefix)) {}

  Scope operator[](const std::string &child) const;
  Scope operator[](int64_t index) const;
  const std::string &prefix() const { return prefix_; }
  /// Full dotted name of a child of this scope.
  std::string path(const std::string &name) const;

  /// The parameter `prefix.name`. Asking twice for one name returns the same
  /// value; asking with another shape or dtype is an error.
  Tensor param(const std::string &name, const Shape &shape, Init init,
               DType dtype = DType::F32, Loc loc = Loc::current()) const;

  FunctionBuilder &function() const { return *function_; }

private:
  FunctionBuilder *function_;
  std::string prefix_;
};

} // namespace pgc::dsl
