// The constant_with_warmup variant of the schedule that `pgc run
// --lr-scheduler` selects: transformers' get_constant_schedule_with_warmup.
#include "runtime/train/Schedule.h"

#include <gtest/gtest.h>

namespace pgc::train {
namespace {

TEST(ConstantSchedule, WarmsUpLinearlyThenStaysAtOne) {
  LinearSchedule schedule(4, 10, /*decay=*/false);
  const double expected[] = {0, 0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 1, 1};
  for (int64_t step = 0; step < 12; ++step)
    EXPECT_EQ(schedule.multiplier(step), expected[step]) << step;
  // The default still decays: the two variants differ after the warmup.
  EXPECT_EQ(LinearSchedule(4, 10).multiplier(7), 0.5);
  EXPECT_EQ(LinearSchedule(0, 3, false).multiplier(0), 1.0);
}

} // namespace
} // namespace pgc::train
