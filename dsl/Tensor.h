// The DSL's value handle (Tensor), source locations and parameter initialisers.
#pragma once

#include "runtime/support/DType.h"
#include "runtime/support/Shape.h"

#include "mlir/IR/Value.h"

#include <string>
#include <vector>

namespace pgc::dsl {

class FunctionBuilder;

/// The C++ call site of a DSL call; it becomes the MLIR location of the op,
/// so that a verifier error points at model code. Pass nothing: the default
/// argument captures the caller's file and line.
struct Loc {
  const char *file = "";
  int line = 0;
  static Loc current(const char *file = __builtin_FILE(),
                     int line = __builtin_LINE()) {
    return Loc{file, line};
  }
};

/// How random initialisation draws a parameter; recorded on pg.param as text
/// ("normal(0.02)", "zeros", "ones", "uniform(-0.1,0.1)").
class Init {
public:
  static Init zeros() { return Init("zeros"); }
  static Init ones() { return Init("ones"); }
  static Init normal(double stddev);
  static Init uniform(double low, double high);
  const std::string &spelling() const { return spelling_; }

private:
  explicit Init(std::string spelling) : spelling_(std::move(spelling)) {}
  std::string spelling_;
};

/// A value of the function being built. Cheap to copy.
class Tensor {
public:
  Tensor() = default;
  Tensor(mlir::Value value, FunctionBuilder *function)
      : value_(value), function_(function) {}

  mlir::Value value() const { return value_; }
  FunctionBuilder &function() const { return *function_; }
  bool defined() const { return static_cast<bool>(value_); }

  Shape shape() const;
  int64_t rank() const;
  /// Dimension i; negative i counts from the end.
  int64_t dim(int64_t i) const;
  int64_t numel() const;
  DType dtype() const;

  /// Element type conversion (a pg.cast; a no-op if already that type).
  Tensor to(DType dtype, Loc loc = Loc::current()) const;

private:
  mlir::Value value_;
  FunctionBuilder *function_ = nullptr;
};

} // namespace pgc::dsl
