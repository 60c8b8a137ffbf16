// Checks the arena's bookkeeping: alignment, first fit, merging of freed
// neighbours, exhaustion.
#include "runtime/cuda/Arena.h"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>

namespace pgc::cuda {
namespace {

TEST(ArenaAllocator, AlignsEveryRangeTo256Bytes) {
  ArenaAllocator arena(4096);
  auto a = arena.allocate(1);
  auto b = arena.allocate(300);
  auto c = arena.allocate(256);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, 0u);
  EXPECT_EQ(*b, 256u);
  EXPECT_EQ(*c, 768u);
  EXPECT_EQ(arena.bytesInUse(), 1024u);
  EXPECT_THROW(ArenaAllocator(4096, 128), Error);
}

TEST(ArenaAllocator, ReusesAndMergesFreedRanges) {
  ArenaAllocator arena(256 * 8);
  auto a = arena.allocate(256 * 2);
  auto b = arena.allocate(256 * 2);
  auto c = arena.allocate(256 * 2);
  auto d = arena.allocate(256 * 2);
  ASSERT_TRUE(a && b && c && d);
  EXPECT_FALSE(arena.allocate(1));
  arena.release(*b);
  arena.release(*c);
  // b and c merged: a 4-block request fits exactly where they were.
  EXPECT_EQ(arena.largestFreeRange(), 256u * 4);
  auto e = arena.allocate(256 * 4);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, *b);
  arena.release(*a);
  arena.release(*e);
  arena.release(*d);
  EXPECT_EQ(arena.bytesInUse(), 0u);
  EXPECT_EQ(arena.largestFreeRange(), 256u * 8);
  EXPECT_THROW(arena.release(*a), Error);
}

} // namespace
} // namespace pgc::cuda
