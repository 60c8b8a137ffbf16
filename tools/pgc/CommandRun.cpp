// `pgc run STEP.pgc --data DIR ...`: fine-tunes a compiled PaliGemma step on an
// imagefolder VQA set, with Trainer-like options, logs, evaluation and
// resumable checkpoints.
#include "tools/pgc/Commands.h"

#include "runtime/artifact/TrainingContract.h"
#include "runtime/cuda/exec/CudaSession.h"
#include "runtime/data/DataLoader.h"
#include "runtime/data/Image.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/train/Adapters.h"
#include "runtime/train/CheckpointStore.h"
#include "runtime/train/Evaluation.h"
#include "runtime/train/EvaluationRun.h"
#include "runtime/train/Generation.h"
#include "runtime/train/Metrics.h"
#include "runtime/train/SequenceLengths.h"
#include "runtime/train/Trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgc::cli {
namespace {

struct RunOptions {
  std::string artifact;
  std::string data;
  std::string valData;
  std::string tokenizer;
  std::string weights;
  std::string adapter;
  std::string init;
  uint64_t seed = 0;
  double initStd = 0;
  int64_t epochs = 3;
  int64_t maxSteps = -1;
  train::AdamWSettings adam;
  int64_t warmupSteps = 0;
  std::string scheduler = "linear";
  int64_t gradAccum = 1;
  int64_t loggingSteps = 10;
  int64_t evalSteps = 0;
  bool evalAtStart = false;
  int64_t maxEvalSamples = 0;
  int64_t maxNewTokens = 8;
  int64_t saveSteps = 500;
  int64_t saveTotalLimit = 0;
  std::string outputDir;
  std::string reportTo = "tensorboard";
  std::string loggingDir;
  std::string resume;
  int64_t stopAtStep = -1;
  int workers = 1;
  std::string device = "cpu";
};
RunOptions options;

volatile std::sig_atomic_t interrupted = 0;
extern "C" void onInterrupt(int) { interrupted = 1; }

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The training and validation sets: DIR/train (+ DIR/validation) as synth-vqa
// writes them, or DIR itself holding metadata.jsonl or metadata.csv.
struct RunData {
  VqaDataset train;
  std::optional<VqaDataset> validation;
};

RunData openData(const VqaColumns &columns) {
  if (!fs::is_directory(options.data))
    fail("--data {}: no such folder", options.data);
  fs::path root(options.data);
  RunData data;
  if (hasImageFolderMetadata(root.string())) {
    data.train = VqaDataset::openImageFolder(root.string(), columns);
  } else if (hasImageFolderMetadata((root / "train").string())) {
    data.train =
        VqaDataset::openImageFolder((root / "train").string(), columns);
    for (const char *name : {"validation", "val", "test"})
      if (options.valData.empty() &&
          hasImageFolderMetadata((root / name).string())) {
        data.validation =
            VqaDataset::openImageFolder((root / name).string(), columns);
        break;
      }
  } else {
    fail("--data {}: no metadata.jsonl or metadata.csv, in it or in train/",
         options.data);
  }
  if (!options.valData.empty()) {
    if (!fs::is_directory(options.valData))
      fail("--val-data {}: no such folder", options.valData);
    data.validation = VqaDataset::openImageFolder(options.valData, columns);
  }
  return data;
}

void reportEvaluation(const train::EvalResult &eval,
                      const VqaDataset &validation, int64_t step,
                      train::MetricsLog &metrics) {
  // Every prediction, for inspection: predictions-<step>.jsonl.
  writeFileAtomically(
      (fs::path(options.outputDir) / fmt::format("predictions-{}.jsonl", step))
          .string(),
      train::predictionsJsonl(eval, validation));
  nlohmann::json record = {{"step", step}};
  record.update(train::evalRecord(eval));
  metrics.write(record);
  fmt::print("eval step {}: {}\n", step, train::evalSummary(eval));
  for (const std::string &sample : eval.samples)
    fmt::print("  {}\n", sample);
  std::fflush(stdout);
}

// What the run's options say about how the parameters start.
train::RunState initialState() {
  train::RunState state;
  state.dataSeed = options.seed;
  if (!options.weights.empty()) {
    if (!options.init.empty())
      fail("give either --weights or --init random, not both");
    state.initWeights = options.weights;
    // Seeds the fresh LoRA adapters when the weights are a base model.
    state.initSeed = options.seed;
  } else if (options.init == "random") {
    state.initSeed = options.seed;
    state.initStd = options.initStd;
  } else if (options.init.empty()) {
    fail("give --weights DIR_OR_FILE or --init random --seed S");
  } else {
    fail("--init '{}': the only initialisation is 'random'", options.init);
  }
  return state;
}

void checkOptions() {
  if (options.epochs < 1 && options.maxSteps < 1)
    fail("--epochs must be >= 1 (or give --max-steps)");
  if (options.loggingSteps < 1)
    fail("--logging-steps must be >= 1, got {}", options.loggingSteps);
  if (options.saveSteps < 0 || options.evalSteps < 0)
    fail("--save-steps and --eval-steps must be >= 0");
  if (options.scheduler != "linear" &&
      options.scheduler != "constant_with_warmup")
    fail("--lr-scheduler '{}': use linear or constant_with_warmup",
         options.scheduler);
  if (options.device != "cpu" && options.device != "cuda")
    fail("--device '{}': use cpu or cuda", options.device);
  if (options.reportTo != "tensorboard" && options.reportTo != "none")
    fail("--report-to '{}': use tensorboard or none", options.reportTo);
  if (options.maxNewTokens < 1)
    fail("--max-new-tokens must be >= 1, got {}", options.maxNewTokens);
  if (options.outputDir.empty())
    options.outputDir = options.resume;
  if (options.outputDir.empty())
    fail("give --output-dir DIR (or --resume DIR)");
  if (!options.resume.empty() && options.resume != options.outputDir)
    fail("--resume {} and --output-dir {} differ: a run resumes in its own "
         "output folder",
         options.resume, options.outputDir);
}

// One line redrawn in place: [#####.....] step/total and the last loss.
void drawProgress(int64_t step, int64_t total, double loss) {
  const int width = 30;
  int filled = static_cast<int>(width * step / std::max<int64_t>(total, 1));
  fmt::print("\r[{}{}] {}/{}  loss {:.4f}", std::string(filled, '#'),
             std::string(width - filled, '.'), step, total, loss);
  std::fflush(stdout);
}

// Token rows are laid out up front (cheap: no images), once, before the first
// step: the longest example of each set, and one warning for prompts that the
// sequence length cuts in training or in evaluation's generation prompts.
void checkLengths(const train::ModelIO &io, const RunData &data) {
  std::vector<train::SequenceLengths> sets = {
      train::measureSequenceLengths(io.processor, data.train, 0)};
  fmt::print("{}: longest example {} tokens, the artifact holds {}\n",
             sets[0].name, sets[0].longest, io.shapes.seqLen);
  if (data.validation) {
    sets.push_back(train::measureSequenceLengths(
        io.processor, *data.validation, options.maxNewTokens,
        static_cast<size_t>(std::max<int64_t>(0, options.maxEvalSamples))));
    fmt::print("{}: longest example {} tokens with {} to generate, the "
               "artifact holds {}\n",
               sets[1].name, sets[1].longest, options.maxNewTokens,
               io.shapes.seqLen);
  }
  std::string warning = train::truncationWarning(sets, io.shapes.seqLen);
  if (!warning.empty())
    fmt::print(stderr, "pgc: warning: {}\n", warning);
}

// Where TensorBoard events go: --logging-dir, by default OUTPUT_DIR/runs
// (transformers' default logging_dir is a folder under output_dir/runs);
// none with --report-to none.
std::string tensorBoardDir() {
  if (options.reportTo == "none")
    return "";
  return options.loggingDir.empty()
             ? (fs::path(options.outputDir) / "runs").string()
             : options.loggingDir;
}

// Creates the output folder and proves it writable before any work.
void prepareOutputDir() {
  std::error_code ec;
  fs::create_directories(options.outputDir, ec);
  if (ec || !fs::is_directory(options.outputDir))
    fail("--output-dir {}: cannot create: {}", options.outputDir,
         ec ? ec.message() : "not a folder");
  if (::access(options.outputDir.c_str(), W_OK) != 0)
    fail("--output-dir {}: not writable", options.outputDir);
  train::removeIncompleteCheckpoints(options.outputDir);
}

int run() {
  auto wallStart = Clock::now();
  checkOptions();
  if (!fs::is_directory(options.data))
    fail("--data {}: no such folder", options.data);
  train::RunState state = initialState();
  std::string resumeFrom;
  if (!options.resume.empty()) {
    std::vector<std::string> saved = train::listCheckpoints(options.resume);
    if (saved.empty())
      fail("--resume {}: no checkpoint-N folder with trainer_state.json",
           options.resume);
    resumeFrom = saved.back();
    train::RunState resumed = train::readRunState(resumeFrom);
    if (resumed.initWeights != state.initWeights ||
        resumed.initSeed != state.initSeed ||
        resumed.initStd != state.initStd || resumed.dataSeed != state.dataSeed)
      fail("--resume {}: the checkpoint was made with other --weights/--init/"
           "--seed/--init-std options",
           resumeFrom);
    state = resumed;
  }

  Plan plan = readArtifact(options.artifact);
  train::setNormalInitStd(plan, state.initStd);
  if (!train::loraModules(plan, options.artifact).empty() &&
      !train::loraSettings(plan, options.artifact))
    fmt::print(stderr,
               "pgc: warning: {}: no LoRA settings recorded (compiled by an "
               "older pgc): checkpoints get no adapter_model.safetensors; "
               "recompile it\n",
               options.artifact);
  Session session(std::move(plan));
  std::string tokenizer = options.tokenizer;
  if (tokenizer.empty() && fs::is_directory(options.data))
    tokenizer = train::findTokenizerFor(options.data);
  if (tokenizer.empty())
    fail("--data {}: no tokenizer.model in it or its parent: give "
         "--tokenizer FILE",
         options.data);
  train::ModelIO io =
      train::setUpModelIO(session.plan(), options.artifact, tokenizer);
  // Every checkpoint carries the tokenizer and processor files, for
  // `pgc generate` and for transformers' from_pretrained.
  std::vector<FolderFile> tokenizerFiles = train::tokenizerFolderFiles(io);
  RunData data = openData(io.columns);
  const int64_t B = io.shapes.batch;
  if (static_cast<int64_t>(data.train.size()) < B)
    fail("--data {}: {} training examples, fewer than the artifact's batch "
         "size {}",
         options.data, data.train.size(), B);
  checkLengths(io, data);

  train::TrainingConfig config;
  config.optimizer = options.adam;
  config.gradientAccumulationSteps = options.gradAccum;
  config.warmupSteps = options.warmupSteps;
  config.decayAfterWarmup = options.scheduler == "linear";
  // --seed keys LoRA dropout as it keys shuffling (saved as data_seed).
  config.dropoutSeed = state.dataSeed;
  const int64_t batchesPerEpoch = static_cast<int64_t>(data.train.size()) / B;
  config.totalSteps =
      options.maxSteps > 0
          ? options.maxSteps
          : options.epochs *
                std::max<int64_t>(1, batchesPerEpoch / options.gradAccum);
  train::Trainer trainer(session, config);

  train::initializeModel(session, state, [](const std::string &message) {
    fmt::print(stderr, "pgc: warning: {}\n", message);
  });
  if (!options.adapter.empty())
    train::loadAdapter(options.adapter, session, options.artifact);
  if (!resumeFrom.empty()) {
    train::restoreCheckpoint(resumeFrom, session);
    trainer.setStep(state.step);
  }
  // --device cuda: train_step and apply_update run on the GPU from a copy of
  // the state; the session's copy is brought up to date before anything
  // reads it (evaluation, which still runs on the CPU, and checkpoints).
  std::unique_ptr<cuda::Context> gpuContext;
  std::unique_ptr<cuda::KernelCache> kernelCache;
  std::unique_ptr<cuda::CudaSession> gpu;
  if (options.device == "cuda") {
    cuda::Driver &driver = cuda::Driver::instance();
    if (!driver.available())
      fail("--device cuda: {}", driver.status().reason);
    gpuContext = std::make_unique<cuda::Context>(0);
    kernelCache = std::make_unique<cuda::KernelCache>(
        cuda::KernelCache::defaultDirectory());
    gpu = std::make_unique<cuda::CudaSession>(*gpuContext, session.plan(),
                                              *kernelCache);
    gpu->uploadState(session);
    // The loop reads train_step's loss only: its other output, the logits,
    // would be copied from the device every micro-batch (4.7 GB for the 3B
    // model at batch 16).
    trainer.setEntryRunner(
        [&](const std::string &entry, const TensorMap &inputs) {
          return entry == contract::kTrainStep
                     ? gpu->run(entry, inputs, {contract::kLoss})
                     : gpu->run(entry, inputs);
        });
    fmt::print("device: {} (sm_{}, {} SMs)\n", gpuContext->info().name,
               gpuContext->info().arch(), gpuContext->info().multiprocessors);
  }
  auto syncHostState = [&] {
    if (gpu)
      gpu->downloadState(session);
  };
  // Only now, with data, weights and settings checked, is anything written.
  prepareOutputDir();
  train::MetricsLog metrics(
      (fs::path(options.outputDir) / "metrics.jsonl").string(),
      resumeFrom.empty() ? -1 : state.step, tensorBoardDir());

  std::vector<std::string> trainable = train::trainableParameters(session);
  int64_t trainableCount = 0;
  for (const std::string &name : trainable)
    trainableCount += session.parameter(name).numel();
  fmt::print("{}: batch {}, sequence {} ({} image tokens), {} trainable "
             "parameters in {} tensors\n",
             options.artifact, B, io.shapes.seqLen, io.shapes.imageSeqLength,
             trainableCount, trainable.size());
  fmt::print("data: {} training examples ({} batches per epoch){}; {} "
             "optimizer steps of {} x {} examples\n",
             data.train.size(), batchesPerEpoch,
             data.validation
                 ? fmt::format(", {} validation", data.validation->size())
                 : "",
             config.totalSteps, options.gradAccum, B);
  if (!resumeFrom.empty())
    fmt::print("resuming from {} at step {}\n", resumeFrom, state.step);
  if (data.validation) {
    double prior = train::questionOnlyPrior(data.train, *data.validation);
    fmt::print("question-only prior (majority training answer per question): "
               "{:.4f}\n",
               prior);
  }
  std::fflush(stdout);

  auto evaluateAndReport = [&](int64_t step) {
    syncHostState();
    reportEvaluation(train::evaluateVqa(session, io, *data.validation,
                                        options.maxEvalSamples,
                                        options.maxNewTokens),
                     *data.validation, step, metrics);
  };
  if (data.validation && options.evalAtStart && resumeFrom.empty())
    evaluateAndReport(0);

  DataLoaderOptions loaderOptions;
  loaderOptions.batchSize = B;
  loaderOptions.seed = state.dataSeed;
  loaderOptions.workers = options.workers;
  loaderOptions.start = {state.microBatches / batchesPerEpoch,
                         state.microBatches % batchesPerEpoch};
  DataLoader loader(data.train, io.processor.collateFunction(), loaderOptions);

  struct sigaction action = {};
  action.sa_handler = onInterrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);

