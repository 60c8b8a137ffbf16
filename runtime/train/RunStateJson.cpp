// trainer_state.json as `--resume` reads it, apart from the checkpoint code so
// that its fuzz target builds without a Session.
#include "runtime/train/CheckpointStore.h"

#include "runtime/support/Error.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace pgc::train {

RunState parseRunState(std::string_view text, const std::string &what) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  RunState state;
  try {
    if (!json.is_object())
      fail("not a JSON object");
    // Counts and positions: non-negative integers (get<int64_t> would take
    // 1.5 as 1 and a huge unsigned as negative).
    auto count = [&](const nlohmann::json &value, const char *key) {
      if (!value.is_number_integer() ||
          (value.is_number_unsigned() &&
           value.get<uint64_t>() > uint64_t(INT64_MAX)) ||
          value.get<int64_t>() < 0)
        fail("'{}' must be a non-negative integer, not {}", key, value.dump());
      return value.get<int64_t>();
    };
    auto seed = [&](const nlohmann::json &value, const char *key) {
      if (!value.is_number_unsigned())
        fail("'{}' must be a non-negative integer, not {}", key, value.dump());
      return value.get<uint64_t>();
    };
    auto finite = [&](const nlohmann::json &value, const char *key) {
      if (!value.is_number() || !std::isfinite(value.get<double>()) ||
          value.get<double>() < 0)
        fail("'{}' must be a finite number >= 0, not {}", key, value.dump());
      return value.get<double>();
    };
    state.step = count(json.at("global_step"), "global_step");
    state.microBatches = count(json.at("micro_batches"), "micro_batches");
    state.epoch = finite(json.at("epoch"), "epoch");
    const nlohmann::json &loader = json.at("loader");
    state.loader.epoch = count(loader.at("epoch"), "loader.epoch");
    state.loader.batchIndex =
        count(loader.at("batch_index"), "loader.batch_index");
    state.dataSeed = seed(json.at("rng").at("data_seed"), "rng.data_seed");
    const nlohmann::json &init = json.at("init");
    state.initWeights = init.at("weights").get<std::string>();
    state.initSeed = seed(init.at("seed"), "init.seed");
    state.initStd = finite(init.at("std"), "init.std");
  } catch (const nlohmann::json::exception &e) {
    fail("{}: {}", what, e.what());
  } catch (const Error &e) {
    fail("{}: {}", what, e.what());
  }
  return state;
}

} // namespace pgc::train
