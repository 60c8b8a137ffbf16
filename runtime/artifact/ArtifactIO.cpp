// Serialising a Plan to the FlatBuffers .pgc format and reading it back with
// full verification.
#include "runtime/artifact/Plan.h"

#include "runtime/artifact/pgc_artifact_generated.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <cstdint>
#include <cstring>

namespace pgc {

namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

template <typename T>
flatbuffers::Offset<flatbuffers::Vector<T>>
vectorOf(FlatBufferBuilder &fbb, const std::vector<T> &values) {
  return fbb.CreateVector(values);
}

Offset<fb::Step> writeStep(FlatBufferBuilder &fbb, const PlanStep &step) {
  std::vector<Offset<fb::Attribute>> attributes;
  for (const auto &[name, attr] : step.attributes)
    attributes.push_back(fb::CreateAttribute(
        fbb, fbb.CreateString(name), vectorOf(fbb, attr.ints),
        vectorOf(fbb, attr.floats), fbb.CreateString(attr.text)));
  return fb::CreateStep(fbb, fbb.CreateString(step.op),
                        vectorOf(fbb, step.inputs), vectorOf(fbb, step.outputs),
                        fbb.CreateVectorOfSortedTables(&attributes),
                        fbb.CreateString(step.location));
}

Offset<fb::EntryPoint> writeEntry(FlatBufferBuilder &fbb,
                                  const PlanEntryPoint &entry) {
  std::vector<Offset<fb::Step>> steps;
  for (const PlanStep &step : entry.steps)
    steps.push_back(writeStep(fbb, step));
  return fb::CreateEntryPoint(
      fbb, fbb.CreateString(entry.name), vectorOf(fbb, entry.inputs),
      fbb.CreateVectorOfStrings(entry.inputNames), vectorOf(fbb, entry.outputs),
      fbb.CreateVectorOfStrings(entry.outputNames), fbb.CreateVector(steps));
}

static_assert(FLATBUFFERS_LITTLEENDIAN,
              "the artifact reader copies little-endian scalars as they are");

// The verifier checks a vector's length field for 4-byte alignment only, so
// the elements of a [long] or [double] in a damaged (or hostile) file may sit
// at 4 mod 8 even in an aligned buffer: they are copied bytewise, never read
// through a misaligned pointer.
template <typename T>
std::vector<T> toVector(const flatbuffers::Vector<T> *vector) {
  if (!vector)
    return {};
  std::vector<T> values(vector->size());
  if (!values.empty())
    std::memcpy(values.data(), vector->Data(), values.size() * sizeof(T));
  return values;
}

std::string toString(const flatbuffers::String *text) {
  return text ? text->str() : std::string();
}

std::vector<std::string>
toStrings(const flatbuffers::Vector<Offset<flatbuffers::String>> *vector) {
  std::vector<std::string> result;
  if (vector)
    for (const flatbuffers::String *s : *vector)
      result.push_back(toString(s));
  return result;
}

DType toDType(fb::DType dtype, const std::string &what) {
  auto raw = static_cast<uint8_t>(dtype);
  if (raw > static_cast<uint8_t>(fb::DType::MAX))
    fail("{}: unknown dtype code {}", what, raw);
  return static_cast<DType>(raw);
}

BufferRole toRole(fb::BufferRole role, const std::string &what) {
  auto raw = static_cast<uint8_t>(role);
  if (raw > static_cast<uint8_t>(fb::BufferRole::MAX))
    fail("{}: unknown buffer role code {}", what, raw);
  return static_cast<BufferRole>(raw);
}

} // namespace

std::string serializePlan(const Plan &plan) {
  FlatBufferBuilder fbb(1 << 16);
  std::vector<Offset<fb::Buffer>> buffers;
  for (const PlanBuffer &buffer : plan.buffers)
    buffers.push_back(fb::CreateBuffer(
        fbb, fbb.CreateString(buffer.name),
        static_cast<fb::DType>(buffer.dtype), vectorOf(fbb, buffer.shape),
        static_cast<fb::BufferRole>(buffer.role),
        buffer.data.empty() ? 0 : vectorOf(fbb, buffer.data)));
  std::vector<Offset<fb::Parameter>> parameters;
  for (const PlanParameter &param : plan.parameters) {
    Offset<fb::Nf4Info> nf4 = 0;
    if (param.nf4)
      nf4 = fb::CreateNf4Info(fbb, param.nf4->blockSize, param.nf4->doubleQuant,
                              vectorOf(fbb, param.nf4->shape));
    parameters.push_back(fb::CreateParameter(
        fbb, fbb.CreateString(param.name), param.buffer, param.trainable,
        fbb.CreateString(param.init), nf4));
  }
  std::vector<Offset<fb::EntryPoint>> entries;
  for (const PlanEntryPoint &entry : plan.entryPoints)
    entries.push_back(writeEntry(fbb, entry));
  std::vector<Offset<fb::Kernel>> kernels;
  for (const PlanKernel &kernel : plan.kernels)
    kernels.push_back(fb::CreateKernel(
        fbb, fbb.CreateString(kernel.target), fbb.CreateString(kernel.name),
        fbb.CreateString(kernel.source), fbb.CreateString(kernel.arch),
        vectorOf(fbb, kernel.binary)));
  std::vector<Offset<fb::MetadataEntry>> metadata;
  for (const auto &[key, value] : plan.metadata)
    metadata.push_back(fb::CreateMetadataEntry(fbb, fbb.CreateString(key),
                                               fbb.CreateString(value)));
  auto root = fb::CreateArtifact(
      fbb, kArtifactFormatVersion, fbb.CreateString(plan.producer),
      fbb.CreateVector(buffers), fbb.CreateVectorOfSortedTables(&parameters),
      fbb.CreateVector(entries), fbb.CreateVector(kernels),
      metadata.empty() ? 0 : fbb.CreateVectorOfSortedTables(&metadata));
  fb::FinishArtifactBuffer(fbb, root);
  return std::string(reinterpret_cast<const char *>(fbb.GetBufferPointer()),
                     fbb.GetSize());
}

