// The Plan: what the compiler lowers a pg module to and the runtime executes;
// the .pgc file's content.
#pragma once

#include "runtime/support/DType.h"
#include "runtime/support/Shape.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgc {

/// Version of the .pgc format this build reads and writes.
constexpr uint32_t kArtifactFormatVersion = 1;

enum class BufferRole : uint8_t {
  Parameter,
  Input,
  Output,
  OptimizerState,
  Gradient,
  Temporary,
  Constant
};
std::string_view bufferRoleName(BufferRole role);

struct PlanBuffer {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  BufferRole role = BufferRole::Temporary;
  /// Constants only: the row-major elements in dtype's little-endian layout.
  std::vector<uint8_t> data;
};

/// An NF4 parameter: its buffer is U8 bytes in the layout of
/// runtime/exec/Nf4Storage.h; `shape` is the logical weight's shape.
struct Nf4Spec {
  int blockSize = 64;
  bool doubleQuant = true;
  Shape shape;
};

struct PlanParameter {
  std::string name;
  uint32_t buffer = 0;
  bool trainable = false;
  std::string init;
  std::optional<Nf4Spec> nf4;
};

struct StepAttribute {
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::string text;
};

struct PlanStep {
  std::string op;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  std::map<std::string, StepAttribute> attributes;
  std::string location;

  /// Attribute accessors; a missing or mistyped attribute is a pgc::Error
  /// naming the op and its source location.
  bool flag(const std::string &name) const;
  int64_t integer(const std::string &name) const;
  const std::vector<int64_t> &integers(const std::string &name) const;
  double real(const std::string &name) const;
  const std::string &text(const std::string &name) const;
  /// "matmul at models/x.cpp:12" for messages.
  std::string describe() const;
};

struct PlanEntryPoint {
  std::string name;
  std::vector<uint32_t> inputs;
  std::vector<std::string> inputNames;
  std::vector<uint32_t> outputs;
  std::vector<std::string> outputNames;
  std::vector<PlanStep> steps;
};

struct PlanKernel {
  std::string target;
  std::string name;
  std::string source;
  std::string arch;
  std::vector<uint8_t> binary;
};

/// Attributes of the first step of a fused group (pg.fusion): the index of the
/// kernel in Plan::kernels that computes the group, how many steps from this
/// one it replaces, and its buffer arguments in kernel parameter order.
/// Executors that run op by op ignore them.
inline constexpr const char *kStepKernel = "kernel";
inline constexpr const char *kStepFusedSteps = "fused_steps";
inline constexpr const char *kStepKernelArgs = "kernel_args";

/// Metadata keys the compiler fills (see pgc_artifact.fbs).
inline constexpr const char *kMetadataHfConfig = "hf_config";
inline constexpr const char *kMetadataLora = "lora";
inline constexpr const char *kMetadataBaseModel = "base_model_name_or_path";

struct Plan {
  std::string producer;
  std::vector<PlanBuffer> buffers;
  std::vector<PlanParameter> parameters;
  std::vector<PlanEntryPoint> entryPoints;
  std::vector<PlanKernel> kernels;
  /// How the artifact was made (kMetadata* keys); empty in artifacts made
  /// before it was recorded.
  std::map<std::string, std::string> metadata;

  /// nullptr when absent.
  const PlanEntryPoint *findEntryPoint(const std::string &name) const;
  const PlanParameter *findParameter(const std::string &name) const;

  /// Structural checks every reader relies on: indices in range, shapes and
  /// constant sizes consistent, each step reads only defined buffers and
  /// writes no input or constant. Throws pgc::Error "<what>: <problem>".
  void validate(const std::string &what) const;
};

/// The FlatBuffers bytes of a plan.
std::string serializePlan(const Plan &plan);
/// Writes a .pgc file atomically.
void writeArtifact(const Plan &plan, const std::string &path);
/// Reads, verifies (FlatBuffers verifier, identifier, format version) and
/// validates a .pgc file. Throws pgc::Error naming the file.
Plan readArtifact(const std::string &path);
/// As readArtifact, from bytes; `what` names the source in errors.
Plan parseArtifact(const void *data, size_t size, const std::string &what);

} // namespace pgc
