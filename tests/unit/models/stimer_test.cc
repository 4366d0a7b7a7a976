#include "models/hv/stimer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace hvsim::hv {
namespace {

constexpr VpIndex kVp = 1;
constexpr uint8_t kSintVec = 0xF3;
constexpr uint8_t kDirectVec = 0xED;
constexpr uint64_t kSint2 = 2ull << kHvStimerSintShift;

class RecordingSink final : public InterruptSink {
 public:
  void request_interrupt(VpIndex vp, uint8_t vector) override { requests.emplace_back(vp, vector); }
  std::vector<std::pair<VpIndex, uint8_t>> requests;
};

// Reference time `units` (100 ns) as a VirtualTime.
VirtualTime ref(uint64_t units) { return VirtualTime::from_ps(units * 100000); }

size_t count_records(const Tracer& t, const std::string& name) {
  const std::string key = "\"ev\":\"" + name + "\"";
  return static_cast<size_t>(std::count_if(t.captured().begin(), t.captured().end(),
                                           [&](const std::string& r) {
                                             return r.find(key) != std::string::npos;
                                           }));
}

class StimerTest : public ::testing::Test {
 protected:
  StimerTest()
      : synic(kVp, sink, tracer),
        timers(kVp, synic, sink, tracer, StimerOptions{.direct_mode_available = true}) {
    tracer.enable_capture();
    synic.set_simp(0x10000 | 1);
    synic.attach_message_page(page.data(), ref(0));
    synic.set_sint(2, kSintVec, ref(0));
    synic.set_scontrol(1, ref(0));
  }

  HvTimerMessagePayload slot2_payload() const {
    HvTimerMessagePayload p;
    std::memcpy(&p, page.data() + 2 * 256 + 16, sizeof p);
    return p;
  }
  uint32_t slot2_type() const {
    uint32_t t;
    std::memcpy(&t, page.data() + 2 * 256, 4);
    return t;
  }
  void guest_clear_slot2() { std::memset(page.data() + 2 * 256, 0, 4); }

