// A central-difference check of one parameter's analytic gradient, for the
// LoRA tests that run f64 models through the Session.
#pragma once

#include "runtime/exec/Session.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <gtest/gtest.h>
#include <string>

namespace pgc::test {

/// Bumps each element of parameter `name` by ±1e-6, evaluates `loss` and
/// expects |analytic - (loss+ - loss-) / 2e-6| <= 1e-6 · max|analytic|, with
/// a non-zero analytic gradient. Restores the parameter.
inline void expectGradientMatchesFiniteDifferences(
    Session &session, const std::string &name, const Tensor &analytic,
    const std::function<double()> &loss) {
  Tensor value = session.parameter(name).clone();
  double largest = 0, worst = 0;
  const double step = 1e-6;
  for (int64_t i = 0; i < value.numel(); ++i) {
    Tensor bumped = value.clone();
    bumped.set(i, value.at(i) + step);
    session.setParameter(name, bumped);
    double plus = loss();
    bumped.set(i, value.at(i) - step);
    session.setParameter(name, bumped);
    double minus = loss();
    double fd = (plus - minus) / (2 * step);
    largest = std::max(largest, std::fabs(analytic.at(i)));
    worst = std::max(worst, std::fabs(analytic.at(i) - fd));
  }
  session.setParameter(name, value);
  EXPECT_GT(largest, 0.0) << name;
  EXPECT_LE(worst, 1e-6 * largest) << name;
}

} // namespace pgc::test
