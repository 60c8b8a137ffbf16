// CudaSession: device memory for a plan (persistent buffers and one arena of
// temporaries per entry point), state transfer with a CPU Session, and the
// step loop that launches fused groups and single-op kernels on one stream.
#include "runtime/cuda/exec/CudaSession.h"

#include "runtime/cuda/ArtifactKernels.h"
#include "runtime/cuda/Nvrtc.h"
#include "runtime/cuda/exec/StepLaunchers.h"
#include "runtime/exec/ArenaPlan.h"
#include "runtime/exec/Nf4Storage.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace pgc::cuda {
namespace {

bool isFusedGroupHead(const PlanStep &step) {
  return step.attributes.count(kStepKernel) != 0;
}

std::string describeStep(const PlanEntryPoint &entry, size_t index) {
  return fmt::format("entry point '{}' step {}: {}", entry.name, index,
                     entry.steps[index].describe());
}

} // namespace

bool hasCudaLauncher(const std::string &op) {
  return findCudaLauncher(op) != nullptr;
}

std::vector<std::string> stepsWithoutCudaKernel(const Plan &plan) {
  std::vector<std::string> missing;
  for (const PlanEntryPoint &entry : plan.entryPoints) {
    for (size_t s = 0; s < entry.steps.size(); ++s) {
      const PlanStep &step = entry.steps[s];
      if (isFusedGroupHead(step)) {
        // Plan::validate checked the count; the group's steps are covered.
        s += static_cast<size_t>(step.integer(kStepFusedSteps)) - 1;
        continue;
      }
      if (!findCudaLauncher(step.op))
        missing.push_back(describeStep(entry, s));
    }
  }
  return missing;
}

ArenaPlan planCudaArena(const Plan &plan, const PlanEntryPoint &entry) {
  PlanEntryPoint grouped = entry;
  for (size_t s = 0; s < entry.steps.size(); ++s) {
    const PlanStep &head = entry.steps[s];
    if (!isFusedGroupHead(head))
      continue;
    size_t end = std::min(entry.steps.size(),
                          s + static_cast<size_t>(std::max<int64_t>(
                                  1, head.integer(kStepFusedSteps))));
    // Reading every buffer of the group at its head makes them all live
    // there, so no two of them share memory.
    std::vector<uint32_t> &touched = grouped.steps[s].inputs;
    for (size_t i = s; i < end; ++i) {
      const PlanStep &step = entry.steps[i];
      touched.insert(touched.end(), step.inputs.begin(), step.inputs.end());
      touched.insert(touched.end(), step.outputs.begin(), step.outputs.end());
    }
    s = end - 1;
  }
  return planArena(plan, grouped, kDeviceAlignment);
}

struct CudaSession::State {
  State(const Context &context, Plan plan, KernelCache &cache)
      : context(context), plan(std::move(plan)), stream(context),
        resources(context, stream, cache),
        kernels(context, this->plan, Nvrtc::instance(), cache) {}

  const Context &context;
  Plan plan;
  Stream stream;
  StepResources resources;
  ArtifactKernels kernels;
  /// Per plan buffer: its device memory when persistent.
  std::vector<std::unique_ptr<DeviceBuffer>> persistent;
  /// Per plan buffer: whether a step of some entry point writes it. Frozen
  /// weights are not, so downloadState leaves the host's copy (1.7 GB of
  /// NF4 storage for the 3B model) as it is.
  std::vector<bool> writtenBySteps;
  struct Entry {
    ArenaPlan layout;
    std::unique_ptr<DeviceBuffer> arena; // allocated at the first run
    /// One device buffer per entry input, also allocated at the first run
    /// and reused: the stream orders each call's copies after the last
    /// call's kernels.
    std::vector<std::unique_ptr<DeviceBuffer>> inputs;
  };
  std::vector<Entry> entries;

  DeviceTensor tensorOf(uint32_t index, const Entry &entry,
                        const std::vector<api::CUdeviceptr> &bound) const {
    const PlanBuffer &buffer = plan.buffers[index];
    DeviceTensor tensor{0, buffer.dtype, buffer.shape};
    if (persistent[index])
      tensor.address = persistent[index]->address();
    else if (entry.layout.offsets[index] >= 0)
      tensor.address =
          entry.arena->address() +
          static_cast<api::CUdeviceptr>(entry.layout.offsets[index]);
    else
      tensor.address = bound[index];
    return tensor;
  }

  void launchFusedGroup(const PlanStep &head, const Entry &entry,
                        const std::vector<api::CUdeviceptr> &bound) {
    const std::vector<int64_t> &arguments = head.integers(kStepKernelArgs);
    std::vector<api::CUdeviceptr> pointers;
    for (int64_t argument : arguments)
      pointers.push_back(
          tensorOf(static_cast<uint32_t>(argument), entry, bound).address);
    // The last argument is an output, of the group's element count (inputs
    // may be single broadcast elements).
    long long count = numElements(
        plan.buffers[static_cast<uint32_t>(arguments.back())].shape);
    std::vector<void *> argv;
    for (api::CUdeviceptr &pointer : pointers)
      argv.push_back(&pointer);
    argv.push_back(&count);
    LaunchShape shape;
    shape.blockX = 256;
    shape.gridX = static_cast<unsigned>(std::max<int64_t>(
        1, std::min<int64_t>((count + 255) / 256,
                             int64_t(context.info().multiprocessors) * 8)));
    uint32_t kernel = static_cast<uint32_t>(head.integer(kStepKernel));
    launchKernel(stream, kernels.function(kernel), shape, argv.data(),
                 plan.kernels[kernel].name.c_str());
  }
};