  RecordingSink sink;
  Tracer tracer;
  alignas(8) std::array<uint8_t, 4096> page{};
  SynIc synic;
  SyntheticTimers timers;
};

TEST_F(StimerTest, ConfigReservedAndForbiddenValuesFault) {
  for (unsigned bit : {13u, 14u, 15u, 20u, 31u, 63u})
    EXPECT_FALSE(timers.set_config(0, kHvStimerEnable | kSint2 | (1ull << bit), ref(0))) << bit;
  EXPECT_FALSE(timers.set_config(4, kSint2, ref(0)));
  EXPECT_FALSE(timers.set_count(4, 10, ref(0)));
  // Direct mode needs an APIC vector >= 16.
  EXPECT_FALSE(timers.set_config(0, kHvStimerDirectMode | (15ull << 4), ref(0)));
  EXPECT_EQ(timers.config(0), 0u);
  EXPECT_EQ(timers.config(4), 0u);
  EXPECT_EQ(timers.count(4), 0u);

  RecordingSink s;
  Tracer t;
  SyntheticTimers no_direct(kVp, synic, s, t);
  EXPECT_FALSE(no_direct.set_config(0, kHvStimerDirectMode | (uint64_t{kDirectVec} << 4), ref(0)));
  EXPECT_TRUE(no_direct.set_config(0, kHvStimerLazy | kHvStimerPeriodic | kSint2, ref(0)));
  EXPECT_EQ(no_direct.config(0), kHvStimerLazy | kHvStimerPeriodic | kSint2);
}

TEST_F(StimerTest, EnableWithSintZeroIsClearedImmediately) {
  EXPECT_TRUE(timers.set_count(0, 100, ref(0)));
  EXPECT_TRUE(timers.set_config(0, kHvStimerEnable, ref(0)));
  EXPECT_EQ(timers.config(0), 0u);
  EXPECT_EQ(timers.poll(ref(0)), std::nullopt);
  EXPECT_TRUE(timers.set_config(0, kHvStimerAutoEnable, ref(0)));
  EXPECT_TRUE(timers.set_count(0, 100, ref(0)));
  EXPECT_EQ(timers.config(0), kHvStimerAutoEnable);
}

TEST_F(StimerTest, OneShotMessageFiresAtItsExactDeadline) {
  ASSERT_TRUE(timers.set_count(1, 1000, ref(0)));
  ASSERT_TRUE(timers.set_config(1, kHvStimerEnable | kSint2, ref(0)));
  EXPECT_EQ(timers.poll(ref(10)), ref(1000));
  EXPECT_EQ(timers.poll(VirtualTime::from_ps(1000 * 100000 - 1)), ref(1000));
  EXPECT_EQ(slot2_type(), 0u);
  EXPECT_EQ(timers.poll(ref(1000)), std::nullopt);
  EXPECT_EQ(slot2_type(), HVMSG_TIMER_EXPIRED);
  EXPECT_EQ(page[2 * 256 + 4], 24);
  const HvTimerMessagePayload p = slot2_payload();
  EXPECT_EQ(p.timer_index, 1u);
  EXPECT_EQ(p.expiration_time, 1000u);
  EXPECT_EQ(p.delivery_time, 1000u);
  ASSERT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(sink.requests[0], std::make_pair(kVp, kSintVec));
  EXPECT_EQ(timers.config(1) & kHvStimerEnable, 0u);  // one-shot disables itself
  EXPECT_EQ(timers.count(1), 1000u);
  EXPECT_EQ(count_records(tracer, "stimer.arm"), 1u);
  EXPECT_EQ(count_records(tracer, "stimer.expire"), 1u);
}

TEST_F(StimerTest, OneShotInThePastFiresOnTheNextPoll) {
  ASSERT_TRUE(timers.set_config(0, kHvStimerAutoEnable | kSint2, ref(500)));
  ASSERT_TRUE(timers.set_count(0, 200, ref(500)));
  EXPECT_EQ(timers.poll(ref(500)), std::nullopt);
  EXPECT_EQ(slot2_payload().expiration_time, 200u);
  EXPECT_EQ(slot2_payload().delivery_time, 500u);
}

TEST_F(StimerTest, AutoEnableAndCountZero) {
  ASSERT_TRUE(timers.set_config(2, kHvStimerAutoEnable | kSint2, ref(0)));
  EXPECT_EQ(timers.config(2) & kHvStimerEnable, 0u);
  ASSERT_TRUE(timers.set_count(2, 50, ref(0)));
  EXPECT_NE(timers.config(2) & kHvStimerEnable, 0u);
  EXPECT_EQ(timers.poll(ref(0)), ref(50));
  // Linux reprograms the next tick by rewriting COUNT.
  ASSERT_TRUE(timers.set_count(2, 80, ref(10)));
  EXPECT_EQ(timers.poll(ref(10)), ref(80));
  // COUNT = 0 stops the timer whatever AutoEnable says.
  ASSERT_TRUE(timers.set_count(2, 0, ref(20)));
  EXPECT_EQ(timers.config(2) & kHvStimerEnable, 0u);
  EXPECT_EQ(timers.poll(ref(100)), std::nullopt);
  EXPECT_TRUE(sink.requests.empty());
  // Without AutoEnable, a COUNT write does not enable.
  ASSERT_TRUE(timers.set_config(3, kSint2, ref(0)));
  ASSERT_TRUE(timers.set_count(3, 50, ref(0)));
  EXPECT_EQ(timers.config(3), kSint2);
  EXPECT_EQ(timers.poll(ref(100)), std::nullopt);
}

TEST_F(StimerTest, PeriodicKeepsItsGridAndSkipsMissedPeriods) {
  ASSERT_TRUE(timers.set_count(0, 100, ref(50)));
  ASSERT_TRUE(timers.set_config(0, kHvStimerEnable | kHvStimerPeriodic | kSint2, ref(50)));
  EXPECT_EQ(timers.poll(ref(50)), ref(150));
  EXPECT_EQ(timers.poll(ref(150)), ref(250));
  EXPECT_EQ(slot2_payload().expiration_time, 150u);
  guest_clear_slot2();
  EXPECT_EQ(timers.poll(ref(260)), ref(350));  // late by 10: next stays on the grid
  EXPECT_EQ(slot2_payload().expiration_time, 250u);
  EXPECT_EQ(slot2_payload().delivery_time, 260u);
  guest_clear_slot2();
  // Far behind: one expiry, no burst, next grid point after now.
  EXPECT_EQ(timers.poll(ref(1000)), ref(1050));
  EXPECT_EQ(slot2_payload().expiration_time, 350u);
  EXPECT_EQ(sink.requests.size(), 3u);
  EXPECT_NE(timers.config(0) & kHvStimerEnable, 0u);  // periodic stays enabled
}

TEST_F(StimerTest, LazyTimerBehavesLikeAnOrdinaryOne) {
  ASSERT_TRUE(timers.set_count(0, 100, ref(0)));
  ASSERT_TRUE(timers.set_config(
      0, kHvStimerEnable | kHvStimerPeriodic | kHvStimerLazy | kSint2, ref(0)));
  EXPECT_EQ(timers.config(0) & kHvStimerLazy, kHvStimerLazy);
  EXPECT_EQ(timers.poll(ref(100)), ref(200));
  EXPECT_EQ(sink.requests.size(), 1u);
}

TEST_F(StimerTest, DirectModeAssertsTheApicVectorWithoutAMessage) {
  const uint64_t cfg = kHvStimerEnable | kHvStimerDirectMode | (uint64_t{kDirectVec} << 4);
  ASSERT_TRUE(timers.set_count(0, 30, ref(0)));
  ASSERT_TRUE(timers.set_config(0, cfg, ref(0)));  // SINTx = 0 is fine in direct mode
  EXPECT_EQ(timers.config(0), cfg);
  EXPECT_EQ(timers.poll(ref(30)), std::nullopt);
  ASSERT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(sink.requests[0], std::make_pair(kVp, kDirectVec));
  EXPECT_EQ(slot2_type(), 0u);
  // Direct periodic: no slot involved, so it never waits.
  ASSERT_TRUE(timers.set_config(0, cfg | kHvStimerPeriodic, ref(30)));
  EXPECT_EQ(timers.poll(ref(60)), ref(90));
  EXPECT_EQ(timers.poll(ref(90)), ref(120));
  EXPECT_EQ(sink.requests.size(), 3u);
}

TEST_F(StimerTest, BusySlotKeepsTheExpiryPendingWithoutFlooding) {
  HvMessage vmbus{};
  vmbus.header.message_type = 1;
  ASSERT_EQ(synic.post_message(2, vmbus, ref(0)), PostResult::kDelivered);
  sink.requests.clear();
  ASSERT_TRUE(timers.set_count(0, 100, ref(0)));
  ASSERT_TRUE(timers.set_config(0, kHvStimerEnable | kSint2, ref(0)));
  EXPECT_EQ(timers.poll(ref(100)), std::nullopt);  // no deadline while waiting for the slot
  EXPECT_TRUE(timers.expiry_pending(0));
  EXPECT_EQ(page[2 * 256 + 5], kHvMessageFlagPending);
  EXPECT_EQ(slot2_type(), 1u);
  EXPECT_EQ(timers.poll(ref(110)), std::nullopt);
  EXPECT_EQ(timers.poll(ref(120)), std::nullopt);
  EXPECT_TRUE(sink.requests.empty());
  EXPECT_EQ(count_records(tracer, "stimer.expire"), 1u);
  EXPECT_EQ(count_records(tracer, "synic.slot_busy"), 1u);
  // Guest: copy out, clear the type, see msg_pending, write EOM; machine then polls the timers.
  guest_clear_slot2();
  synic.set_eom(ref(130));
  EXPECT_EQ(timers.poll(ref(130)), std::nullopt);
  EXPECT_FALSE(timers.expiry_pending(0));
  EXPECT_EQ(slot2_type(), HVMSG_TIMER_EXPIRED);
  EXPECT_EQ(slot2_payload().expiration_time, 100u);
  EXPECT_EQ(slot2_payload().delivery_time, 130u);
  EXPECT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(timers.config(0) & kHvStimerEnable, 0u);
}

TEST_F(StimerTest, PeriodicBusyForManyPeriodsDeliversOnceThenResumesTheGrid) {
  HvMessage vmbus{};
  vmbus.header.message_type = 1;
  synic.post_message(2, vmbus, ref(0));
  ASSERT_TRUE(timers.set_count(0, 10, ref(0)));
  ASSERT_TRUE(timers.set_config(0, kHvStimerEnable | kHvStimerPeriodic | kSint2, ref(0)));
  for (uint64_t t = 10; t <= 95; t += 5) EXPECT_EQ(timers.poll(ref(t)), std::nullopt);
  guest_clear_slot2();
  synic.set_eom(ref(97));
  EXPECT_EQ(timers.poll(ref(97)), ref(100));
  EXPECT_EQ(slot2_payload().expiration_time, 10u);
  EXPECT_EQ(slot2_payload().delivery_time, 97u);
  EXPECT_EQ(count_records(tracer, "stimer.expire"), 1u);
}

TEST_F(StimerTest, UnavailableSynicKeepsTheExpiryUntilItIsEnabled) {
  synic.set_scontrol(0, ref(0));
  ASSERT_TRUE(timers.set_count(0, 10, ref(0)));
  ASSERT_TRUE(timers.set_config(0, kHvStimerEnable | kSint2, ref(0)));
  EXPECT_EQ(timers.poll(ref(10)), std::nullopt);
  EXPECT_TRUE(timers.expiry_pending(0));
  synic.set_scontrol(1, ref(20));
  EXPECT_EQ(timers.poll(ref(20)), std::nullopt);
  EXPECT_FALSE(timers.expiry_pending(0));
  EXPECT_EQ(slot2_payload().delivery_time, 20u);
}

TEST_F(StimerTest, MaskedSintGetsTheMessageAndTheInterruptOnUnmask) {
  synic.set_sint(2, kHvSintMasked | kSintVec, ref(0));
  ASSERT_TRUE(timers.set_count(0, 10, ref(0)));
  ASSERT_TRUE(timers.set_config(0, kHvStimerEnable | kSint2, ref(0)));
  timers.poll(ref(10));
  EXPECT_EQ(slot2_type(), HVMSG_TIMER_EXPIRED);
  EXPECT_TRUE(sink.requests.empty());
  synic.set_sint(2, kSintVec, ref(11));
  EXPECT_EQ(sink.requests.size(), 1u);
}

TEST_F(StimerTest, DeadlinesAreExactAndFarOnesAreNone) {
  ASSERT_TRUE(timers.set_config(0, kHvStimerAutoEnable | kSint2, ref(0)));
  ASSERT_TRUE(timers.set_count(0, 12345, ref(0)));
  ASSERT_TRUE(timers.set_config(1, kHvStimerAutoEnable | kSint2, ref(0)));
  ASSERT_TRUE(timers.set_count(1, 777, ref(0)));
  EXPECT_EQ(timers.poll(ref(1)), VirtualTime::from_ps(777ull * 100000));
  timers.poll(ref(777));
  EXPECT_EQ(timers.poll(ref(778)), VirtualTime::from_ps(12345ull * 100000));
  // A due time past the VirtualTime range never fires and gives no deadline.
  ASSERT_TRUE(timers.set_count(0, UINT64_MAX / 100000 + 1, ref(800)));
  EXPECT_EQ(timers.poll(ref(800)), std::nullopt);
  ASSERT_TRUE(timers.set_count(0, UINT64_MAX / 100000, ref(800)));
  EXPECT_EQ(timers.poll(ref(800)), VirtualTime::from_ps(UINT64_MAX / 100000 * 100000));
  // A periodic timer whose next period overflows saturates instead of wrapping.
  ASSERT_TRUE(timers.set_count(2, UINT64_MAX, ref(900)));
  ASSERT_TRUE(timers.set_config(2, kHvStimerEnable | kHvStimerPeriodic | kSint2, ref(900)));
  EXPECT_EQ(timers.poll(ref(900)), VirtualTime::from_ps(UINT64_MAX / 100000 * 100000));
}

TEST_F(StimerTest, ConfigWriteRearmsAndDropsAPendingExpiry) {
  HvMessage vmbus{};
  vmbus.header.message_type = 1;
  synic.post_message(2, vmbus, ref(0));
  ASSERT_TRUE(timers.set_count(0, 10, ref(0)));
  ASSERT_TRUE(timers.set_config(0, kHvStimerEnable | kSint2, ref(0)));
  timers.poll(ref(10));
  ASSERT_TRUE(timers.expiry_pending(0));
  ASSERT_TRUE(timers.set_config(0, 0, ref(11)));  // Linux shutdown: COUNT = 0, CONFIG = 0
  EXPECT_FALSE(timers.expiry_pending(0));
  guest_clear_slot2();
  synic.set_eom(ref(12));
  EXPECT_EQ(timers.poll(ref(12)), std::nullopt);
  EXPECT_EQ(slot2_type(), 0u);
}

TEST_F(StimerTest, EarliestOfSeveralTimersAndReset) {
  ASSERT_TRUE(timers.set_count(0, 300, ref(0)));
  ASSERT_TRUE(timers.set_config(0, kHvStimerEnable | kSint2, ref(0)));
  ASSERT_TRUE(timers.set_count(3, 40, ref(0)));
  ASSERT_TRUE(timers.set_config(3, kHvStimerEnable | kHvStimerPeriodic | kSint2, ref(0)));
  EXPECT_EQ(timers.poll(ref(0)), ref(40));
  timers.reset();
  for (unsigned n = 0; n < kHvStimerCount; ++n) {
    EXPECT_EQ(timers.config(n), 0u);
    EXPECT_EQ(timers.count(n), 0u);
    EXPECT_FALSE(timers.expiry_pending(n));
  }
  EXPECT_EQ(timers.poll(ref(1000)), std::nullopt);
  EXPECT_TRUE(sink.requests.empty());
}

}  // namespace
}  // namespace hvsim::hv
