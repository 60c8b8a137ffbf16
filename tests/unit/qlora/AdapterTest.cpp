// peft adapters of a LoRA step (runtime/train/Adapters): the settings the
// lowering records, save -> load bit-identity, the files as an independent
// reader sees them, and the merged model against the LoRA model and f64 loops.
#include "compiler/Lowering/LowerToPlan.h"
#include "compiler/Policy/Policy.h"
#include "dsl/Builder.h"
#include "models/paligemma/Config.h"
#include "models/paligemma/PaliGemma.h"
#include "passes/Passes.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/train/Adapters.h"
#include "runtime/weights/Safetensors.h"
#include "tests/unit/weights/WeightsTestSupport.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

namespace pgc {
namespace {

using test::ScratchDir;

// 16 px images in 8 px patches (4 image tokens), one SigLIP and one Gemma
// layer: every LoRA target of the seed policy exists once per tower.
const char *kMicroConfig = R"({
  "image_token_index": 60, "projection_dim": 32,
  "vision_config": {"hidden_size": 16, "intermediate_size": 32,
    "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 16,
    "patch_size": 8},
  "text_config": {"vocab_size": 64, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
    "num_key_value_heads": 1, "head_dim": 16}})";
constexpr int64_t kBatch = 2, kSeq = 10, kImageTokens = 4;

const char *kLoraPolicy =
    "freeze: [\"**\"]\n"
    "lora: {r: 4, alpha: 6, targets: [q_proj, k_proj, v_proj, o_proj, "
    "gate_proj, up_proj, down_proj]}\n";
// Double quantization off, so that the test can decode the NF4 bytes itself.
const char *kQloraPolicy =
    "freeze: [\"**\"]\n"
    "lora: {r: 4, alpha: 6, rslora: true, targets: [q_proj, v_proj, "
    "down_proj]}\n"
    "quantize: {nf4: [\"**.*_proj\"], block: 64, double_quant: false, "
    "compute_dtype: auto}\n";

std::string writeFile(const ScratchDir &dir, const std::string &name,
                      const std::string &text) {
  std::string path = dir.file(name);
  std::ofstream(path) << text;
  return path;
}

Plan compileMicro(const std::string &policy, bool quantize) {
  mlir::MLIRContext context;
  dsl::ModuleBuilder module(context);
  models::PaliGemmaBuildOptions build;
  build.shape.batch = kBatch;
  build.shape.seqLen = kSeq;
  build.dtype = DType::F32;
  models::buildPaliGemmaForward(
      module, models::parsePaliGemmaConfig(kMicroConfig, "micro"), build);
  if (!policy.empty()) {
    mlir::PassManager pm(&context);
    mlir::pg::PgInsertLoraOptions lora;
    lora.policy = policy;
    pm.addPass(mlir::pg::createPgInsertLora(lora));
    if (quantize) {
      mlir::pg::PgQuantizeNf4Options nf4;
      nf4.policy = policy;
      pm.addPass(mlir::pg::createPgQuantizeNf4(nf4));
    }
    EXPECT_TRUE(mlir::succeeded(pm.run(module.module())));
  }
  return compiler::lowerToPlan(module.module());
}

Tensor randomTensor(const Shape &shape, uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, scale);
  Tensor t(DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, dist(rng));
  return t;
}

TensorMap batch() {
  Tensor pixels = randomTensor({kBatch, 3, 16, 16}, 5, 0.5);
  Tensor ids(DType::I64, {kBatch, kSeq}), mask(DType::I64, {kBatch, kSeq}),
      types(DType::I64, {kBatch, kSeq}), labels(DType::I64, {kBatch, kSeq});
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t i = 0; i < kSeq; ++i) {
      int64_t at = b * kSeq + i;
      bool image = i < kImageTokens, suffix = i >= kSeq - 3;
      ids.data<int64_t>()[at] = image ? 60 : 2 + (7 * at + b) % 50;
      mask.data<int64_t>()[at] = 1;
      types.data<int64_t>()[at] = suffix ? 1 : 0;
      labels.data<int64_t>()[at] = suffix ? ids.data<int64_t>()[at] : -100;
    }
  return {{"pixel_values", pixels},
          {"input_ids", ids},
          {"attention_mask", mask},
          {"token_type_ids", types},
          {"labels", labels}};
}

