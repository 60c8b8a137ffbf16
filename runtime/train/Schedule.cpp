// get_linear_schedule_with_warmup's multiplier, in double.
#include "runtime/train/Schedule.h"

#include "runtime/support/Error.h"

#include <algorithm>

namespace pgc::train {

LinearSchedule::LinearSchedule(int64_t warmupSteps, int64_t totalSteps,
                               bool decay)
    : warmupSteps_(warmupSteps), totalSteps_(totalSteps), decay_(decay) {
  if (warmupSteps < 0)
    fail("warmup steps must be >= 0, got {}", warmupSteps);
  if (totalSteps < 1)
    fail("total training steps must be >= 1, got {}", totalSteps);
}

double LinearSchedule::multiplier(int64_t step) const {
  if (step < 0)
    fail("schedule step must be >= 0, got {}", step);
  // The max(1, ...) guards are transformers' own: no warmup, or warmup as
  // long as the run, never divide by zero.
  if (step < warmupSteps_)
    return static_cast<double>(step) /
           static_cast<double>(std::max<int64_t>(1, warmupSteps_));
  if (!decay_)
    return 1.0;
  return std::max(0.0, static_cast<double>(totalSteps_ - step) /
                           static_cast<double>(std::max<int64_t>(
                               1, totalSteps_ - warmupSteps_)));
}

} // namespace pgc::train
