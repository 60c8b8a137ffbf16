// Session: binding parameters and inputs, random initialisation, and op-by-op
// execution of entry points.
#include "runtime/exec/Session.h"

#include "runtime/exec/Nf4Storage.h"
#include "runtime/quant/Nf4.h"
#include "runtime/support/CounterRng.h"
#include "runtime/support/Error.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

namespace pgc {

namespace {

bool isPersistent(BufferRole role) { return isPersistentRole(role); }

using rng::mix;
using rng::unitInterval;

struct Initializer {
  enum Kind { Zeros, Ones, Normal, Uniform } kind;
  double a = 0, b = 0;
};

Initializer parseInitializer(const std::string &parameter,
                             const std::string &spelling) {
  if (spelling == "zeros" || spelling.empty())
    return {Initializer::Zeros};
  if (spelling == "ones")
    return {Initializer::Ones};
  double a = 0, b = 0;
  char close = 0;
  if (std::sscanf(spelling.c_str(), "normal(%lf%c", &a, &close) == 2 &&
      close == ')')
    return {Initializer::Normal, a};
  if (std::sscanf(spelling.c_str(), "uniform(%lf,%lf%c", &a, &b, &close) == 3 &&
      close == ')')
    return {Initializer::Uniform, a, b};
  fail("parameter '{}': unknown initialiser '{}'", parameter, spelling);
}

} // namespace

Session::Session(Plan plan) : plan_(std::move(plan)) {
  persistent_.resize(plan_.buffers.size());
  parameterSet_.assign(plan_.buffers.size(), false);
  for (size_t i = 0; i < plan_.buffers.size(); ++i) {
    const PlanBuffer &buffer = plan_.buffers[i];
    if (!isPersistent(buffer.role))
      continue;
    persistent_[i] = Tensor(buffer.dtype, buffer.shape);
    if (buffer.role == BufferRole::Constant && !buffer.data.empty())
      std::memcpy(persistent_[i].raw(), buffer.data.data(), buffer.data.size());
  }
  for (const PlanParameter &param : plan_.parameters) {
    if (!param.nf4)
      continue;
    const PlanBuffer &buffer = plan_.buffers[param.buffer];
    Nf4Layout layout{numElements(param.nf4->shape), param.nf4->blockSize,
                     param.nf4->doubleQuant};
    if (param.nf4->shape.empty() || buffer.dtype != DType::U8 ||
        buffer.shape != Shape{layout.totalBytes()})
      fail("nf4 parameter '{}': buffer must be u8 [{}] for weight {}, the "
           "plan has {} {}",
           param.name, layout.totalBytes(), formatShape(param.nf4->shape),
           dtypeName(buffer.dtype), formatShape(buffer.shape));
  }
  for (const PlanEntryPoint &entry : plan_.entryPoints) {
    std::vector<Kernel> kernels;
    for (size_t s = 0; s < entry.steps.size(); ++s) {
      StepKernel kernel = findCpuKernel(entry.steps[s].op);
      if (!kernel)
        fail("entry point '{}' step {}: op '{}' has no CPU kernel", entry.name,
             s, entry.steps[s].describe());
      kernels.push_back(std::move(kernel));
    }
    kernels_.push_back(std::move(kernels));
    memory_.push_back({planArena(plan_, entry), nullptr, {}});
  }
  const char *poison = std::getenv("PGC_EXEC_POISON");
  poisonTemporaries_ = poison && std::strcmp(poison, "0") != 0;
}

size_t Session::temporaryBytes(const std::string &entryName) const {
  const PlanEntryPoint *entry = plan_.findEntryPoint(entryName);
  if (!entry)
    fail("no entry point '{}' in this artifact", entryName);
  return memory_[static_cast<size_t>(entry - plan_.entryPoints.data())]
      .layout.bytes;
}

void Session::setParameter(const std::string &name, const Tensor &value) {
  const PlanParameter *param = plan_.findParameter(name);
  if (!param)
    fail("'{}' is not a parameter of this model", name);
  Tensor &slot = persistent_[param->buffer];
  if (param->nf4) {
    setNf4Parameter(*param, value);
    return;
  }
  if (value.shape() != slot.shape())
    fail("{}: expected {}, got {}", name, formatShape(slot.shape()),
         formatShape(value.shape()));
  if (value.dtype() == slot.dtype()) {
    std::memcpy(slot.raw(), value.raw(), value.byteSize());
  } else if (isFloat(value.dtype()) && isFloat(slot.dtype())) {
    Tensor converted = value.to(slot.dtype());
    std::memcpy(slot.raw(), converted.raw(), converted.byteSize());
  } else {
    fail("{}: expected {} values, got {}", name, dtypeName(slot.dtype()),
         dtypeName(value.dtype()));
  }
  parameterSet_[param->buffer] = true;
}

void Session::setNf4Parameter(const PlanParameter &param, const Tensor &value) {
  Tensor &slot = persistent_[param.buffer];
  if (value.dtype() == DType::U8 && value.shape() == slot.shape()) {
    // Already in the buffer layout (a saved quantized parameter).
    std::memcpy(slot.raw(), value.raw(), value.byteSize());
  } else if (isFloat(value.dtype()) && value.shape() == param.nf4->shape) {
    // bitsandbytes quantizes the f32/bf16 checkpoint tensor as it is; other
    // float types go through f32.
    Tensor source = value.dtype() == DType::F32 || value.dtype() == DType::BF16
                        ? value
                        : value.to(DType::F32);
    quant::Nf4Options options;
    options.blockSize = param.nf4->blockSize;
    options.doubleQuant = param.nf4->doubleQuant;
    packNf4(quant::quantizeNf4(source, options, param.name), slot, param.name);
  } else {
    fail("{}: nf4 parameter expects a float tensor {} (or its u8 [{}] "
         "storage), got {} {}",
         param.name, formatShape(param.nf4->shape), slot.numel(),
         dtypeName(value.dtype()), formatShape(value.shape()));
  }
  parameterSet_[param.buffer] = true;
}

const Tensor &Session::parameter(const std::string &name) const {
  const PlanParameter *param = plan_.findParameter(name);
  if (!param)
    fail("'{}' is not a parameter of this model", name);
  return persistent_[param->buffer];
}

std::vector<std::string> Session::unsetParameters() const {
  std::vector<std::string> names;
  for (const PlanParameter &param : plan_.parameters)
    if (!parameterSet_[param.buffer])
      names.push_back(param.name);
  return names;
}

std::vector<std::string> Session::stateNames() const {
  std::vector<std::string> names;
  for (const PlanBuffer &buffer : plan_.buffers)
    if (buffer.role == BufferRole::Gradient ||
        buffer.role == BufferRole::OptimizerState)
      names.push_back(buffer.name);
  return names;
}

static uint32_t findStateBuffer(const Plan &plan, const std::string &name) {
  for (size_t i = 0; i < plan.buffers.size(); ++i)
    if ((plan.buffers[i].role == BufferRole::Gradient ||
         plan.buffers[i].role == BufferRole::OptimizerState) &&
        plan.buffers[i].name == name)
      return static_cast<uint32_t>(i);
  fail("'{}' is not a state buffer of this artifact", name);
}

const Tensor &Session::state(const std::string &name) const {
  return persistent_[findStateBuffer(plan_, name)];
}

void Session::setState(const std::string &name, const Tensor &value) {
  Tensor &slot = persistent_[findStateBuffer(plan_, name)];
  if (value.shape() != slot.shape() || value.dtype() != slot.dtype())
    fail("state '{}': expected {} {}, got {} {}", name, dtypeName(slot.dtype()),
         formatShape(slot.shape()), dtypeName(value.dtype()),
         formatShape(value.shape()));
  std::memcpy(slot.raw(), value.raw(), value.byteSize());
}

void Session::initializeParameters(
    uint64_t seed, const std::function<bool(const PlanParameter &)> &only) {
  for (const PlanParameter &param : plan_.parameters) {
    if (only && !only(param))
      continue;
    Initializer init = parseInitializer(param.name, param.init);
    // An nf4 weight is drawn in f32 at its logical shape, then quantized.
    Tensor drawn = param.nf4 ? Tensor(DType::F32, param.nf4->shape) : Tensor();
    Tensor &slot = param.nf4 ? drawn : persistent_[param.buffer];
    uint64_t stream = rng::initStream(seed, param.name);
    for (int64_t i = 0; i < slot.numel(); ++i) {
      double value = 0;
      switch (init.kind) {
      case Initializer::Zeros:
        value = 0;
        break;
      case Initializer::Ones:
        value = 1;
        break;
      case Initializer::Normal: {
        // Box-Muller on two independent counter draws.
        double u1 = unitInterval(mix(stream + 2 * static_cast<uint64_t>(i)));
        double u2 =
            unitInterval(mix(stream + 2 * static_cast<uint64_t>(i) + 1));
        value =
            init.a * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
        break;
      }
      case Initializer::Uniform:
        value =
            init.a + (init.b - init.a) *
                         unitInterval(mix(stream + static_cast<uint64_t>(i)));
        break;
      }
      slot.set(i, value);
    }
    if (param.nf4)
      setNf4Parameter(param, drawn);
    parameterSet_[param.buffer] = true;
  }
}

TensorMap Session::run(const std::string &entryName, const TensorMap &inputs) {
  const PlanEntryPoint *entry = plan_.findEntryPoint(entryName);
  if (!entry)
    fail("no entry point '{}' in this artifact", entryName);
  size_t entryIndex = static_cast<size_t>(entry - plan_.entryPoints.data());
  std::vector<std::string> unset = unsetParameters();
  if (!unset.empty())
    fail("parameter '{}' has no value ({} unset): load weights or initialise "
         "them",
         unset.front(), unset.size());

  // Temporaries live in one arena per entry point, planned at construction
  // and allocated once: a fresh zeroed tensor per buffer per call cost more
  // (memset and page faults) than most kernels.
  EntryMemory &memory = memory_[entryIndex];
  std::vector<Tensor> &values = memory.values;
  if (!memory.arena) {
    size_t bytes = std::max(memory.layout.bytes, ArenaPlan::kAlignment);
    void *arena = std::aligned_alloc(ArenaPlan::kAlignment, bytes);
    if (!arena)
      fail("entry point '{}': cannot allocate {} bytes for temporaries",
           entryName, bytes);
    std::memset(arena, 0, bytes);
    memory.arena.reset(arena, std::free);
    values.assign(plan_.buffers.size(), Tensor());
    for (size_t b = 0; b < plan_.buffers.size(); ++b)
      if (memory.layout.offsets[b] >= 0)
        values[b] = Tensor::borrow(
            plan_.buffers[b].dtype, plan_.buffers[b].shape,
            static_cast<char *>(arena) + memory.layout.offsets[b],
            memory.arena);
  }
  // The caller's inputs are bound, not copied, and not kept alive past the
  // call (even one that fails).
  struct ReleaseInputs {
    std::vector<Tensor> &values;
    const std::vector<uint32_t> &inputs;
    ~ReleaseInputs() {
      for (uint32_t input : inputs)
        values[input] = Tensor();
    }
  } releaseInputs{values, entry->inputs};
  for (size_t i = 0; i < entry->inputs.size(); ++i) {
    const std::string &name = entry->inputNames[i];
    const PlanBuffer &buffer = plan_.buffers[entry->inputs[i]];
    auto it = inputs.find(name);
    if (it == inputs.end())
      fail("entry point '{}': missing input '{}' ({} {})", entryName, name,
           dtypeName(buffer.dtype), formatShape(buffer.shape));
    const Tensor &given = it->second;
    if (given.shape() != buffer.shape)
      fail("input '{}': expected shape {}, got {}", name,
           formatShape(buffer.shape), formatShape(given.shape()));
    if (given.dtype() == buffer.dtype)
      values[entry->inputs[i]] = given;
    else if (isFloat(given.dtype()) && isFloat(buffer.dtype))
      values[entry->inputs[i]] = given.to(buffer.dtype);
    else
      fail("input '{}': expected {} values, got {}", name,
           dtypeName(buffer.dtype), dtypeName(given.dtype()));
  }
  for (const auto &[name, tensor] : inputs)
    if (std::find(entry->inputNames.begin(), entry->inputNames.end(), name) ==
        entry->inputNames.end())
      fail("entry point '{}' has no input named '{}'", entryName, name);

  auto slot = [&](uint32_t index) -> Tensor * {
    return isPersistent(plan_.buffers[index].role) ? &persistent_[index]
                                                   : &values[index];
  };
  const std::vector<Kernel> &kernels = kernels_[entryIndex];
  std::vector<Tensor *> in, out;
  for (size_t s = 0; s < entry->steps.size(); ++s) {
    const PlanStep &step = entry->steps[s];
    in.clear();
    out.clear();
    for (uint32_t index : step.inputs)
      in.push_back(slot(index));
    for (uint32_t index : step.outputs) {
      Tensor *target = slot(index);
      if (!target->defined() || target->numel() == 0)
        *target =
            Tensor(plan_.buffers[index].dtype, plan_.buffers[index].shape);
      // Right before the kernel, so that what earlier steps left there
      // cannot hide a kernel that reads its output before writing it.
      if (poisonTemporaries_ && memory.layout.offsets[index] >= 0)
        std::memset(target->raw(), 0xff, target->byteSize());
      out.push_back(target);
    }
    if (!stepTimer_) {
      kernels[s](step, in, out);
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    kernels[s](step, in, out);
    stepTimer_(step, std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count());
  }

  // Outputs are copies: the arena is overwritten by the next call.
  TensorMap results;
  for (size_t i = 0; i < entry->outputs.size(); ++i)
    results[entry->outputNames[i]] = slot(entry->outputs[i])->clone();
  return results;
}

} // namespace pgc