// Base parameters from one seed, then every adapter (B too) random, so that
// the LoRA branch changes the outputs.
void randomizeAdapters(Session &session, uint64_t seed) {
  for (const train::LoraModule &module :
       train::loraModules(session.plan(), "micro")) {
    for (const std::string *name : {&module.a, &module.b})
      session.setParameter(
          *name, randomTensor(session.parameter(*name).shape(), seed++, 0.3));
  }
}

bool sameBytes(const Tensor &a, const Tensor &b) {
  return a.byteSize() == b.byteSize() &&
         std::memcmp(a.raw(), b.raw(), a.byteSize()) == 0;
}

double maxAbsDiff(const Tensor &a, const Tensor &b) {
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::fabs(a.at(i) - b.at(i)));
  return worst;
}

TEST(Adapters, TheLoweringRecordsThePeftSettings) {
  ScratchDir scratch;
  Plan plan = compileMicro(writeFile(scratch, "lora.yaml", kLoraPolicy), false);
  std::optional<train::LoraSettings> settings =
      train::loraSettings(plan, "micro");
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->r, 4);
  EXPECT_EQ(settings->alpha, 6.0);
  EXPECT_EQ(settings->dropout, 0.0);
  EXPECT_FALSE(settings->rslora);
  EXPECT_EQ(settings->scaling(), 1.5);
  EXPECT_EQ(nlohmann::json::parse(settings->targetModulesJson),
            nlohmann::json({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                            "up_proj", "down_proj"}));
  // Gemma's 7 projections and SigLIP's q/k/v (peft's suffix rule).
  std::vector<train::LoraModule> modules = train::loraModules(plan, "micro");
  EXPECT_EQ(modules.size(), 10u);
  EXPECT_EQ(modules.front().module.rfind("vision_tower.", 0) == 0 ||
                modules.front().module.rfind("language_model.", 0) == 0,
            true);
  // The metadata survives the .pgc file; an artifact from before it was
  // recorded still reads, and asks to be recompiled only where it matters.
  std::string bytes = serializePlan(plan);
  Plan reread = parseArtifact(bytes.data(), bytes.size(), "micro.pgc");
  EXPECT_EQ(reread.metadata, plan.metadata);
  Plan old = plan;
  old.metadata.clear();
  bytes = serializePlan(old);
  Plan oldReread = parseArtifact(bytes.data(), bytes.size(), "old.pgc");
  EXPECT_TRUE(oldReread.metadata.empty());
  EXPECT_FALSE(train::loraSettings(oldReread, "old.pgc").has_value());
  EXPECT_EQ(test::errorFrom(
                [&] { train::requireLoraSettings(oldReread, "old.pgc"); }),
            "old.pgc: has LoRA parameters but no recorded LoRA settings "
            "(compiled by an older pgc); recompile it");
  // A plan without LoRA has no settings and no modules.
  Plan base = compileMicro("", false);
  EXPECT_FALSE(train::loraSettings(base, "base").has_value());
  EXPECT_TRUE(train::loraModules(base, "base").empty());
}