CudaSession::CudaSession(const Context &context, Plan plan, KernelCache &cache)
    : state_(std::make_unique<State>(context, std::move(plan), cache)) {
  State &s = *state_;
  std::vector<std::string> missing = stepsWithoutCudaKernel(s.plan);
  if (!missing.empty())
    fail("cannot run on the GPU: {} has no GPU kernel ({} step{} without one)",
         missing.front(), missing.size(), missing.size() == 1 ? "" : "s");
  s.persistent.resize(s.plan.buffers.size());
  for (size_t i = 0; i < s.plan.buffers.size(); ++i) {
    const PlanBuffer &buffer = s.plan.buffers[i];
    if (!isPersistentRole(buffer.role))
      continue;
    size_t bytes = static_cast<size_t>(numElements(buffer.shape)) *
                   dtypeSize(buffer.dtype);
    s.persistent[i] = std::make_unique<DeviceBuffer>(
        context, std::max(bytes, kDeviceAlignment));
    if (buffer.role == BufferRole::Constant && !buffer.data.empty())
      copyToDevice(s.stream, s.persistent[i]->address(), buffer.data.data(),
                   buffer.data.size());
    else // as the CPU Session's fresh tensors: gradients start at zero
      fillBytes(s.stream, s.persistent[i]->address(), 0, bytes);
  }
  s.writtenBySteps.assign(s.plan.buffers.size(), false);
  for (const PlanEntryPoint &entry : s.plan.entryPoints) {
    s.entries.push_back({planCudaArena(s.plan, entry), nullptr});
    for (const PlanStep &step : entry.steps)
      for (uint32_t output : step.outputs)
        s.writtenBySteps[output] = true;
  }
  s.stream.synchronize();
}

CudaSession::~CudaSession() = default;

const Plan &CudaSession::plan() const { return state_->plan; }
const Stream &CudaSession::stream() const { return state_->stream; }

void CudaSession::uploadState(const Session &host) {
  State &s = *state_;
  if (host.plan().buffers.size() != s.plan.buffers.size())
    fail("uploadState: the CPU session runs another plan ({} buffers, this "
         "one {})",
         host.plan().buffers.size(), s.plan.buffers.size());
  for (size_t i = 0; i < s.plan.buffers.size(); ++i) {
    if (!s.persistent[i] || s.plan.buffers[i].role == BufferRole::Constant)
      continue;
    const Tensor &value = host.persistentBuffer(static_cast<uint32_t>(i));
    if (value.dtype() != s.plan.buffers[i].dtype ||
        value.shape() != s.plan.buffers[i].shape)
      fail("uploadState: buffer {} is {} {} on the host, {} {} in the plan", i,
           dtypeName(value.dtype()), formatShape(value.shape()),
           dtypeName(s.plan.buffers[i].dtype),
           formatShape(s.plan.buffers[i].shape));
    copyToDevice(s.stream, s.persistent[i]->address(), value.raw(),
                 value.byteSize());
  }
  // The NF4 absmax offset is a kernel argument: keep it on the host.
  for (const PlanParameter &param : s.plan.parameters) {
    if (!param.nf4 || !param.nf4->doubleQuant)
      continue;
    Nf4Layout layout{numElements(param.nf4->shape), param.nf4->blockSize, true};
    const Tensor &bytes = host.persistentBuffer(param.buffer);
    float offset = 0;
    std::memcpy(&offset,
                static_cast<const char *>(bytes.raw()) + layout.statsOffset() +
                    4 * layout.numBlocks2(),
                sizeof(offset));
    s.resources.setNf4Offset(s.persistent[param.buffer]->address(), offset);
  }
  s.stream.synchronize();
}

void CudaSession::downloadState(Session &host) const {
  const State &s = *state_;
  if (host.plan().buffers.size() != s.plan.buffers.size())
    fail("downloadState: the CPU session runs another plan");
  for (size_t i = 0; i < s.plan.buffers.size(); ++i) {
    if (!s.persistent[i] || s.plan.buffers[i].role == BufferRole::Constant)
      continue;
    Tensor &value = host.persistentBuffer(static_cast<uint32_t>(i));
    bool hostHoldsIt = value.defined() &&
                       value.shape() == s.plan.buffers[i].shape &&
                       value.dtype() == s.plan.buffers[i].dtype;
    if (hostHoldsIt && !s.writtenBySteps[i])
      continue; // the device holds what uploadState copied from the host
    if (!value.defined() || value.numel() == 0)
      value = Tensor(s.plan.buffers[i].dtype, s.plan.buffers[i].shape);
    copyToHost(s.stream, value.raw(), s.persistent[i]->address(),
               value.byteSize());
  }
  s.stream.synchronize();
}

