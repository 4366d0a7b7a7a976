#include "sim/core/virtual_time.h"

#include <gtest/gtest.h>

namespace hvsim {

TEST(VirtualTime, UnitsAndOrdering) {
  EXPECT_EQ(VirtualTime::from_ns(3).ps(), 3000u);
  EXPECT_EQ(VirtualTime::from_ms(2).ns(), 2000000u);
  EXPECT_LT(VirtualTime::from_us(1), VirtualTime::from_ns(1001));
  EXPECT_EQ((VirtualTime::from_us(5) - VirtualTime::from_us(2)).ns(), 3000u);
}

TEST(ClockRate, TicksRoundTripExactly) {
  for (uint64_t hz : {2000000000ull, 3000000000ull, 2500000001ull, 1000000ull}) {
    ClockRate r(hz);
    for (uint64_t ticks : {0ull, 1ull, 7ull, 1000003ull, 123456789012ull}) {
      EXPECT_EQ(r.ticks_at(r.time_of(ticks)), ticks) << hz << " " << ticks;
      if (ticks > 0) {
        EXPECT_EQ(r.ticks_at(r.time_of(ticks) - VirtualTime::from_ps(1)), ticks - 1);
      }
    }
  }
}

TEST(ClockRate, ReferenceTimeIs100ns) {
  EXPECT_EQ(reference_time_at(VirtualTime::from_us(1)), 10u);
  EXPECT_EQ(reference_time_at(VirtualTime::from_ns(99)), 0u);
  EXPECT_EQ(reference_time_at(VirtualTime::from_ms(1000)), 10000000u);
}

}  // namespace hvsim
