#include "models/hv/ref_tsc.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <string>

namespace hvsim::hv {
namespace {

constexpr uint64_t kRefHz = 10000000;
constexpr uint64_t kDay = 86400ull * 1000000000000ull;  // picoseconds

// What a guest computes from a page published at boot (offset 0) when the TSC runs at hz from 0.
uint64_t page_at_boot(uint64_t hz, VirtualTime t) {
  return reference_time_from_tsc(ClockRate(hz).ticks_at(t), tsc_scale_for(hz), 0);
}

TEST(RefTscMath, ScaleIsTheRoundedDownQuotient) {
  for (uint64_t hz : {2000000000ull, 2500000000ull, 3000000000ull, 2999999999ull, 10000001ull,
                      1234567891ull, 5000000000ull}) {
    const uint128 num = static_cast<uint128>(kRefHz) << 64;
    const uint128 s = tsc_scale_for(hz);
    EXPECT_LE(s * hz, num) << hz;
    EXPECT_GT((s + 1) * hz, num) << hz;
  }
  EXPECT_EQ(tsc_scale_for(2000000000), 0xFFFFFFFFFFFFFFFFull / 200);  // 2^64 mod 200 = 16
  EXPECT_EQ(tsc_scale_for(kRefHz), 0u);  // would need 2^64: not representable
  EXPECT_EQ(tsc_scale_for(0), 0u);
}

TEST(RefTscMath, GuestFormulaAndContinuityOffset) {
  const uint64_t scale = tsc_scale_for(2000000000);
  // 1 s of a 2 GHz TSC: one unit short, because the scale is rounded down (see ref_tsc.h).
  EXPECT_EQ(reference_time_from_tsc(2000000000, scale, 0), kRefHz - 1);
  EXPECT_EQ(reference_time_from_tsc(2000000001, scale, 0), kRefHz);
  EXPECT_EQ(reference_time_from_tsc(2000000001, scale, -5), kRefHz - 5);
  EXPECT_EQ(reference_time_from_tsc(UINT64_MAX, UINT64_MAX, 0), UINT64_MAX - 1);
  const int64_t off = offset_for_continuity(123456789, scale, 42);
  EXPECT_EQ(reference_time_from_tsc(123456789, scale, off), 42u);
  EXPECT_LT(off, 0);
}

// For hz = k * 10^7: page(t) == reference_time_at(t) - (ticks % k == 0 && ticks > 0).
void expect_exact_relation(uint64_t hz, uint64_t from_ps, uint64_t to_ps, uint64_t step_ps) {
  const uint64_t k = hz / kRefHz;
  const ClockRate rate(hz);
  for (uint64_t ps = from_ps; ps < to_ps; ps += step_ps) {
    const VirtualTime t = VirtualTime::from_ps(ps);
    const uint64_t ticks = rate.ticks_at(t);
    const uint64_t expected = reference_time_at(t) - ((ticks % k == 0 && ticks > 0) ? 1 : 0);
    ASSERT_EQ(page_at_boot(hz, t), expected) << "hz=" << hz << " ps=" << ps;
  }
}

TEST(RefTscMath, ExactRelationForMultiplesOfTenMegahertz) {
  for (uint64_t hz : {2000000000ull, 2500000000ull, 3000000000ull, 3100000000ull}) {
    expect_exact_relation(hz, 0, 20000000, 7);                     // the first 20 us
    expect_exact_relation(hz, 3 * kDay + 1, 3 * kDay + 2000001, 3);  // after 3 days
    expect_exact_relation(hz, 213 * kDay, 213 * kDay + 2000000, 3);  // the end of VirtualTime
  }
  // At a 100 ns boundary the TSC is exactly a multiple of k: the page is one unit behind.
  const VirtualTime boundary = VirtualTime::from_ps(700 * 100000);
  EXPECT_EQ(reference_time_at(boundary), 700u);
  EXPECT_EQ(page_at_boot(3000000000, boundary), 699u);
  EXPECT_EQ(page_at_boot(3000000000, boundary + VirtualTime::from_ps(334)), 700u);
}

TEST(RefTscMath, NeverAheadAndAtMostOneBehindForAnyFrequency) {
  for (uint64_t hz : {2999999999ull, 1234567891ull, 3333333333ull, 10000001ull}) {
    const ClockRate rate(hz);
    for (uint64_t base : {uint64_t{0}, 5 * kDay, 200 * kDay}) {
      for (uint64_t ps = base; ps < base + 20000000; ps += 11) {
        const VirtualTime t = VirtualTime::from_ps(ps);
        const uint64_t r = reference_time_at(t);
        const uint64_t p = page_at_boot(hz, t);
        ASSERT_LE(p, r) << hz << " " << ps;
        ASSERT_GE(p + 1, r) << hz << " " << ps;
      }
    }
  }
}

// The TSC keeps counting from its value at t0 but at hz2; the page is republished at t0.
TEST(RefTscMath, ContinuityAcrossAFrequencyChange) {
  struct Change {
    uint64_t hz1, hz2, t0_ps;
  };
  for (const Change c : {Change{2000000000, 3000000000, 123456789},
                         Change{3000000000, 2500000000, 50000000000007},
                         Change{2500000000, 2999999999, 7 * kDay + 333},
                         Change{3000000000, 2000000000, 100000}}) {
    const ClockRate r1(c.hz1), r2(c.hz2);
    const VirtualTime t0 = VirtualTime::from_ps(c.t0_ps);
    const uint64_t tsc0 = r1.ticks_at(t0);
    const uint64_t s1 = tsc_scale_for(c.hz1), s2 = tsc_scale_for(c.hz2);
    const int64_t off = offset_for_continuity(tsc0, s2, reference_time_at(t0));
    auto tsc_after = [&](VirtualTime t) { return tsc0 + r2.ticks_at(t) - r2.ticks_at(t0); };

    EXPECT_EQ(reference_time_from_tsc(tsc0, s2, off), reference_time_at(t0));
    uint64_t prev = reference_time_from_tsc(r1.ticks_at(t0 - VirtualTime::from_ps(1)), s1, 0);
    for (uint64_t ps = c.t0_ps; ps < c.t0_ps + 30000000; ps += 7) {
      const VirtualTime t = VirtualTime::from_ps(ps);
      const uint64_t p = reference_time_from_tsc(tsc_after(t), s2, off);
      const uint64_t r = reference_time_at(t);
      ASSERT_LE(p, r + 1) << c.hz1 << "->" << c.hz2 << " ps=" << ps;
      ASSERT_GE(p + 1, r) << c.hz1 << "->" << c.hz2 << " ps=" << ps;
      ASSERT_GE(p, prev) << "went backwards at ps=" << ps;
      prev = p;
    }
  }
}

class RefTscPageTest : public ::testing::Test {
 protected:
  RefTscPageTest() : ref_page(tracer) {
    tracer.enable_capture();
    buffer.fill(0xCC);
  }
  template <typename T>
  T field(size_t offset) const {
    T v;
    std::memcpy(&v, buffer.data() + offset, sizeof v);
    return v;
  }
  uint32_t seq() const { return field<uint32_t>(offsetof(HvReferenceTscPage, tsc_sequence)); }
  uint64_t scale() const { return field<uint64_t>(offsetof(HvReferenceTscPage, tsc_scale)); }
  int64_t offset() const { return field<int64_t>(offsetof(HvReferenceTscPage, tsc_offset)); }