TEST(Adapters, SaveThenLoadGivesBitIdenticalForward) {
  ScratchDir scratch;
  Plan plan = compileMicro(writeFile(scratch, "lora.yaml", kLoraPolicy), false);
  train::LoraSettings settings = *train::loraSettings(plan, "micro");
  Session trained(plan);
  trained.initializeParameters(1);
  randomizeAdapters(trained, 100);
  TensorMap inputs = batch();
  TensorMap want = trained.run("forward", inputs);
  std::string dir = scratch.file("adapter");
  std::filesystem::create_directories(dir);
  train::writeAdapter(dir, trained, settings, "google/paligemma-3b-pt-224");

  Session loaded(plan);
  loaded.initializeParameters(1);
  TensorMap fresh = loaded.run("forward", inputs);
  EXPECT_FALSE(sameBytes(fresh.at("logits"), want.at("logits")))
      << "the adapters must change the outputs for this test to mean much";
  train::loadAdapter(dir, loaded, "micro");
  TensorMap got = loaded.run("forward", inputs);
  EXPECT_TRUE(sameBytes(got.at("logits"), want.at("logits")));
  EXPECT_TRUE(sameBytes(got.at("loss"), want.at("loss")));

  // The file as the independent reader sees it: exactly peft's keys, f32,
  // the adapters' shapes and values; HF's layout rule holds.
  std::string weights = dir + "/adapter_model.safetensors";
  EXPECT_EQ(test::referenceRejection(weights), "");
  test::ReferenceFile reference = test::readWithReference(weights);
  std::set<std::string> keys, expected;
  for (const test::ReferenceTensor &tensor : reference.tensors) {
    keys.insert(tensor.name);
    EXPECT_EQ(tensor.dtype, "F32") << tensor.name;
  }
  for (const train::LoraModule &module : train::loraModules(plan, "micro"))
    for (const std::string *name : {&module.a, &module.b})
      expected.insert("base_model.model." + *name);
  EXPECT_EQ(keys, expected);
  EXPECT_TRUE(expected.count("base_model.model.language_model.model.layers.0."
                             "self_attn.q_proj.lora_A.weight"));
  test::expectAgreesWithReference(SafetensorsFile::open(weights));

  // adapter_config.json: peft's LoraConfig keys, and pgc's own peft reader
  // gets the same adapters back from it.
  std::vector<char> bytes = readFile(dir + "/adapter_config.json");
  nlohmann::json config = nlohmann::json::parse(bytes.begin(), bytes.end());
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 6);
  EXPECT_EQ(config["lora_dropout"], 0.0);
  EXPECT_EQ(config["use_rslora"], false);
  EXPECT_EQ(config["bias"], "none");
  EXPECT_EQ(config["fan_in_fan_out"], false);
  EXPECT_EQ(config["init_lora_weights"], true);
  EXPECT_EQ(config["inference_mode"], true);
  EXPECT_TRUE(config["task_type"].is_null());
  EXPECT_TRUE(config["modules_to_save"].is_null());
  EXPECT_EQ(config["base_model_name_or_path"], "google/paligemma-3b-pt-224");
  EXPECT_EQ(config["target_modules"].size(), 7u);
  Policy policy = Policy::fromAdapterConfigString(
      std::string(bytes.begin(), bytes.end()), "adapter_config.json");
  ASSERT_TRUE(policy.lora().has_value());
  EXPECT_EQ(policy.lora()->r, 4);
  EXPECT_EQ(policy.lora()->alpha, 6.0);
  EXPECT_TRUE(policy.lora()->selects("vision_tower.vision_model.encoder."
                                     "layers.0.self_attn.k_proj"));
}

