// Shared helpers for the PaliGemma tests: the golden set's paths, sessions
// built for a config, error capture.
#pragma once

#include "models/paligemma/Config.h"
#include "runtime/exec/Session.h"

#include <string>

namespace pgc::models::testing {

/// tests/data/golden/paligemma-tiny-a/<file>.
std::string goldenPath(const std::string &file);

/// A Session for `forward` of `config` at [batch, seqLen] in `dtype` (and
/// `train_step` over every parameter if asked), with no parameter set yet.
Session makeForwardSession(const PaliGemmaConfig &config, int64_t batch,
                           int64_t seqLen, DType dtype = DType::F32,
                           bool withTrainStep = false);

/// max |a - b| over elements where `rowMask` (i64 [B, L]) is non-zero;
/// a and b are [B, L, ...]. With no mask, over every element.
double maxAbsDifference(const Tensor &a, const Tensor &b,
                        const Tensor *rowMask = nullptr);
double maxAbs(const Tensor &a, const Tensor *rowMask = nullptr);

/// A fresh temporary folder for this test.
std::string temporaryFolder();

} // namespace pgc::models::testing