  int64_t lastSaved = resumeFrom.empty() ? -1 : state.step;
  auto save = [&] {
    if (lastSaved == trainer.step())
      return;
    syncHostState();
    std::string dir = train::saveCheckpoint(options.outputDir, session, state,
                                            tokenizerFiles);
    train::rotateCheckpoints(options.outputDir, options.saveTotalLimit);
    lastSaved = trainer.step();
    fmt::print("saved {}\n", dir);
    std::fflush(stdout);
  };

  // A progress bar on a terminal; plain lines only when piped or logged.
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  double lossSince = 0;
  int64_t stepsSince = 0;
  auto logStart = Clock::now();
  auto trainStart = Clock::now();
  int64_t stepsThisRun = 0;
  while (trainer.step() < config.totalSteps) {
    if (interrupted || trainer.step() == options.stopAtStep) {
      if (tty)
        fmt::print("\r\033[K");
      save();
      fmt::print("{} at step {}: checkpoint saved; continue with --resume "
                 "{}\n",
                 interrupted ? "interrupted" : "stopped", trainer.step(),
                 options.outputDir);
      return interrupted ? 130 : 0;
    }
    double loss = 0;
    for (int64_t micro = 0; micro < options.gradAccum; ++micro) {
      std::optional<Batch> batch = loader.next();
      if (!batch)
        fail("data loader: ran out of batches at step {}", trainer.step() + 1);
      double microLoss = trainer.trainStep(train::modelInputs(*batch))
                             .at(contract::kLoss)
                             .at(0);
      if (!std::isfinite(microLoss))
        fail("step {}: the loss is {} (batch {} of epoch {}); lower --lr or "
             "check the weights",
             trainer.step() + 1, microLoss, batch->position.batchIndex,
             batch->position.epoch);
      loss += microLoss / static_cast<double>(options.gradAccum);
      ++state.microBatches;
    }
    train::UpdateReport report = trainer.applyUpdate();
    if (!std::isfinite(report.gradNorm))
      fail("step {}: the gradient norm is {}", report.step, report.gradNorm);
    state.step = report.step;
    state.epoch = static_cast<double>(state.microBatches) /
                  static_cast<double>(batchesPerEpoch);
    state.loader = loader.position();
    ++stepsThisRun;
    if (tty) // the bar of the previous step gives way to this step's lines
      fmt::print("\r\033[K");
    lossSince += loss;
    ++stepsSince;
    if (report.step % options.loggingSteps == 0 ||
        report.step == config.totalSteps) {
      double seconds = secondsSince(logStart);
      double samples = static_cast<double>(stepsSince * options.gradAccum * B);
      double meanLoss = lossSince / static_cast<double>(stepsSince);
      metrics.write({{"step", report.step},
                     {"epoch", state.epoch},
                     {"loss", meanLoss},
                     {"lr", report.learningRate},
                     {"grad_norm", report.gradNorm},
                     {"samples_per_s", samples / seconds}});
      fmt::print("step {}/{}  epoch {:.2f}  loss {:.4f}  lr {:.3g}  "
                 "grad_norm {:.3f}  {:.1f} samples/s  {:.3f} s/step\n",
                 report.step, config.totalSteps, state.epoch, meanLoss,
                 report.learningRate, report.gradNorm, samples / seconds,
                 seconds / static_cast<double>(stepsSince));
      std::fflush(stdout);
      lossSince = 0;
      stepsSince = 0;
      logStart = Clock::now();
    }
    if (data.validation && options.evalSteps > 0 &&
        report.step % options.evalSteps == 0 &&
        report.step != config.totalSteps)
      evaluateAndReport(report.step);
    if (options.saveSteps > 0 && report.step % options.saveSteps == 0)
      save();
    if (tty)
      drawProgress(report.step, config.totalSteps, loss);
  }
  if (tty)
    fmt::print("\r\033[K");
  double trainSeconds = secondsSince(trainStart);
  if (data.validation)
    evaluateAndReport(trainer.step());
  save();
  fmt::print("done: {} steps in {:.1f} s of training ({:.3f} s/step), {:.1f} "
             "s in all\n",
             stepsThisRun, trainSeconds,
             stepsThisRun ? trainSeconds / static_cast<double>(stepsThisRun)
                          : 0.0,
             secondsSince(wallStart));
  return 0;
}