void writeArtifact(const Plan &plan, const std::string &path) {
  plan.validate(path);
  writeFileAtomically(path, serializePlan(plan));
}

Plan parseArtifact(const void *data, size_t size, const std::string &what) {
  // The verifier checks a scalar's alignment relative to the buffer's start
  // (flatbuffers' own rule); that is alignment in memory only if the start is
  // aligned to the widest scalar (8 bytes). A buffer that is not (a caller's
  // slice; files read by readArtifact always are) is parsed from an aligned
  // copy.
  std::vector<uint64_t> aligned;
  if (reinterpret_cast<uintptr_t>(data) % alignof(uint64_t) != 0) {
    aligned.resize((size + sizeof(uint64_t) - 1) / sizeof(uint64_t));
    if (size > 0)
      std::memcpy(aligned.data(), data, size);
    data = aligned.data();
  }
  const auto *bytes = static_cast<const uint8_t *>(data);
  if (size < 8 || !fb::ArtifactBufferHasIdentifier(bytes))
    fail("{}: not a pgc artifact (missing the PGC1 identifier)", what);
  flatbuffers::Verifier verifier(bytes, size);
  if (!fb::VerifyArtifactBuffer(verifier))
    fail("{}: corrupt pgc artifact (FlatBuffers verification failed)", what);
  const fb::Artifact *artifact = fb::GetArtifact(bytes);
  if (artifact->format_version() != kArtifactFormatVersion)
    fail("{}: artifact format version {} is not the supported version {}; "
         "recompile it with this pgc",
         what, artifact->format_version(), kArtifactFormatVersion);

  Plan plan;
  plan.producer = toString(artifact->producer());
  if (artifact->buffers())
    for (const fb::Buffer *b : *artifact->buffers()) {
      PlanBuffer buffer;
      buffer.name = toString(b->name());
      buffer.dtype = toDType(b->dtype(), what);
      buffer.shape = toVector(b->shape());
      buffer.role = toRole(b->role(), what);
      buffer.data = toVector(b->data());
      plan.buffers.push_back(std::move(buffer));
    }
  if (artifact->parameters())
    for (const fb::Parameter *p : *artifact->parameters()) {
      PlanParameter param;
      param.name = toString(p->name());
      param.buffer = p->buffer();
      param.trainable = p->trainable();
      param.init = toString(p->init());
      if (p->nf4())
        param.nf4 = Nf4Spec{p->nf4()->block_size(), p->nf4()->double_quant(),
                            toVector(p->nf4()->shape())};
      plan.parameters.push_back(std::move(param));
    }
  if (artifact->entry_points())
    for (const fb::EntryPoint *e : *artifact->entry_points()) {
      PlanEntryPoint entry;
      entry.name = toString(e->name());
      entry.inputs = toVector(e->inputs());
      entry.inputNames = toStrings(e->input_names());
      entry.outputs = toVector(e->outputs());
      entry.outputNames = toStrings(e->output_names());
      if (e->steps())
        for (const fb::Step *s : *e->steps()) {
          PlanStep step;
          step.op = toString(s->op());
          step.inputs = toVector(s->inputs());
          step.outputs = toVector(s->outputs());
          step.location = toString(s->location());
          if (s->attributes())
            for (const fb::Attribute *a : *s->attributes())
              step.attributes[toString(a->name())] =
                  StepAttribute{toVector(a->ints()), toVector(a->floats()),
                                toString(a->text())};
          entry.steps.push_back(std::move(step));
        }
      plan.entryPoints.push_back(std::move(entry));
    }
  if (artifact->kernels())
    for (const fb::Kernel *k : *artifact->kernels())
      plan.kernels.push_back(PlanKernel{
          toString(k->target()), toString(k->name()), toString(k->source()),
          toString(k->arch()), toVector(k->binary())});
  if (artifact->metadata())
    for (const fb::MetadataEntry *m : *artifact->metadata())
      plan.metadata[toString(m->key())] = toString(m->value());
  plan.validate(what);
  return plan;
}

Plan readArtifact(const std::string &path) {
  std::vector<char> bytes = readFile(path);
  return parseArtifact(bytes.data(), bytes.size(), path);
}

} // namespace pgc
