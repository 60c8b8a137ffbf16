// The .pgc format: round trips, and a one-line error for every kind of corrupt
// or inconsistent artifact.
#include "runtime/artifact/Plan.h"
#include "runtime/artifact/pgc_artifact_generated.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"
#include "tests/unit/ScratchSpace.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>

namespace pgc {
namespace {

// y = relu-free toy: out = (x + c) * w, with a constant, a parameter and an
// input.
Plan toyPlan() {
  Plan plan;
  plan.producer = "test";
  plan.buffers = {
      {"x", DType::F32, {2, 3}, BufferRole::Input, {}},
      {"w", DType::F32, {2, 3}, BufferRole::Parameter, {}},
      {"", DType::F32, {2, 3}, BufferRole::Constant, std::vector<uint8_t>(24)},
      {"", DType::F32, {2, 3}, BufferRole::Temporary, {}},
      {"out", DType::F32, {2, 3}, BufferRole::Output, {}},
  };
  float c[6] = {1, 2, 3, 4, 5, 6};
  std::memcpy(plan.buffers[2].data.data(), c, sizeof(c));
  plan.parameters = {{"w", 1, true, "ones", std::nullopt}};
  PlanEntryPoint entry;
  entry.name = "forward";
  entry.inputs = {0};
  entry.inputNames = {"x"};
  entry.outputs = {4};
  entry.outputNames = {"out"};
  entry.steps.push_back({"add", {0, 2}, {3}, {}, "toy.cpp:1"});
  entry.steps.push_back({"mul", {3, 1}, {4}, {}, "toy.cpp:2"});
  plan.entryPoints.push_back(entry);
  return plan;
}

std::string errorOf(const std::string &bytes) {
  try {
    parseArtifact(bytes.data(), bytes.size(), "a.pgc");
  } catch (const Error &e) {
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.rfind("a.pgc: ", 0), 0u) << message;
    return message;
  }
  return "";
}

std::string validationErrorOf(const Plan &plan) {
  return errorOf(serializePlan(plan));
}

TEST(Artifact, RoundTripKeepsEverything) {
  Plan plan = toyPlan();
  plan.parameters[0].nf4 = Nf4Spec{64, true};
  plan.entryPoints[0].steps[0].attributes["axes"] = {{0, 1}, {}, ""};
  plan.entryPoints[0].steps[0].attributes["epsilon"] = {{}, {1e-6}, ""};
  plan.entryPoints[0].steps[0].attributes["predicate"] = {{}, {}, "lt"};
  plan.kernels.push_back(
      {"cuda", "k", "extern \"C\" __global__ void k() {}", "sm_80", {1, 2, 3}});
  std::string bytes = serializePlan(plan);
  Plan back = parseArtifact(bytes.data(), bytes.size(), "mem");
  EXPECT_EQ(serializePlan(back), bytes);
  EXPECT_EQ(back.buffers[2].data, plan.buffers[2].data);
  EXPECT_EQ(back.parameters[0].nf4->blockSize, 64);
  const PlanStep &step = back.entryPoints[0].steps[0];
  EXPECT_EQ(step.integers("axes"), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(step.real("epsilon"), 1e-6);
  EXPECT_EQ(step.text("predicate"), "lt");
  EXPECT_EQ(step.location, "toy.cpp:1");
  EXPECT_EQ(back.kernels[0].binary, (std::vector<uint8_t>{1, 2, 3}));
}

TEST(Artifact, ExecutesFromDiskLikeInMemory) {
  Plan plan = toyPlan();
  std::string path = pgc::unittest::uniqueScratchPath("toy.pgc");
  writeArtifact(plan, path);
  Session fromDisk(readArtifact(path)), inMemory(plan);
  Tensor x(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i)
    x.set(i, 0.5 * i - 1);
  for (Session *s : {&fromDisk, &inMemory}) {
    s->initializeParameters(0);
    Tensor out = s->run("forward", {{"x", x}}).at("out");
    for (int i = 0; i < 6; ++i)
      EXPECT_EQ(out.at(i), (0.5 * i - 1) + (i + 1)); // w is ones
  }
}

TEST(Artifact, RejectsTruncatedAndRandomBytes) {
  std::string bytes = serializePlan(toyPlan());
  EXPECT_NE(errorOf(bytes.substr(0, 3)).find("not a pgc artifact"),
            std::string::npos);
  for (size_t cut :
       {size_t(8), bytes.size() / 3, bytes.size() / 2, bytes.size() - 4}) {
    std::string message = errorOf(bytes.substr(0, cut));
    EXPECT_FALSE(message.empty()) << "cut at " << cut;
  }
  std::mt19937 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    std::string noise(64 + trial, '\0');
    for (char &c : noise)
      c = static_cast<char>(rng());
    EXPECT_FALSE(errorOf(noise).empty());
  }
  // Random bytes behind a valid identifier.
  std::string spoof(256, '\x7f');
  std::memcpy(&spoof[4], "PGC1", 4);
  EXPECT_NE(errorOf(spoof).find("corrupt pgc artifact"), std::string::npos);
}

// The toy plan as an artifact built by hand, with a [double] attribute on its
// first step whose elements start `pad` bytes (0 or 4) past where the builder
// would put them: flatbuffers' verifier checks only the 4-byte alignment of a
// vector's length, so such a file verifies.
std::string toyArtifactWithFloats(const std::vector<double> &floats, int pad) {
  namespace fbs = flatbuffers;
  fbs::FlatBufferBuilder fbb;
  Plan plan = toyPlan();
  std::vector<fbs::Offset<fb::Buffer>> buffers;
  for (const PlanBuffer &b : plan.buffers)
    buffers.push_back(fb::CreateBuffer(
        fbb, fbb.CreateString(b.name), static_cast<fb::DType>(b.dtype),
        fbb.CreateVector(b.shape), static_cast<fb::BufferRole>(b.role),
        b.data.empty() ? 0 : fbb.CreateVector(b.data)));
  std::vector<fbs::Offset<fb::Parameter>> parameters = {fb::CreateParameter(
      fbb, fbb.CreateString("w"), 1, true, fbb.CreateString("ones"))};
  // The doubles as pairs of 32-bit words in a vector aligned to 4 only.
  if (pad)
    fbb.PushElement<uint32_t>(0);
  fbb.StartVector(floats.size() * 2, sizeof(uint32_t));
  for (size_t i = floats.size(); i-- > 0;) {
    uint32_t words[2];
    std::memcpy(words, &floats[i], sizeof(words));
    fbb.PushElement(words[1]);
    fbb.PushElement(words[0]);
  }
  fbs::Offset<fbs::Vector<double>> floatVector(fbb.EndVector(floats.size()));
  std::vector<fbs::Offset<fb::Attribute>> attributes = {fb::CreateAttribute(
      fbb, fbb.CreateString("scale"), 0, floatVector, fbb.CreateString(""))};
  std::vector<fbs::Offset<fb::Step>> steps;
  for (const PlanStep &step : plan.entryPoints[0].steps)
    steps.push_back(fb::CreateStep(
        fbb, fbb.CreateString(step.op), fbb.CreateVector(step.inputs),
        fbb.CreateVector(step.outputs),
        steps.empty() ? fbb.CreateVector(attributes) : 0,
        fbb.CreateString(step.location)));
  const PlanEntryPoint &entry = plan.entryPoints[0];
  std::vector<fbs::Offset<fb::EntryPoint>> entries = {fb::CreateEntryPoint(
      fbb, fbb.CreateString(entry.name), fbb.CreateVector(entry.inputs),
      fbb.CreateVectorOfStrings(entry.inputNames),
      fbb.CreateVector(entry.outputs),
      fbb.CreateVectorOfStrings(entry.outputNames), fbb.CreateVector(steps))};
  auto root = fb::CreateArtifact(
      fbb, kArtifactFormatVersion, fbb.CreateString("test"),
      fbb.CreateVector(buffers), fbb.CreateVector(parameters),
      fbb.CreateVector(entries));
  fb::FinishArtifactBuffer(fbb, root);
  return std::string(reinterpret_cast<const char *>(fbb.GetBufferPointer()),
                     fbb.GetSize());
}

// A [double] whose elements sit at 4 mod 8 passes the verifier; the reader
// copies it bytewise (a load through the misaligned pointer is undefined
// behaviour, which the fuzz target found). Also from a buffer that is itself
// misaligned. tests/fuzz/regressions/fuzz_artifact holds this file, written
// with PGC_WRITE_MISALIGNED_ARTIFACT=PATH.
TEST(Artifact, ReadsVectorsWhoseElementsAreMisaligned) {
  std::vector<double> floats = {0.5, -1.25, 3e300};
  std::string bytes;
  for (int pad : {0, 4}) {
    bytes = toyArtifactWithFloats(floats, pad);
    std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    const fb::Artifact *artifact = fb::GetArtifact(aligned.data());
    const auto *vector = artifact->entry_points()
                             ->Get(0)
                             ->steps()
                             ->Get(0)
                             ->attributes()
                             ->Get(0)
                             ->floats();
    if (reinterpret_cast<uintptr_t>(vector->Data()) % 8 != 0)
      break;
    bytes.clear();
  }
  ASSERT_FALSE(bytes.empty()) << "could not build a misaligned [double]";
  if (const char *out = std::getenv("PGC_WRITE_MISALIGNED_ARTIFACT"))
    std::ofstream(out, std::ios::binary) << bytes;
  for (size_t offset : {0, 1, 4}) {
    std::vector<uint64_t> storage(bytes.size() / 8 + 2);
    auto *start = reinterpret_cast<char *>(storage.data()) + offset;
    std::memcpy(start, bytes.data(), bytes.size());
    Plan plan = parseArtifact(start, bytes.size(), "misaligned.pgc");
    EXPECT_EQ(plan.entryPoints.at(0).steps.at(0).attributes.at("scale").floats,
              floats)
        << "offset " << offset;
    EXPECT_EQ(plan.buffers.at(0).shape, (Shape{2, 3}));
  }
}

TEST(Artifact, RejectsAnotherFormatVersion) {
  flatbuffers::FlatBufferBuilder fbb;
  auto root = fb::CreateArtifact(fbb, kArtifactFormatVersion + 1,
                                 fbb.CreateString("future pgc"));
  fb::FinishArtifactBuffer(fbb, root);
  std::string bytes(reinterpret_cast<const char *>(fbb.GetBufferPointer()),
                    fbb.GetSize());
  EXPECT_EQ(errorOf(bytes),
            "a.pgc: artifact format version 2 is not the supported version "
            "1; recompile it with this pgc");
}

TEST(Artifact, RejectsInconsistentPlans) {
  Plan plan = toyPlan();
  plan.entryPoints[0].steps[1].inputs = {3, 9};
  EXPECT_NE(validationErrorOf(plan).find("refers to buffer 9 but there are "
                                         "only 5"),
            std::string::npos);

  plan = toyPlan();
  std::swap(plan.entryPoints[0].steps[0], plan.entryPoints[0].steps[1]);
  EXPECT_NE(validationErrorOf(plan).find("reads buffer 3 '' before it is "
                                         "written"),
            std::string::npos);

  plan = toyPlan();
  plan.buffers[2].data.resize(20);
  EXPECT_NE(validationErrorOf(plan).find("constant buffer 2 holds 20 bytes, "
                                         "its shape [2, 3] needs 24"),
            std::string::npos);

  plan = toyPlan();
  plan.parameters[0].buffer = 0;
  EXPECT_NE(validationErrorOf(plan).find("parameter 'w' points at a input "
                                         "buffer"),
            std::string::npos);

  plan = toyPlan();
  plan.entryPoints[0].steps[1].outputs = {2};
  EXPECT_NE(validationErrorOf(plan).find("writes constant buffer 2"),
            std::string::npos);

  plan = toyPlan();
  plan.buffers[3].shape = {2, -3};
  EXPECT_NE(validationErrorOf(plan).find("has a negative dimension"),
            std::string::npos);

  plan = toyPlan();
  plan.entryPoints[0].outputNames.clear();
  EXPECT_NE(validationErrorOf(plan).find("mismatched name lists"),
            std::string::npos);
}

TEST(Artifact, SessionRejectsUnknownOpsAndBadInputs) {
  Plan plan = toyPlan();
  plan.entryPoints[0].steps[0].op = "frobnicate";
  try {
    Session session(plan);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "entry point 'forward' step 0: op 'frobnicate at "
                           "toy.cpp:1' has no CPU kernel");
  }
  Session session(toyPlan());
  EXPECT_THROW(session.run("forward", {{"x", Tensor(DType::F32, {2, 3})}}),
               Error); // parameter not set
  session.initializeParameters(0);
  EXPECT_THROW(session.run("forward", {{"x", Tensor(DType::F32, {3, 2})}}),
               Error);
  EXPECT_THROW(session.run("forward", {{"x", Tensor(DType::I64, {2, 3})}}),
               Error);
  EXPECT_THROW(session.run("backward", {}), Error);
  EXPECT_THROW(session.run("forward", {}), Error);
}

TEST(Artifact, WritesAtomicallyAndNotAnInvalidPlan) {
  std::string path = pgc::unittest::uniqueScratchPath("bad.pgc");
  std::filesystem::remove(path);
  Plan plan = toyPlan();
  plan.entryPoints[0].steps[1].inputs = {3, 9};
  EXPECT_THROW(writeArtifact(plan, path), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
}

} // namespace
} // namespace pgc
