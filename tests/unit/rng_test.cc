#include "sim/core/rng.h"

#include <gtest/gtest.h>

#include <vector>

namespace hvsim {

TEST(RngStream, SameSeedAndNameRepeat) {
  RngStream a(42, "sched.quantum"), b(42, "sched.quantum");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(RngStream, NamesAndSeedsGiveIndependentStreams) {
  RngStream a(42, "a"), b(42, "b"), c(43, "a");
  uint64_t x = a.next_u64();
  EXPECT_NE(x, b.next_u64());
  EXPECT_NE(x, c.next_u64());
}

TEST(RngStream, KnownValuesArePlatformIndependent) {
  // Pinned: a change here changes every recorded trace hash.
  RngStream r(1, "sched.quantum");
  EXPECT_EQ(r.next_u64(), RngStream(1, "sched.quantum").next_u64());
  std::vector<uint64_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(r.below(1000));
  RngStream again(1, "sched.quantum");
  again.next_u64();
  for (uint64_t v : got) EXPECT_EQ(again.below(1000), v);
  EXPECT_EQ(fnv1a(""), kFnvOffset);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cull);  // FNV-1a 64 test vector
}

TEST(RngStream, BoundedDrawsStayInRangeAndCoverIt) {
  RngStream r(7, "t");
  std::vector<int> seen(10, 0);
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = r.below(10);
    ASSERT_LT(v, 10u);
    ++seen[v];
  }
  for (int n : seen) EXPECT_GT(n, 800);
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = r.between(5, 7);
    EXPECT_GE(v, 5u);
    EXPECT_LE(v, 7u);
  }
  EXPECT_EQ(r.between(3, 3), 3u);
}

}  // namespace hvsim
