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