  Tracer tracer;
  ReferenceTscPage ref_page;
  alignas(8) std::array<uint8_t, 4096> buffer{};
};

TEST_F(RefTscPageTest, AttachWritesAWholeInvalidPage) {
  ref_page.attach(buffer.data());
  EXPECT_EQ(seq(), 0u);
  for (size_t i = 0; i < buffer.size(); ++i) ASSERT_EQ(buffer[i], 0) << i;
}

TEST_F(RefTscPageTest, SequenceProtocol) {
  ref_page.attach(buffer.data());
  ASSERT_TRUE(ref_page.publish(2000000000, 0, VirtualTime::from_us(1)));
  EXPECT_EQ(seq(), 1u);
  EXPECT_EQ(scale(), tsc_scale_for(2000000000));
  EXPECT_EQ(offset(), 0);
  ASSERT_TRUE(ref_page.publish(3000000000, -17, VirtualTime::from_us(2)));
  EXPECT_EQ(seq(), 2u);
  EXPECT_EQ(scale(), tsc_scale_for(3000000000));
  EXPECT_EQ(offset(), -17);
  // Frequency change race: invalidate first; the guest falls back to the MSR.
  ref_page.invalidate(VirtualTime::from_us(3));
  EXPECT_EQ(seq(), 0u);
  EXPECT_EQ(ref_page.sequence(), 0u);
  EXPECT_EQ(scale(), tsc_scale_for(3000000000));
  // The next valid page gets a number never seen before.
  ASSERT_TRUE(ref_page.publish(2500000000, 99, VirtualTime::from_us(4)));
  EXPECT_EQ(seq(), 3u);
  EXPECT_EQ(ref_page.scale(), tsc_scale_for(2500000000));
  EXPECT_EQ(ref_page.offset(), 99);
  // A guest read per the TLFS loop sees a consistent triple.
  const uint32_t start = seq();
  const uint64_t value = reference_time_from_tsc(2500000000, scale(), offset());
  EXPECT_EQ(seq(), start);
  EXPECT_EQ(value, kRefHz - 1 + 99);

  size_t updates = 0;
  for (const std::string& r : tracer.captured())
    updates += r.find("\"ev\":\"reftsc.update\"") != std::string::npos;
  EXPECT_EQ(updates, 4u);
  EXPECT_NE(tracer.captured().back().find("\"sequence\":3"), std::string::npos);
}

TEST_F(RefTscPageTest, UnrepresentableFrequencyLeavesThePageInvalid) {
  ref_page.attach(buffer.data());
  ASSERT_TRUE(ref_page.publish(2000000000, 0, VirtualTime::from_us(1)));
  EXPECT_FALSE(ref_page.publish(kRefHz, 0, VirtualTime::from_us(2)));
  EXPECT_EQ(seq(), 0u);
  EXPECT_FALSE(ref_page.publish(0, 0, VirtualTime::from_us(2)));
  EXPECT_EQ(seq(), 0u);
}

TEST_F(RefTscPageTest, DetachedPageKeepsStateAndAttachWritesIt) {
  ASSERT_TRUE(ref_page.publish(3000000000, 5, VirtualTime::from_us(1)));
  EXPECT_EQ(buffer[0], 0xCC);  // nothing attached: buffer untouched
  ref_page.attach(buffer.data());
  EXPECT_EQ(seq(), 1u);
  EXPECT_EQ(scale(), tsc_scale_for(3000000000));
  EXPECT_EQ(offset(), 5);
  ref_page.attach(nullptr);
  ASSERT_TRUE(ref_page.publish(2000000000, 0, VirtualTime::from_us(2)));
  EXPECT_EQ(seq(), 1u);  // detached buffer no longer written
}

TEST_F(RefTscPageTest, ResetMatchesAFreshPage) {
  ref_page.attach(buffer.data());
  ref_page.publish(3000000000, 5, VirtualTime::from_us(1));
  ref_page.reset();
  Tracer other;
  ReferenceTscPage fresh(other);
  EXPECT_EQ(ref_page.sequence(), fresh.sequence());
  EXPECT_EQ(ref_page.scale(), fresh.scale());
  EXPECT_EQ(ref_page.offset(), fresh.offset());
  ref_page.publish(2000000000, 0, VirtualTime::from_us(2));
  EXPECT_EQ(seq(), 1u);  // detached by reset
  EXPECT_EQ(ref_page.sequence(), 1u);  // numbering restarts
}

}  // namespace
}  // namespace hvsim::hv
