// Checks a fused elementwise group before any text is emitted: its
// structure (names, buffers, one element count) and each step against the
// arity, dtype and attribute rules of the CPU kernel it replaces.
#include "compiler/Codegen/KernelEmitter.h"

#include <cctype>
#include <set>

namespace pgc::codegen::detail {

const PlanBuffer &KernelEmitter::buffer(uint32_t index,
                                        const std::string &what) const {
  if (index >= plan_.buffers.size())
    failGroup(fmt::format("{} is buffer {} but the plan has {} buffers", what,
                          index, plan_.buffers.size()));
  return plan_.buffers[index];
}

void KernelEmitter::checkStructure() {
  if (group_.name.empty() ||
      !(std::isalpha(static_cast<unsigned char>(group_.name[0])) ||
        group_.name[0] == '_'))
    failGroup("the kernel name must be a C identifier");
  for (char c : group_.name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      failGroup("the kernel name must be a C identifier");
  if (group_.steps.empty())
    failGroup("has no steps");
  if (group_.outputs.empty())
    failGroup("has no outputs");

  std::set<uint32_t> inputs;
  for (uint32_t in : group_.inputs) {
    buffer(in, "an input");
    if (!inputs.insert(in).second)
      failGroup(fmt::format("buffer {} is listed twice as an input", in));
  }
  const PlanStep &first = group_.steps.front();
  if (first.outputs.empty())
    fail("{}: has no result", first.describe());
  count_ = numElements(buffer(first.outputs[0], "a result").shape);

  std::set<uint32_t> written;
  for (const PlanStep &step : group_.steps) {
    if (!isFusibleElementwise(step.op))
      fail("{}: '{}' is not an elementwise op the CUDA generator can fuse",
           step.describe(), step.op);
    for (uint32_t in : step.inputs) {
      buffer(in, step.describe() + "'s operand");
      if (!written.count(in) && !inputs.count(in))
        fail("{}: reads buffer {}, which is neither an input of the group nor "
             "written by an earlier step of it",
             step.describe(), in);
    }
    for (uint32_t out : step.outputs) {
      buffer(out, step.describe() + "'s result");
      if (inputs.count(out))
        fail("{}: writes buffer {}, an input of the group", step.describe(),
             out);
      if (!written.insert(out).second)
        fail("{}: writes buffer {}, which an earlier step of the group wrote",
             step.describe(), out);
    }
    checkStep(step);
  }
  std::set<uint32_t> outputs;
  for (uint32_t out : group_.outputs) {
    buffer(out, "an output");
    if (!written.count(out))
      failGroup(fmt::format("output buffer {} is written by no step", out));
    if (!outputs.insert(out).second)
      failGroup(fmt::format("buffer {} is listed twice as an output", out));
  }
}

// The arity, dtype and attribute rules of the CPU kernels, checked here so
// that a group the CPU executor would reject never becomes a kernel.
void KernelEmitter::checkStep(const PlanStep &step) {
  const std::string &op = step.op;
  size_t arity = 1;
  if (op == "select")
    arity = 3;
  else if (op == "add" || op == "sub" || op == "mul" || op == "div" ||
           op == "max" || op == "min" || op == "compare" ||
           op == "gelu_tanh_grad" || op == "dropout")
    arity = 2;
  if (step.inputs.size() != arity || step.outputs.size() != 1)
    fail("{}: expected {} operands and 1 result, the plan has {} and {}",
         step.describe(), arity, step.inputs.size(), step.outputs.size());

  // Every operand is indexed by element, a dropout key and the one element a
  // broadcast replicates excepted.
  for (size_t k = 0; k < step.inputs.size(); ++k) {
    if (op == "dropout" && k == 1)
      continue;
    if (op == "broadcast") {
      int64_t numel = numElements(plan_.buffers[step.inputs[k]].shape);
      if (numel != 1)
        fail("{}: only a broadcast of one element is fused, the operand has "
             "{}",
             step.describe(), numel);
      continue;
    }
    int64_t numel = numElements(plan_.buffers[step.inputs[k]].shape);
    if (numel != count_)
      fail("{}: operand {} has {} elements but the group computes {}",
           step.describe(), k, numel, count_);
  }
  int64_t resultCount = numElements(plan_.buffers[step.outputs[0]].shape);
  if (resultCount != count_)
    fail("{}: its result has {} elements but the group computes {}",
         step.describe(), resultCount, count_);

  DType out = dtypeOf(step.outputs[0]);
  auto operand = [&](size_t k) { return dtypeOf(step.inputs[k]); };
  auto mismatch = [&](const char *what) {
    std::string dtypes;
    for (uint32_t in : step.inputs)
      dtypes += std::string(dtypes.empty() ? "" : ", ") +
                std::string(dtypeName(dtypeOf(in)));
    fail("{}: {} (operands {}, result {})", step.describe(), what, dtypes,
         dtypeName(out));
  };
  if (op == "add" || op == "sub" || op == "mul" || op == "div" || op == "max" ||
      op == "min") {
    if (operand(0) != operand(1) || operand(0) != out)
      mismatch("operands and result must share one dtype");
    if (out == DType::Bool && op != "max" && op != "min")
      mismatch("only max and min are defined on i1");
  } else if (op == "neg") {
    if (operand(0) != out)
      mismatch("operand and result must share one dtype");
    if (!isFloat(out) && out != DType::I32 && out != DType::I64)
      mismatch("neg takes float, i32 or i64");
  } else if (op == "compare") {
    if (operand(0) != operand(1) || out != DType::Bool)
      mismatch("operands must share one dtype and the result must be i1");
    static const std::set<std::string> predicates = {"eq", "ne", "lt",
                                                     "le", "gt", "ge"};
    if (!predicates.count(step.text("predicate")))
      fail("{}: unknown predicate '{}'", step.describe(),
           step.text("predicate"));
  } else if (op == "select") {
    if (operand(0) != DType::Bool || operand(1) != operand(2) ||
        operand(1) != out)
      mismatch("the condition must be i1 and both values of the result's "
               "dtype");
  } else if (op == "cast") {
    // Every pair of dtypes converts.
  } else if (op == "broadcast") {
    if (operand(0) != out)
      mismatch("operand and result must share one dtype");
  } else if (op == "gelu_tanh_grad") {
    if (!isFloat(operand(0)) || !isFloat(operand(1)) || !isFloat(out))
      mismatch("x, dy and dx must be floats");
  } else if (op == "dropout") {
    const PlanBuffer &key = plan_.buffers[step.inputs[1]];
    if (key.dtype != DType::I64 || numElements(key.shape) != 2)
      fail("{}: the key must be i64 [2] (seed, counter), got {} {}",
           step.describe(), dtypeName(key.dtype), formatShape(key.shape));
    if (!isFloat(operand(0)) || operand(0) != out)
      mismatch("input and result must share one float dtype");
    double p = step.real("p");
    if (!(p >= 0 && p < 1))
      fail("{}: p must be in [0, 1), got {}", step.describe(), p);
    step.text("site");
  } else {
    // exp, log, sqrt, rsqrt, tanh, gelu_tanh.
    if (!isFloat(operand(0)) || operand(0) != out)
      mismatch("operand and result must share one float dtype");
  }
}

} // namespace pgc::codegen::detail
