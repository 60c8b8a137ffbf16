// Plan queries, attribute accessors and the structural validation every
// executor relies on.
#include "runtime/artifact/Plan.h"

#include "runtime/support/Error.h"

#include <fmt/format.h>

namespace pgc {

std::string_view bufferRoleName(BufferRole role) {
  switch (role) {
  case BufferRole::Parameter:
    return "parameter";
  case BufferRole::Input:
    return "input";
  case BufferRole::Output:
    return "output";
  case BufferRole::OptimizerState:
    return "optimizer-state";
  case BufferRole::Gradient:
    return "gradient";
  case BufferRole::Temporary:
    return "temporary";
  case BufferRole::Constant:
    return "constant";
  }
  return "?";
}

std::string PlanStep::describe() const {
  return location.empty() ? op : op + " at " + location;
}

static const StepAttribute &attributeOf(const PlanStep &step,
                                        const std::string &name) {
  auto it = step.attributes.find(name);
  if (it == step.attributes.end())
    fail("{}: missing attribute '{}'", step.describe(), name);
  return it->second;
}

bool PlanStep::flag(const std::string &name) const {
  auto it = attributes.find(name);
  return it != attributes.end() && !it->second.ints.empty() &&
         it->second.ints[0] != 0;
}

int64_t PlanStep::integer(const std::string &name) const {
  const StepAttribute &attr = attributeOf(*this, name);
  if (attr.ints.size() != 1)
    fail("{}: attribute '{}' is not one integer", describe(), name);
  return attr.ints[0];
}

const std::vector<int64_t> &PlanStep::integers(const std::string &name) const {
  return attributeOf(*this, name).ints;
}

double PlanStep::real(const std::string &name) const {
  const StepAttribute &attr = attributeOf(*this, name);
  if (attr.floats.size() != 1)
    fail("{}: attribute '{}' is not one number", describe(), name);
  return attr.floats[0];
}

const std::string &PlanStep::text(const std::string &name) const {
  return attributeOf(*this, name).text;
}

const PlanEntryPoint *Plan::findEntryPoint(const std::string &name) const {
  for (const PlanEntryPoint &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

const PlanParameter *Plan::findParameter(const std::string &name) const {
  for (const PlanParameter &param : parameters)
    if (param.name == name)
      return &param;
  return nullptr;
}

void Plan::validate(const std::string &what) const {
  auto checkIndex = [&](uint32_t index, const std::string &context) {
    if (index >= buffers.size())
      fail("{}: {} refers to buffer {} but there are only {}", what, context,
           index, buffers.size());
  };
  for (size_t i = 0; i < buffers.size(); ++i) {
    const PlanBuffer &buffer = buffers[i];
    for (int64_t d : buffer.shape)
      if (d < 0)
        fail("{}: buffer {} '{}' has a negative dimension", what, i,
             buffer.name);
    if (buffer.role == BufferRole::Constant) {
      uint64_t expected = static_cast<uint64_t>(numElements(buffer.shape)) *
                          dtypeSize(buffer.dtype);
      if (buffer.data.size() != expected)
        fail("{}: constant buffer {} holds {} bytes, its shape {} needs {}",
             what, i, buffer.data.size(), formatShape(buffer.shape), expected);
    } else if (!buffer.data.empty()) {
      fail("{}: buffer {} '{}' is not a constant but carries data", what, i,
           buffer.name);
    }
  }
  for (const PlanParameter &param : parameters) {
    checkIndex(param.buffer, "parameter '" + param.name + "'");
    if (buffers[param.buffer].role != BufferRole::Parameter)
      fail("{}: parameter '{}' points at a {} buffer", what, param.name,
           bufferRoleName(buffers[param.buffer].role));
  }
  // The first step of a fused group names a kernel, a step count within the
  // entry point and the buffers passed to it.
  auto checkFusedGroup = [&](const PlanStep &step, size_t stepsLeft,
                             const std::string &context) {
    const std::vector<int64_t> &kernel = step.integers(kStepKernel);
    if (kernel.size() != 1 || kernel[0] < 0 ||
        static_cast<uint64_t>(kernel[0]) >= kernels.size())
      fail("{}: {} names kernel {} but there are {} kernels", what, context,
           kernel.empty() ? -1 : kernel[0], kernels.size());
    const std::vector<int64_t> &count = step.integers(kStepFusedSteps);
    if (count.size() != 1 || count[0] < 1 ||
        static_cast<uint64_t>(count[0]) > stepsLeft)
      fail("{}: {} fuses {} steps but {} remain", what, context,
           count.empty() ? -1 : count[0], stepsLeft);
    for (int64_t arg : step.integers(kStepKernelArgs)) {
      if (arg < 0 || static_cast<uint64_t>(arg) >= buffers.size())
        fail("{}: {} passes buffer {} to its kernel but there are only {}",
             what, context, arg, buffers.size());
    }
  };
  for (const PlanEntryPoint &entry : entryPoints) {
    std::string context = "entry point '" + entry.name + "'";
    if (entry.inputs.size() != entry.inputNames.size() ||
        entry.outputs.size() != entry.outputNames.size())
      fail("{}: {} has mismatched name lists", what, context);
    // Buffers that hold a value when the entry point starts.
    std::vector<bool> defined(buffers.size(), false);
    for (size_t i = 0; i < buffers.size(); ++i) {
      BufferRole role = buffers[i].role;
      defined[i] =
          role == BufferRole::Parameter || role == BufferRole::Constant ||
          role == BufferRole::OptimizerState || role == BufferRole::Gradient;
    }
    for (uint32_t input : entry.inputs) {
      checkIndex(input, context + " input");
      if (buffers[input].role != BufferRole::Input)
        fail("{}: {} input buffer {} has role {}", what, context, input,
             bufferRoleName(buffers[input].role));
      defined[input] = true;
    }
    for (size_t s = 0; s < entry.steps.size(); ++s) {
      const PlanStep &step = entry.steps[s];
      std::string stepContext =
          fmt::format("{} step {} ({})", context, s, step.describe());
      for (uint32_t in : step.inputs) {
        checkIndex(in, stepContext);
        if (!defined[in])
          fail("{}: {} reads buffer {} '{}' before it is written", what,
               stepContext, in, buffers[in].name);
      }
      for (uint32_t out : step.outputs) {
        checkIndex(out, stepContext);
        BufferRole role = buffers[out].role;
        if (role == BufferRole::Input || role == BufferRole::Constant)
          fail("{}: {} writes {} buffer {}", what, stepContext,
               bufferRoleName(role), out);
        defined[out] = true;
      }
      if (step.attributes.count(kStepKernel))
        checkFusedGroup(step, entry.steps.size() - s, stepContext);
    }
    for (uint32_t out : entry.outputs) {
      checkIndex(out, context + " output");
      if (!defined[out])
        fail("{}: {} returns buffer {} that no step writes", what, context,
             out);
    }
  }
}

} // namespace pgc
