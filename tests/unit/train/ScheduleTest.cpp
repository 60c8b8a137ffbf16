// LinearSchedule against get_linear_schedule_with_warmup's multipliers written
// out by hand.
#include "runtime/train/Schedule.h"
#include "runtime/support/Error.h"

#include <gtest/gtest.h>

namespace pgc::train {
namespace {

// The seed's setting: warmup 2, then linear decay to 0 at the last step.
TEST(LinearSchedule, WarmupTwoThenLinearDecay) {
  LinearSchedule schedule(2, 10);
  const double expected[] = {0.0,       0.5,       1.0,       7.0 / 8.0,
                             6.0 / 8.0, 5.0 / 8.0, 4.0 / 8.0, 3.0 / 8.0,
                             2.0 / 8.0, 1.0 / 8.0, 0.0,       0.0};
  for (int64_t step = 0; step < 12; ++step)
    EXPECT_DOUBLE_EQ(schedule.multiplier(step), expected[step])
        << "step " << step;
}

TEST(LinearSchedule, NoWarmupStartsAtOne) {
  LinearSchedule schedule(0, 4);
  const double expected[] = {1.0, 0.75, 0.5, 0.25, 0.0};
  for (int64_t step = 0; step < 5; ++step)
    EXPECT_DOUBLE_EQ(schedule.multiplier(step), expected[step]);
}

// Warmup longer than the run: transformers divides by max(1, T - warmup),
// which turns negative and is clamped to 0 once warmup ends.
TEST(LinearSchedule, WarmupLongerThanTheRun) {
  LinearSchedule schedule(5, 3);
  const double expected[] = {0.0, 0.2, 0.4, 0.6, 0.8, 0.0, 0.0};
  for (int64_t step = 0; step < 7; ++step)
    EXPECT_DOUBLE_EQ(schedule.multiplier(step), expected[step]);
}

TEST(LinearSchedule, RejectsBadSettings) {
  EXPECT_THROW(LinearSchedule(-1, 10), Error);
  EXPECT_THROW(LinearSchedule(0, 0), Error);
  EXPECT_THROW(LinearSchedule(0, 10).multiplier(-1), Error);
}

} // namespace
} // namespace pgc::train