TEST(Adapters, LoadRefusesWhatDoesNotFitTheArtifact) {
  ScratchDir scratch;
  Plan plan = compileMicro(writeFile(scratch, "lora.yaml", kLoraPolicy), false);
  train::LoraSettings settings = *train::loraSettings(plan, "micro");
  Session session(plan);
  session.initializeParameters(1);
  std::string good = scratch.file("good");
  std::filesystem::create_directories(good);
  train::writeAdapter(good, session, settings, "");
  SafetensorsFile file =
      SafetensorsFile::open(good + "/adapter_model.safetensors");
  auto tensorsWith =
      [&](const std::function<void(
              std::vector<std::pair<std::string, Tensor>> &)> &change) {
        std::vector<std::pair<std::string, Tensor>> tensors;
        for (const TensorInfo &info : file.tensors())
          tensors.emplace_back(info.name, file.tensor(info.name));
        change(tensors);
        return tensors;
      };
  const std::string qA =
      "base_model.model.language_model.model.layers.0.self_attn.q_proj."
      "lora_A.weight";
  auto errorFor =
      [&](const std::string &name,
          const std::vector<std::pair<std::string, Tensor>> &tensors,
          const std::string &config) {
        std::string dir = scratch.file(name);
        std::filesystem::create_directories(dir);
        writeSafetensors(dir + "/adapter_model.safetensors", tensors);
        writeFile(scratch, name + "/adapter_config.json", config);
        Session target(plan);
        target.initializeParameters(1);
        return test::errorFrom(
            [&] { train::loadAdapter(dir, target, "micro"); });
      };
  std::string config = train::adapterConfigJson(settings, "");
  std::string message = errorFor("shape", tensorsWith([&](auto &t) {
                                   for (auto &[name, tensor] : t)
                                     if (name == qA)
                                       tensor = Tensor(DType::F32, {2, 32});
                                 }),
                                 config);
  EXPECT_NE(message.find("tensor '" + qA + "' has shape [2, 32]"),
            std::string::npos)
      << message;
  message = errorFor("unknown", tensorsWith([&](auto &t) {
                       t.emplace_back("base_model.model.extra.lora_A.weight",
                                      Tensor(DType::F32, {1}));
                     }),
                     config);
  EXPECT_NE(message.find("key 'base_model.model.extra.lora_A.weight' is not "
                         "a LoRA parameter"),
            std::string::npos)
      << message;
  message = errorFor("missing", tensorsWith([&](auto &t) {
                       t.erase(std::remove_if(t.begin(), t.end(),
                                              [&](const auto &entry) {
                                                return entry.first == qA;
                                              }),
                               t.end());
                     }),
                     config);
  EXPECT_NE(message.find("no tensor '" + qA + "'"), std::string::npos)
      << message;
  train::LoraSettings otherR = settings;
  otherR.r = 8;
  message = errorFor("rank", tensorsWith([](auto &) {}),
                     train::adapterConfigJson(otherR, ""));
  EXPECT_NE(message.find("r is 8, the artifact was compiled with r 4"),
            std::string::npos)
      << message;
  for (const std::string &m : {message})
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

// W + scaling * B A in f64 loops, rounded once to f32.
Tensor mergedByLoops(const Tensor &w, const Tensor &a, const Tensor &b,
                     double scaling) {
  const int64_t out = w.dim(0), in = w.dim(1), r = a.dim(0);
  Tensor merged(DType::F32, w.shape());
  for (int64_t i = 0; i < out; ++i)
    for (int64_t j = 0; j < in; ++j) {
      double sum = 0;
      for (int64_t k = 0; k < r; ++k)
        sum += b.at(i * r + k) * a.at(k * in + j);
      merged.set(i * in + j, w.at(i * in + j) + scaling * sum);
    }
  return merged;
}

TEST(Adapters, MergedModelAgreesWithTheLoraModel) {
  ScratchDir scratch;
  Plan plan = compileMicro(writeFile(scratch, "lora.yaml", kLoraPolicy), false);
  train::LoraSettings settings = *train::loraSettings(plan, "micro");
  Session lora(plan);
  lora.initializeParameters(1);
  randomizeAdapters(lora, 200);
  std::vector<std::pair<std::string, Tensor>> merged =
      train::mergedParameters(lora, &settings, "micro");

  std::map<std::string, Tensor> byName(merged.begin(), merged.end());
  for (const train::LoraModule &module : train::loraModules(plan, "micro")) {
    EXPECT_EQ(byName.count(module.a) + byName.count(module.b), 0u);
    Tensor want =
        mergedByLoops(lora.parameter(module.weight), lora.parameter(module.a),
                      lora.parameter(module.b), 1.5);
    const Tensor &got = byName.at(module.weight);
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_NEAR(got.at(i), want.at(i), 1e-6 * std::fabs(want.at(i)) + 1e-9)
          << module.weight << "[" << i << "]";
  }

  // The merged weights in the model compiled without LoRA: the same outputs
  // in f32; rounded to bf16, the error stays far below the adapters' effect.
  Plan basePlan = compileMicro("", false);
  TensorMap inputs = batch();
  Tensor want = lora.run("forward", inputs).at("logits");
  Session base(basePlan);
  base.initializeParameters(1);
  double effect = maxAbsDiff(base.run("forward", inputs).at("logits"), want);
  ASSERT_GT(effect, 1e-3);
  for (DType dtype : {DType::F32, DType::BF16}) {
    for (const auto &[name, tensor] : merged)
      base.setParameter(name, tensor.to(dtype));
    double error = maxAbsDiff(base.run("forward", inputs).at("logits"), want);
    double scale = 0;
    for (int64_t i = 0; i < want.numel(); ++i)
      scale = std::max(scale, std::fabs(want.at(i)));
    if (dtype == DType::F32)
      EXPECT_LT(error, 1e-5 * scale) << "effect " << effect;
    else
      EXPECT_LT(error, 5e-2 * scale) << "effect " << effect;
    EXPECT_LT(error, 0.1 * effect) << dtypeName(dtype);
  }
}

TEST(Adapters, MergeDequantizesNf4WeightsFirst) {
  ScratchDir scratch;
  Plan plan =
      compileMicro(writeFile(scratch, "qlora.yaml", kQloraPolicy), true);
  train::LoraSettings settings = *train::loraSettings(plan, "micro");
  EXPECT_TRUE(settings.rslora);
  Session session(plan);
  session.initializeParameters(4);
  randomizeAdapters(session, 300);
  std::vector<std::pair<std::string, Tensor>> merged =
      train::mergedParameters(session, &settings, "micro");
  std::map<std::string, Tensor> byName(merged.begin(), merged.end());

  // bitsandbytes' NF4 code table (spec §3.1); without double quantization
  // the bytes are the packed codes (high nibble first), zero padding to 4,
  // then one f32 absmax per block of 64.
  const float codes[16] = {-1.0f,
                           -0.6961928009986877f,
                           -0.5250730514526367f,
                           -0.39491748809814453f,
                           -0.28444138169288635f,
                           -0.18477343022823334f,
                           -0.09105003625154495f,
                           0.0f,
                           0.07958029955625534f,
                           0.16093020141124725f,
                           0.24611230194568634f,
                           0.33791524171829224f,
                           0.44070982933044434f,
                           0.5626170039176941f,
                           0.7229568362236023f,
                           1.0f};
  int checked = 0;
  for (const train::LoraModule &module : train::loraModules(plan, "micro")) {
    const PlanParameter *param = plan.findParameter(module.weight);
    ASSERT_TRUE(param->nf4.has_value()) << module.weight;
    const Tensor &storage = session.parameter(module.weight);
    const auto *bytes = storage.data<uint8_t>();
    const Shape &shape = param->nf4->shape;
    int64_t numel = shape[0] * shape[1];
    int64_t stats = ((numel + 1) / 2 + 3) / 4 * 4;
    Tensor w(DType::F32, shape);
    for (int64_t i = 0; i < numel; ++i) {
      uint8_t byte = bytes[i / 2];
      int code = i % 2 == 0 ? byte >> 4 : byte & 0x0f;
      float absmax;
      std::memcpy(&absmax, bytes + stats + 4 * (i / 64), 4);
      w.set(i, codes[code] * absmax);
    }
    Tensor want =
        mergedByLoops(w, session.parameter(module.a),
                      session.parameter(module.b), 6.0 / std::sqrt(4.0));
    const Tensor &got = byName.at(module.weight);
    ASSERT_EQ(got.shape(), shape);
    for (int64_t i = 0; i < numel; ++i)
      ASSERT_NEAR(got.at(i), want.at(i), 1e-6 * std::fabs(want.at(i)) + 1e-9)
          << module.weight << "[" << i << "]";
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

} // namespace
} // namespace pgc
