// The learning-rate schedule of Hugging Face's get_linear_schedule_with_warmup.
#pragma once

#include <cstdint>

namespace pgc::train {

/// Linear warmup from 0 to 1 over `warmupSteps` optimizer steps, then linear
/// decay to 0 at `totalSteps`, as transformers'
/// get_linear_schedule_with_warmup. Like the Trainer, the multiplier of an
/// update is taken at the number of updates already done, so the first update
/// uses multiplier(0) (0 whenever there is a warmup).
class LinearSchedule {
public:
  /// Fails (pgc::Error) unless 0 <= warmupSteps and 1 <= totalSteps.
  /// Without `decay` the factor stays 1 after the warmup, as transformers'
  /// get_constant_schedule_with_warmup.
  LinearSchedule(int64_t warmupSteps, int64_t totalSteps, bool decay = true);

  /// The factor applied to the base learning rate after `step` updates.
  double multiplier(int64_t step) const;

  int64_t warmupSteps() const { return warmupSteps_; }
  int64_t totalSteps() const { return totalSteps_; }

private:
  int64_t warmupSteps_;
  int64_t totalSteps_;
  bool decay_;
};

} // namespace pgc::train
