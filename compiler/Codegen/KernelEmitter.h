// The emitter of one fused elementwise kernel, shared by the files that
// build its text (CudaElementwise.cpp) and check a group against the CPU
// kernels' rules (CudaElementwiseChecks.cpp). Private to PgcCodegen.
#pragma once

#include "compiler/Codegen/CudaElementwise.h"

#include "runtime/support/Error.h"

#include <cstdint>
#include <fmt/format.h>
#include <map>
#include <set>
#include <string>

namespace pgc::codegen::detail {

/// The op names a group may hold.
const std::set<std::string> &fusibleOps();

/// Builds the kernel text of one group; an object so that every helper sees
/// the plan, the group and the names given so far.
class KernelEmitter {
public:
  KernelEmitter(const Plan &plan, const ElementwiseGroup &group)
      : plan_(plan), group_(group) {}

  std::string emit();

private:
  /// `helper` called with `arguments`, noting that the kernel needs it.
  std::string call(const std::string &helper, const std::string &arguments) {
    helpers_.insert(helper);
    return fmt::format("{}({})", helper, arguments);
  }
  [[noreturn]] void failGroup(const std::string &problem) const {
    fail("elementwise group '{}': {}", group_.name, problem);
  }
  const PlanBuffer &buffer(uint32_t index, const std::string &what) const;
  DType dtypeOf(uint32_t index) const { return plan_.buffers[index].dtype; }
  const std::string &value(uint32_t index) const { return values_.at(index); }

  void checkStructure();
  void checkStep(const PlanStep &step);
  std::string stepExpression(const PlanStep &step);
  std::string binaryExpression(const PlanStep &step);
  std::string unaryExpression(const PlanStep &step);
  std::string compareExpression(const PlanStep &step);
  std::string castExpression(const PlanStep &step);
  std::string geluTanhGradExpression(const PlanStep &step);
  std::string dropoutExpression(const PlanStep &step);

  const Plan &plan_;
  const ElementwiseGroup &group_;
  int64_t count_ = 0;
  /// Buffer index -> the name of its value inside the loop.
  std::map<uint32_t, std::string> values_;
  /// Inputs read as a dropout key, and those read element by element.
  std::set<uint32_t> keyInputs_, elementInputs_;
  /// Inputs read once, as element 0: the operands of broadcasts.
  std::set<uint32_t> scalarInputs_;
  /// Statements before the loop (splat values, dropout streams).
  std::string preamble_;
  /// The helpers (kHelpers) the expressions call.
  std::set<std::string> helpers_;
  bool needsRng_ = false;
  int dropoutStreams_ = 0;
};

} // namespace pgc::codegen::detail
