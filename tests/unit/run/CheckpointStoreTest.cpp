// Checkpoint folders: what a save writes (read back with the safetensors
// reader), restore, rotation, leftovers of interrupted saves and mismatches.
#include "runtime/train/CheckpointStore.h"

#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgc::train {
namespace {

// Two parameters, of which only "w" trains (it has a gradient buffer).
Plan tinyPlan(Shape wShape = {2, 3}) {
  Plan plan;
  auto add = [&](std::string name, Shape shape, BufferRole role) {
    PlanBuffer buffer;
    buffer.name = std::move(name);
    buffer.shape = std::move(shape);
    buffer.role = role;
    plan.buffers.push_back(buffer);
    return static_cast<uint32_t>(plan.buffers.size() - 1);
  };
  plan.parameters.push_back(
      {"w", add("w", wShape, BufferRole::Parameter), true, "normal(0.02)", {}});
  plan.parameters.push_back(
      {"frozen", add("frozen", {4}, BufferRole::Parameter), false, "ones", {}});
  add("grad.w", wShape, BufferRole::Gradient);
  add("adam.exp_avg.w", wShape, BufferRole::OptimizerState);
  add("adam.exp_avg_sq.w", wShape, BufferRole::OptimizerState);
  return plan;
}

Tensor filled(Shape shape, double start) {
  Tensor t(DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, start + 0.25 * static_cast<double>(i));
  return t;
}

std::string freshDir(const std::string &name) {
  fs::path dir = fs::temp_directory_path() /
                 ("pgc-ckpt-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void fillSession(Session &session, double start) {
  session.initializeParameters(7);
  session.setParameter("w", filled({2, 3}, start));
  session.setState("grad.w", filled({2, 3}, start + 10));
  session.setState("adam.exp_avg.w", filled({2, 3}, start + 20));
  session.setState("adam.exp_avg_sq.w", filled({2, 3}, start + 30));
}

void expectEqual(const Tensor &a, const Tensor &b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    EXPECT_EQ(a.at(i), b.at(i)) << i;
}

TEST(CheckpointStore, SavesTrainableWeightsStateAndPosition) {
  std::string out = freshDir("save");
  Session session(tinyPlan());
  fillSession(session, 1);
  RunState state;
  state.step = 3;
  state.microBatches = 6;
  state.epoch = 1.5;
  state.loader = {1, 2};
  state.dataSeed = 42;
  state.initSeed = 5;
  state.initStd = 0.1;
  std::string dir = saveCheckpoint(out, session, state);
  EXPECT_EQ(dir, out + "/checkpoint-3");

  SafetensorsFile model = SafetensorsFile::open(dir + "/model.safetensors");
  ASSERT_EQ(model.tensors().size(), 1u); // the frozen parameter is not saved
  expectEqual(model.tensor("w"), filled({2, 3}, 1));
  SafetensorsFile optimizer =
      SafetensorsFile::open(dir + "/optimizer.safetensors");
  EXPECT_EQ(optimizer.tensors().size(), 3u);
  expectEqual(optimizer.tensor("adam.exp_avg_sq.w"), filled({2, 3}, 31));

  RunState read = readRunState(dir);
  EXPECT_EQ(read.step, 3);
  EXPECT_EQ(read.microBatches, 6);
  EXPECT_EQ(read.epoch, 1.5);
  EXPECT_EQ(read.loader, (LoaderPosition{1, 2}));
  EXPECT_EQ(read.dataSeed, 42u);
  EXPECT_EQ(read.initSeed, 5u);
  EXPECT_EQ(read.initStd, 0.1);

  Session other(tinyPlan());
  fillSession(other, 100);
  restoreCheckpoint(dir, other);
  expectEqual(other.parameter("w"), filled({2, 3}, 1));
  expectEqual(other.state("grad.w"), filled({2, 3}, 11));
  expectEqual(other.state("adam.exp_avg.w"), filled({2, 3}, 21));
}

TEST(CheckpointStore, RotatesAndIgnoresInterruptedSaves) {
  std::string out = freshDir("rotate");
  Session session(tinyPlan());
  fillSession(session, 1);
  RunState state;
  for (int64_t step : {2, 4, 6}) {
    state.step = step;
    saveCheckpoint(out, session, state);
  }
  // What a save killed half-way leaves: a temporary folder, and a
  // checkpoint-N folder without trainer_state.json is never complete.
  fs::create_directories(out + "/.checkpoint-tmp-8-1");
  fs::create_directories(out + "/checkpoint-9");
  std::vector<std::string> all = listCheckpoints(out);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.back(), out + "/checkpoint-6");

  rotateCheckpoints(out, 2);
  all = listCheckpoints(out);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], out + "/checkpoint-4");
  EXPECT_FALSE(fs::exists(out + "/checkpoint-2"));

  removeIncompleteCheckpoints(out);
  EXPECT_FALSE(fs::exists(out + "/.checkpoint-tmp-8-1"));
  EXPECT_TRUE(fs::exists(out + "/checkpoint-4/model.safetensors"));
}

TEST(CheckpointStore, RestoreRefusesAnotherArtifactsShapes) {
  std::string out = freshDir("mismatch");
  Session session(tinyPlan());
  fillSession(session, 1);
  RunState state;
  state.step = 1;
  std::string dir = saveCheckpoint(out, session, state);
  Session other(tinyPlan({3, 2}));
  try {
    restoreCheckpoint(dir, other);
    FAIL() << "no error";
  } catch (const Error &e) {
    std::string message = e.what();
    EXPECT_NE(message.find("'w'"), std::string::npos) << message;
    EXPECT_NE(message.find("[2, 3]"), std::string::npos) << message;
    EXPECT_NE(message.find("[3, 2]"), std::string::npos) << message;
  }
}

TEST(CheckpointStore, NormalInitStdRewritesOnlyNormalInitialisers) {
  Plan plan = tinyPlan();
  setNormalInitStd(plan, 0.1);
  EXPECT_EQ(plan.parameters[0].init, "normal(0.1)");
  EXPECT_EQ(plan.parameters[1].init, "ones");
}

} // namespace
} // namespace pgc::train
