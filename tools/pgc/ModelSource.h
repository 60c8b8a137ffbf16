// Where `pgc generate` and `pgc eval` take a model's parameters and tokenizer
// from: --weights (a pgc run checkpoint or HF safetensors) or --init random,
// optionally with --adapter, and the Session built from them.
#pragma once

#include "runtime/exec/Session.h"
#include "runtime/train/Generation.h"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pgc::cli {

struct ModelSource {
  std::string weights;
  std::string adapter;
  std::string init;
  uint64_t seed = 0;
  std::string tokenizer;
};

/// --weights, --adapter, --init, --seed and --tokenizer on `sub`.
void addModelSourceOptions(CLI::App *sub, ModelSource &source);

struct LoadedModel {
  std::unique_ptr<Session> session;
  train::ModelIO io;
};

/// The artifact's Session with every parameter set from `source`, and its
/// processor. The tokenizer is --tokenizer, else the one next to --weights,
/// else the first of `tokenizerDirs` that holds one. Fails with one line
/// naming the option when something is missing.
LoadedModel loadModel(const std::string &artifact, const ModelSource &source,
                      const std::vector<std::string> &tokenizerDirs = {});

} // namespace pgc::cli
