// `pgc inspect FILE`: prints an artifact's entry points, parameters, buffers
// and steps.
#include "tools/pgc/Commands.h"

#include "runtime/artifact/Plan.h"
#include "runtime/cuda/ArtifactKernels.h"
#include "runtime/cuda/exec/CudaSession.h"
#include "runtime/exec/MemoryReport.h"
#include "runtime/support/Error.h"

#include <fmt/format.h>
#include <map>

namespace pgc::cli {
namespace {

std::string describeBuffer(const Plan &plan, uint32_t index) {
  const PlanBuffer &b = plan.buffers[index];
  std::string name = b.name.empty() ? "" : " " + b.name;
  return fmt::format("%{}{} {}{}", index, name, dtypeName(b.dtype),
                     formatShape(b.shape));
}

std::string describeAttributes(const PlanStep &step) {
  std::string text;
  for (const auto &[name, attr] : step.attributes) {
    text += text.empty() ? " {" : ", ";
    text += name;
    if (!attr.text.empty())
      text += "=" + attr.text;
    else if (attr.floats.size() == 1)
      text += fmt::format("={}", attr.floats[0]);
    else if (attr.ints.size() == 1 && name != "axes" && name != "perm")
      text += fmt::format("={}", attr.ints[0]);
    else if (!attr.ints.empty() || !attr.floats.empty())
      text += fmt::format("=[{}]",
                          attr.ints.empty()
                              ? fmt::format("{}", fmt::join(attr.floats, ", "))
                              : fmt::format("{}", fmt::join(attr.ints, ", ")));
  }
  return text.empty() ? text : text + "}";
}

/// Empty for a CUDA binary whose ELF header names the architecture of its
/// label; else what is wrong, for the listing (a runtime would refuse it).
std::string binaryProblem(const PlanKernel &kernel) {
  if (kernel.target != "cuda")
    return "";
  try {
    int arch = cuda::cubinArchitecture(kernel.binary, "binary");
    if ("sm_" + std::to_string(arch) != kernel.arch)
      return fmt::format(" (BAD: the CUBIN is for sm_{})", arch);
  } catch (const Error &e) {
    return fmt::format(" (BAD: {})", e.what());
  }
  return "";
}

/// What the plan keeps across calls, and per entry point the arena of its
/// temporaries on each executor with what fills it at the fullest step.
void printMemory(const Plan &plan) {
  PersistentBytes kept = persistentBytes(plan);
  fmt::print("\nmemory\n  persistent {}: parameters {} ({} trainable), "
             "gradients {}, optimizer state {}, constants {}\n",
             formatBytes(kept.total()), formatBytes(kept.parameters),
             formatBytes(kept.trainableParameters), formatBytes(kept.gradients),
             formatBytes(kept.optimizerState), formatBytes(kept.constants));
  for (const PlanEntryPoint &entry : plan.entryPoints) {
    ArenaPlan cpu = planArena(plan, entry);
    ArenaPlan gpu = cuda::planCudaArena(plan, entry);
    ArenaPeak peak = arenaPeak(plan, gpu, cuda::kDeviceAlignment);
    fmt::print("  {}: arena {} on the CPU, {} on the GPU", entry.name,
               formatBytes(cpu.bytes), formatBytes(gpu.bytes));
    if (peak.step < 0) {
      fmt::print("\n");
      continue;
    }
    size_t step =
        std::min(static_cast<size_t>(peak.step), entry.steps.size() - 1);
    fmt::print("; fullest at step {} ({}), {} alive in {} buffers, the "
               "largest:\n",
               step, entry.steps[step].op, formatBytes(peak.liveBytes),
               peak.largest.size());
    for (size_t i = 0; i < std::min<size_t>(5, peak.largest.size()); ++i) {
      const PlanBuffer &b = plan.buffers[peak.largest[i]];
      fmt::print("    {} {}\n", describeBuffer(plan, peak.largest[i]),
                 formatBytes(static_cast<size_t>(numElements(b.shape)) *
                             dtypeSize(b.dtype)));
    }
  }
}

/// Whether the GPU executor can run the plan, and if not which ops lack a
/// kernel (with how many steps each).
void printGpuCoverage(const Plan &plan) {
  std::vector<std::string> missing = cuda::stepsWithoutCudaKernel(plan);
  if (missing.empty()) {
    fmt::print("\ngpu: every step has a GPU kernel\n");
    return;
  }
  std::map<std::string, int> byOp;
  for (const PlanEntryPoint &entry : plan.entryPoints)
    for (size_t s = 0; s < entry.steps.size(); ++s) {
      const PlanStep &step = entry.steps[s];
      if (step.attributes.count(kStepKernel)) {
        s += static_cast<size_t>(step.integer(kStepFusedSteps)) - 1;
        continue;
      }
      if (!cuda::hasCudaLauncher(step.op))
        ++byOp[step.op];
    }
  std::string ops;
  for (const auto &[op, count] : byOp)
    ops += fmt::format("{}{} ({})", ops.empty() ? "" : ", ", op, count);
  fmt::print("\ngpu: {} step{} without a GPU kernel yet: {}\n", missing.size(),
             missing.size() == 1 ? "" : "s", ops);
}

void inspect(const std::string &path, bool showSteps) {
  Plan plan = readArtifact(path);
  int64_t paramValues = 0, trainableValues = 0;
  for (const PlanParameter &p : plan.parameters) {
    int64_t n = numElements(plan.buffers[p.buffer].shape);
    paramValues += n;
    if (p.trainable)
      trainableValues += n;
  }
  fmt::print("{}: pgc artifact v{} from {}\n", path, kArtifactFormatVersion,
             plan.producer);
  fmt::print("buffers: {}   parameters: {} ({} values, {} trainable)   "
             "kernels: {}\n",
             plan.buffers.size(), plan.parameters.size(), paramValues,
             trainableValues, plan.kernels.size());
  for (const PlanEntryPoint &entry : plan.entryPoints) {
    fmt::print("\nentry {} ({} steps)\n", entry.name, entry.steps.size());
    for (size_t i = 0; i < entry.inputs.size(); ++i)
      fmt::print("  input  {}\n", describeBuffer(plan, entry.inputs[i]));
    for (size_t i = 0; i < entry.outputs.size(); ++i)
      fmt::print("  output {} <- {}\n", entry.outputNames[i],
                 describeBuffer(plan, entry.outputs[i]));
    if (!showSteps)
      continue;
    for (size_t s = 0; s < entry.steps.size(); ++s) {
      const PlanStep &step = entry.steps[s];
      std::string outs, ins;
      for (uint32_t o : step.outputs)
        outs += (outs.empty() ? "" : ", ") + describeBuffer(plan, o);
      for (uint32_t i : step.inputs)
        ins += (ins.empty() ? "" : ", ") + fmt::format("%{}", i);
      fmt::print("  {:>4}  {} = {}({}){}{}\n", s, outs, step.op, ins,
                 describeAttributes(step),
                 step.location.empty() ? "" : "  @ " + step.location);
    }
  }
  fmt::print("\nparameters\n");
  for (const PlanParameter &p : plan.parameters)
    fmt::print("  {} {}{}{}{}\n", p.name,
               dtypeName(plan.buffers[p.buffer].dtype),
               formatShape(plan.buffers[p.buffer].shape),
               p.trainable ? " trainable" : " frozen",
               p.nf4 ? fmt::format(" nf4(block {}{})", p.nf4->blockSize,
                                   p.nf4->doubleQuant ? ", double quant" : "")
                     : "");
  if (!plan.kernels.empty()) {
    // How many fused groups each kernel computes, and its CUBINs.
    std::map<int64_t, size_t> uses;
    for (const PlanEntryPoint &entry : plan.entryPoints)
      for (const PlanStep &step : entry.steps)
        if (step.attributes.count(kStepKernel))
          ++uses[step.integer(kStepKernel)];
    fmt::print("\nkernels\n");
    for (size_t k = 0; k < plan.kernels.size(); ++k) {
      const PlanKernel &kernel = plan.kernels[k];
      if (kernel.arch.empty())
        fmt::print("  {} {}: {} bytes of source, {} fused group{}\n",
                   kernel.target, kernel.name, kernel.source.size(), uses[k],
                   uses[k] == 1 ? "" : "s");
      else
        fmt::print("  {} {} {}: {} bytes of binary{}\n", kernel.target,
                   kernel.name, kernel.arch, kernel.binary.size(),
                   binaryProblem(kernel));
    }
  }
  printMemory(plan);
  printGpuCoverage(plan);
  if (plan.metadata.empty())
    return;
  fmt::print("\nmetadata\n");
  for (const auto &[key, value] : plan.metadata)
    // The model's config.json is long and spans lines: give only its size.
    fmt::print("  {}: {}\n", key,
               key == kMetadataHfConfig
                   ? fmt::format("({} bytes of JSON)", value.size())
                   : value);
}

std::string inspectPath;
bool inspectSteps = true;

CommandAction registerInspect(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "inspect",
      "Print a .pgc artifact: entry points, steps, parameters, kernels, "
      "memory (persistent and per entry point), which steps the GPU executor "
      "cannot run yet, metadata");
  sub->add_option("file", inspectPath, "The .pgc artifact")->required();
  sub->add_flag("!--no-steps", inspectSteps, "Leave out the step listing");
  return [] {
    inspect(inspectPath, inspectSteps);
    return 0;
  };
}

CommandRegistration registration(20, registerInspect);

} // namespace
} // namespace pgc::cli