TensorMap CudaSession::run(const std::string &entryName,
                           const TensorMap &inputs) {
  const PlanEntryPoint *entry = state_->plan.findEntryPoint(entryName);
  if (!entry)
    fail("no entry point '{}' in this artifact", entryName);
  return run(entryName, inputs, entry->outputNames);
}

TensorMap CudaSession::run(const std::string &entryName,
                           const TensorMap &inputs,
                           const std::vector<std::string> &outputs) {
  State &s = *state_;
  const PlanEntryPoint *entry = s.plan.findEntryPoint(entryName);
  if (!entry)
    fail("no entry point '{}' in this artifact", entryName);
  for (const std::string &name : outputs)
    if (std::find(entry->outputNames.begin(), entry->outputNames.end(), name) ==
        entry->outputNames.end())
      fail("entry point '{}' has no output named '{}'", entryName, name);
  State::Entry &memory =
      s.entries[static_cast<size_t>(entry - s.plan.entryPoints.data())];
  if (!memory.arena) {
    // Allocated aside and kept only when all succeed: a failed allocation
    // (out of memory) must not leave an arena with too few input buffers
    // for the next call to index.
    std::vector<std::unique_ptr<DeviceBuffer>> inputBuffers;
    for (uint32_t input : entry->inputs) {
      const PlanBuffer &buffer = s.plan.buffers[input];
      size_t bytes = static_cast<size_t>(numElements(buffer.shape)) *
                     dtypeSize(buffer.dtype);
      inputBuffers.push_back(std::make_unique<DeviceBuffer>(
          s.context, std::max(bytes, kDeviceAlignment)));
    }
    auto arena = std::make_unique<DeviceBuffer>(
        s.context, std::max(memory.layout.bytes, kDeviceAlignment));
    memory.inputs = std::move(inputBuffers);
    memory.arena = std::move(arena);
  }

  // Inputs: checked and converted as the CPU Session does, then copied into
  // the entry's input buffers.
  std::vector<api::CUdeviceptr> bound(s.plan.buffers.size(), 0);
  for (const auto &[name, tensor] : inputs)
    if (std::find(entry->inputNames.begin(), entry->inputNames.end(), name) ==
        entry->inputNames.end())
      fail("entry point '{}' has no input named '{}'", entryName, name);
  for (size_t i = 0; i < entry->inputs.size(); ++i) {
    const std::string &name = entry->inputNames[i];
    const PlanBuffer &buffer = s.plan.buffers[entry->inputs[i]];
    auto it = inputs.find(name);
    if (it == inputs.end())
      fail("entry point '{}': missing input '{}' ({} {})", entryName, name,
           dtypeName(buffer.dtype), formatShape(buffer.shape));
    Tensor given = it->second;
    if (given.shape() != buffer.shape)
      fail("input '{}': expected shape {}, got {}", name,
           formatShape(buffer.shape), formatShape(given.shape()));
    if (given.dtype() != buffer.dtype) {
      if (!isFloat(given.dtype()) || !isFloat(buffer.dtype))
        fail("input '{}': expected {} values, got {}", name,
             dtypeName(buffer.dtype), dtypeName(given.dtype()));
      given = given.to(buffer.dtype);
    }
    copyToDevice(s.stream, memory.inputs[i]->address(), given.raw(),
                 given.byteSize());
    bound[entry->inputs[i]] = memory.inputs[i]->address();
  }

  std::vector<DeviceTensor> in, out;
  for (size_t index = 0; index < entry->steps.size(); ++index) {
    const PlanStep &step = entry->steps[index];
    try {
      if (isFusedGroupHead(step)) {
        s.launchFusedGroup(step, memory, bound);
        index += static_cast<size_t>(step.integer(kStepFusedSteps)) - 1;
        continue;
      }
      in.clear();
      out.clear();
      for (uint32_t buffer : step.inputs)
        in.push_back(s.tensorOf(buffer, memory, bound));
      for (uint32_t buffer : step.outputs)
        out.push_back(s.tensorOf(buffer, memory, bound));
      findCudaLauncher(step.op)(s.resources, step, in, out);
    } catch (const Error &e) {
      fail("{}: {}", describeStep(*entry, index), e.what());
    }
  }

  TensorMap results;
  for (size_t i = 0; i < entry->outputs.size(); ++i) {
    if (std::find(outputs.begin(), outputs.end(), entry->outputNames[i]) ==
        outputs.end())
      continue;
    uint32_t index = entry->outputs[i];
    const PlanBuffer &buffer = s.plan.buffers[index];
    Tensor value(buffer.dtype, buffer.shape);
    copyToHost(s.stream, value.raw(), s.tensorOf(index, memory, bound).address,
               value.byteSize());
    results[entry->outputNames[i]] = std::move(value);
  }
  s.stream.synchronize();
  return results;
}

int64_t CudaSession::kernelsFromArtifact() const {
  return state_->kernels.loadedFromArtifact();
}
int64_t CudaSession::kernelsFromSource() const {
  return state_->kernels.loadedFromSource();
}

} // namespace pgc::cuda