CommandAction registerRun(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "run", "Fine-tune a compiled step (pgc compile --train) on a VQA "
             "imagefolder set");
  sub->add_option("file", options.artifact, "The .pgc artifact")->required();
  sub->add_option(
         "--data", options.data,
         "Training set: a folder with metadata.jsonl (or .csv), or with "
         "train/ (and validation/)")
      ->required();
  sub->add_option("--val-data", options.valData, "Validation set folder");
  sub->add_option("--tokenizer", options.tokenizer,
                  "tokenizer.model (default: the data folder's or its "
                  "parent's)");
  sub->add_option("--weights", options.weights,
                  "Initial weights: safetensors file, index.json, HF folder "
                  "or a pgc run checkpoint");
  sub->add_option("--adapter", options.adapter,
                  "A peft LoRA adapter folder (adapter_model.safetensors + "
                  "adapter_config.json) to start the LoRA parameters from");
  sub->add_option("--init", options.init, "'random': initialise from --seed");
  sub->add_option(
         "--seed", options.seed,
         "Seed of random initialisation, data shuffling and LoRA dropout")
      ->capture_default_str();
  sub->add_option("--init-std", options.initStd,
                  "With --init random: std of every normal initialiser "
                  "(default: the model's)");
  sub->add_option("--epochs", options.epochs, "Epochs")->capture_default_str();
  sub->add_option("--max-steps", options.maxSteps,
                  "Optimizer steps in all (overrides --epochs)");
  sub->add_option("--lr", options.adam.learningRate, "Peak learning rate")
      ->default_val(2e-5);
  sub->add_option("--warmup-steps", options.warmupSteps, "Linear warm-up")
      ->capture_default_str();
  sub->add_option("--lr-scheduler", options.scheduler,
                  "linear (decay to 0 at the last step) or "
                  "constant_with_warmup")
      ->capture_default_str();
  sub->add_option("--weight-decay", options.adam.weightDecay, "AdamW decay")
      ->capture_default_str();
  sub->add_option("--adam-beta1", options.adam.beta1)->capture_default_str();
  sub->add_option("--adam-beta2", options.adam.beta2)->capture_default_str();
  sub->add_option("--adam-epsilon", options.adam.epsilon)
      ->capture_default_str();
  sub->add_option("--grad-accum", options.gradAccum,
                  "Micro-batches per optimizer step")
      ->capture_default_str();
  sub->add_option("--max-grad-norm", options.adam.maxGradNorm,
                  "Global-norm clipping (<= 0: off)")
      ->capture_default_str();
  sub->add_option("--logging-steps", options.loggingSteps)
      ->capture_default_str();
  sub->add_option("--eval-steps", options.evalSteps,
                  "Evaluate every N steps (0: only at the end)")
      ->capture_default_str();
  sub->add_flag("--eval-at-start", options.evalAtStart,
                "Also evaluate before the first step");
  sub->add_option("--max-eval-samples", options.maxEvalSamples,
                  "Evaluate on the first N validation examples (0: all)");
  sub->add_option("--max-new-tokens", options.maxNewTokens,
                  "Longest generated answer")
      ->capture_default_str();
  sub->add_option("--save-steps", options.saveSteps,
                  "Checkpoint every N steps (0: only at the end)")
      ->capture_default_str();
  sub->add_option("--save-total-limit", options.saveTotalLimit,
                  "Keep only the newest N checkpoints (0: all)")
      ->capture_default_str();
  sub->add_option("--output-dir", options.outputDir,
                  "Checkpoints and metrics.jsonl");
  sub->add_option("--report-to", options.reportTo,
                  "Also log the metrics as TensorBoard scalars (tensorboard) "
                  "or not (none)")
      ->capture_default_str();
  sub->add_option("--logging-dir", options.loggingDir,
                  "TensorBoard event folder (default OUTPUT_DIR/runs)");
  sub->add_option("--resume", options.resume,
                  "Continue the run in this output folder from its newest "
                  "checkpoint");
  sub->add_option("--stop-at-step", options.stopAtStep,
                  "Save and stop once this step is done, as Ctrl-C would");
  sub->add_option("--workers", options.workers, "Data loader threads")
      ->capture_default_str();
  sub->add_option("--device", options.device,
                  "Where train_step and apply_update run: cpu (the reference "
                  "executor) or cuda (the GPU executor; evaluation stays on "
                  "the CPU)")
      ->capture_default_str();
  return [] { return run(); };
}

CommandRegistration registration(40, registerRun);

} // namespace
} // namespace pgc::cli
