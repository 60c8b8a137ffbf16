// Training checkpoints of `pgc run`: trainable weights, optimizer state, step,
// data-loader position and RNG state in OUTPUT_DIR/checkpoint-N folders that
// appear atomically.
#pragma once

#include "runtime/data/DataLoader.h"
#include "runtime/exec/Session.h"
#include "runtime/support/FileUtil.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pgc::train {

/// Everything besides tensors that a resumed run needs to continue exactly.
struct RunState {
  int64_t step = 0;         ///< optimizer steps done
  int64_t microBatches = 0; ///< training batches consumed
  double epoch = 0;         ///< microBatches / batches per epoch
  LoaderPosition loader;    ///< of the next training batch
  uint64_t dataSeed = 0;    ///< the shuffling RNG: order = f(seed, epoch)
  /// Where the parameters that are not saved (frozen ones) come from: a
  /// weights path, or random initialisation with initSeed / initStd.
  std::string initWeights;
  uint64_t initSeed = 0;
  double initStd = 0; ///< 0: the artifact's own initialisers
};

/// Names of the parameters that train: those with a `grad.<name>` state
/// buffer (pg-autodiff and pg-freeze decided which).
std::vector<std::string> trainableParameters(const Session &session);

/// Writes OUTPUT_DIR/checkpoint-<step>: model.safetensors (the trainable
/// parameters, HF names), optimizer.safetensors (every state buffer:
/// AdamW moments and gradient accumulators), for a step with LoRA
/// parameters also adapter_model.safetensors and adapter_config.json in
/// peft's format (runtime/train/Adapters.h), and trainer_state.json. The
/// files go to a hidden temporary folder first, each fsynced, which is then
/// renamed into place, so an interrupted save leaves earlier checkpoints
/// untouched and no partial checkpoint-N. `extraFiles` (the tokenizer and
/// processor files, tokenizerFolderFiles) are written in too, so that the
/// folder alone can generate, in pgc and in transformers. Returns the
/// folder's path.
std::string saveCheckpoint(const std::string &outputDir, const Session &session,
                           const RunState &state,
                           const std::vector<FolderFile> &extraFiles = {});

/// Keeps the newest `limit` checkpoints (0: all), deleting older ones.
void rotateCheckpoints(const std::string &outputDir, int64_t limit);

/// The complete checkpoint folders of outputDir, oldest first.
std::vector<std::string> listCheckpoints(const std::string &outputDir);

/// Reads trainer_state.json of a checkpoint folder (parseRunState).
RunState readRunState(const std::string &checkpointDir);

/// Parses trainer_state.json's text. Throws pgc::Error "<what>: ..." for
/// anything but an object with every field saveCheckpoint writes, of its
/// type, with counts and positions >= 0 and finite epoch and std >= 0.
RunState parseRunState(std::string_view text, const std::string &what);

/// Loads model.safetensors alone (the trainable parameters) into the
/// session, checking names, dtypes and shapes.
void restoreTrainableParameters(const std::string &checkpointDir,
                                Session &session);

/// Loads model.safetensors and optimizer.safetensors into the session,
/// checking that names, dtypes and shapes match it exactly.
void restoreCheckpoint(const std::string &checkpointDir, Session &session);

/// Whether `path` is a checkpoint folder written by saveCheckpoint.
bool isRunCheckpoint(const std::string &path);

/// Replaces the standard deviation of every normal(...) initialiser of the
/// plan (std > 0), before a Session is built from it.
void setNormalInitStd(Plan &plan, double std);

/// Sets every parameter: from `state.initWeights` (a Hugging Face
/// checkpoint; names and shapes must match the artifact) or, when empty,
/// randomly with state.initSeed (the plan must already carry initStd).
/// Warnings (unknown checkpoint tensors) go to `warn`.
void initializeModel(Session &session, const RunState &state,
                     const std::function<void(const std::string &)> &warn);

/// Removes temporary folders that interrupted saves left in outputDir.
void removeIncompleteCheckpoints(const std::string &outputDir);

} // namespace pgc::train
