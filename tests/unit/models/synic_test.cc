#include "models/hv/synic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace hvsim::hv {
namespace {

constexpr VpIndex kVp = 3;
constexpr uint8_t kVec = 0xF3;

class RecordingSink final : public InterruptSink {
 public:
  void request_interrupt(VpIndex vp, uint8_t vector) override { requests.emplace_back(vp, vector); }
  std::vector<std::pair<VpIndex, uint8_t>> requests;
};

VirtualTime at(uint64_t us) { return VirtualTime::from_us(us); }

HvMessage make_message(uint32_t type, uint8_t size, uint8_t fill) {
  HvMessage m{};
  m.header.message_type = type;
  m.header.payload_size = size;
  m.header.sender = 0x1234;
  std::memset(m.payload, fill, size);
  return m;
}

size_t count_records(const Tracer& t, const std::string& name) {
  const std::string key = "\"ev\":\"" + name + "\"";
  return static_cast<size_t>(std::count_if(t.captured().begin(), t.captured().end(),
                                           [&](const std::string& r) {
                                             return r.find(key) != std::string::npos;
                                           }));
}

class SynIcTest : public ::testing::Test {
 protected:
  SynIcTest() : synic(kVp, sink, tracer) {
    tracer.enable_capture();
    simp_page.fill(0);
    sief_page.fill(0);
  }

  // The Linux order: SIMP, SIEFP, SINTn, SCONTROL.
  void enable_all(uint64_t sint_bits = kVec) {
    OverlayPage p = synic.set_simp(0x10000 | kHvSynicPageEnable);
    ASSERT_TRUE(p.enabled);
    synic.attach_message_page(simp_page.data(), at(0));
    p = synic.set_siefp(0x11000 | kHvSynicPageEnable);
    ASSERT_TRUE(p.enabled);
    synic.attach_event_page(sief_page.data());
    for (unsigned n = 0; n < kHvSintCount; ++n) ASSERT_TRUE(synic.set_sint(n, sint_bits, at(0)));
    ASSERT_TRUE(synic.set_scontrol(kHvScontrolEnable, at(0)));
  }

  uint32_t slot_type(unsigned n) const {
    uint32_t t;
    std::memcpy(&t, simp_page.data() + n * kHvMessageSlotSize, 4);
    return t;
  }
  uint8_t slot_flags(unsigned n) const { return simp_page[n * kHvMessageSlotSize + 5]; }
  uint8_t slot_payload0(unsigned n) const { return simp_page[n * kHvMessageSlotSize + 16]; }
  // What Linux does after copying a message out: type = NONE.
  void guest_clear(unsigned n) { std::memset(simp_page.data() + n * kHvMessageSlotSize, 0, 4); }

  RecordingSink sink;
  Tracer tracer;
  SynIc synic;
  alignas(8) std::array<uint8_t, 4096> simp_page{};
  alignas(8) std::array<uint8_t, 4096> sief_page{};
};

TEST_F(SynIcTest, PowerOnValues) {
  EXPECT_EQ(synic.scontrol(), 0u);
  EXPECT_EQ(synic.sversion(), 1u);
  EXPECT_EQ(synic.simp(), 0u);
  EXPECT_EQ(synic.siefp(), 0u);
  EXPECT_EQ(synic.eom(), 0u);
  for (unsigned n = 0; n < kHvSintCount; ++n) EXPECT_EQ(synic.sint(n), 0x10000u);
  EXPECT_EQ(synic.sint(16), 0u);
}

TEST_F(SynIcTest, SintWriteRules) {
  EXPECT_FALSE(synic.set_sint(16, kVec, at(0)));
  EXPECT_FALSE(synic.set_sint(0, 15, at(0)));  // unmasked vector < 16: #GP
  EXPECT_EQ(synic.sint(0), kHvSintReset);
  EXPECT_FALSE(synic.set_sint(0, 0, at(0)));
  EXPECT_TRUE(synic.set_sint(0, kHvSintMasked, at(0)));  // masked vector 0 is fine
  EXPECT_TRUE(synic.set_sint(0, kHvSintMasked | 5, at(0)));
  EXPECT_TRUE(synic.set_sint(1, 16, at(0)));
  // RsvdP bits (15:8, 63:19) are accepted and read back.
  const uint64_t rsvdp = (1ull << 40) | (1ull << 9) | kHvSintAutoEoi | 0x40;
  EXPECT_TRUE(synic.set_sint(2, rsvdp, at(0)));
  EXPECT_EQ(synic.sint(2), rsvdp);
}

TEST_F(SynIcTest, ScontrolAndPageRegistersNeverFault) {
  EXPECT_TRUE(synic.set_scontrol(~0ull, at(0)));
  EXPECT_EQ(synic.scontrol(), ~0ull);
  OverlayPage p = synic.set_simp(0xABCDE000 | 0x7FE | 1);
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.gpa, 0xABCDE000u);
  EXPECT_EQ(synic.simp(), 0xABCDE7FFu);
  p = synic.set_siefp(0xFFFFFFFFFFFFF000ull);  // disabled, GPA kept
  EXPECT_FALSE(p.enabled);
  EXPECT_EQ(p.gpa, 0xFFFFFFFFFFFFF000ull);
  EXPECT_EQ(synic.siefp(), 0xFFFFFFFFFFFFF000ull);
}

TEST_F(SynIcTest, PostRejectedUnlessSynicAndPageAvailable) {
  const HvMessage m = make_message(1, 8, 0xAA);
  EXPECT_EQ(synic.post_message(2, m, at(1)), PostResult::kRejected);  // nothing enabled
  enable_all();
  ASSERT_TRUE(synic.set_scontrol(0, at(1)));
  EXPECT_EQ(synic.post_message(2, m, at(1)), PostResult::kRejected);  // SCONTROL off
  ASSERT_TRUE(synic.set_scontrol(1, at(1)));
  EXPECT_EQ(synic.post_message(16, m, at(1)), PostResult::kRejected);
  EXPECT_EQ(synic.post_message(2, make_message(HVMSG_NONE, 0, 0), at(1)), PostResult::kRejected);
  HvMessage big = m;
  big.header.payload_size = 241;
  EXPECT_EQ(synic.post_message(2, big, at(1)), PostResult::kRejected);
  // Moving the SIMP detaches the buffer until the machine attaches the new one.
  synic.set_simp(0x20000 | 1);
  EXPECT_EQ(synic.post_message(2, m, at(1)), PostResult::kRejected);
  synic.set_simp(0);
  synic.attach_message_page(simp_page.data(), at(1));  // ignored while SIMP is disabled
  EXPECT_EQ(synic.post_message(2, m, at(1)), PostResult::kRejected);
  EXPECT_TRUE(sink.requests.empty());
  EXPECT_EQ(slot_type(2), 0u);
}

TEST_F(SynIcTest, PostToFreeSlotCopiesAndInterrupts) {
  enable_all();
  const HvMessage m = make_message(1, 24, 0x5A);
  EXPECT_EQ(synic.post_message(2, m, at(5)), PostResult::kDelivered);
  EXPECT_EQ(slot_type(2), 1u);
  EXPECT_EQ(simp_page[2 * 256 + 4], 24);
  EXPECT_EQ(slot_flags(2), 0);
  uint64_t sender;
  std::memcpy(&sender, simp_page.data() + 2 * 256 + 8, 8);
  EXPECT_EQ(sender, 0x1234u);
  EXPECT_EQ(slot_payload0(2), 0x5A);
  ASSERT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(sink.requests[0], std::make_pair(kVp, kVec));
  EXPECT_EQ(count_records(tracer, "synic.post"), 1u);
}

TEST_F(SynIcTest, RewriteSlotOnlyWhileTheSlotStillHoldsTheMessage) {
  enable_all();
  const HvMessage m = make_message(1, 24, 0x5A);
  ASSERT_EQ(synic.post_message(2, m, at(1)), PostResult::kDelivered);
  std::span<const uint8_t> expected(m.payload, 24);
  const uint8_t evil[2] = {0xEE, 0xFF};
  EXPECT_FALSE(synic.rewrite_slot(2, 2, expected, 0, evil)) << "another message type";
  EXPECT_FALSE(synic.rewrite_slot(2, 1, expected, 23, evil)) << "beyond the payload";
  EXPECT_TRUE(synic.rewrite_slot(2, 1, expected, 4, evil));
  EXPECT_EQ(simp_page[2 * 256 + 16 + 4], 0xEE);
  EXPECT_EQ(simp_page[2 * 256 + 16 + 5], 0xFF);
  EXPECT_FALSE(synic.rewrite_slot(2, 1, expected, 0, evil)) << "the payload no longer matches";
  guest_clear(2);
  EXPECT_FALSE(synic.rewrite_slot(2, 1, std::span<const uint8_t>(simp_page.data() + 2 * 256 + 16, 24), 0, evil))
      << "the guest freed the slot";
}

TEST_F(SynIcTest, BusySlotQueuesSetsPendingAndEomRedeliversInOrder) {
  enable_all();
  EXPECT_EQ(synic.post_message(2, make_message(1, 8, 0xA1), at(1)), PostResult::kDelivered);
  EXPECT_EQ(synic.post_message(2, make_message(1, 8, 0xB2), at(2)), PostResult::kQueued);
  EXPECT_EQ(synic.post_message(2, make_message(1, 8, 0xC3), at(3)), PostResult::kQueued);
  EXPECT_EQ(slot_payload0(2), 0xA1);
  EXPECT_EQ(slot_flags(2), kHvMessageFlagPending);
  EXPECT_EQ(synic.queued(2), 2u);
  EXPECT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(count_records(tracer, "synic.slot_busy"), 2u);

  // EOM while the slot is still full delivers nothing.
  synic.set_eom(at(4));
  EXPECT_EQ(synic.queued(2), 2u);
  EXPECT_EQ(sink.requests.size(), 1u);

  guest_clear(2);
  synic.set_eom(at(5));
  EXPECT_EQ(slot_payload0(2), 0xB2);
  EXPECT_EQ(slot_flags(2), kHvMessageFlagPending);  // C still waits
  EXPECT_EQ(sink.requests.size(), 2u);

  guest_clear(2);
  synic.set_eom(at(6));
  EXPECT_EQ(slot_payload0(2), 0xC3);
  EXPECT_EQ(slot_flags(2), 0);
  EXPECT_EQ(synic.queued(2), 0u);
  EXPECT_EQ(sink.requests.size(), 3u);

  guest_clear(2);
  synic.set_eom(at(7));  // all queues empty: no-op
  EXPECT_EQ(slot_type(2), 0u);
  EXPECT_EQ(sink.requests.size(), 3u);
  EXPECT_EQ(count_records(tracer, "synic.eom"), 4u);
}

TEST_F(SynIcTest, ClearingASlotAloneDoesNotRedeliverButTheNextPostDoesInOrder) {
  enable_all();
  synic.post_message(4, make_message(1, 8, 0x01), at(1));
  synic.post_message(4, make_message(1, 8, 0x02), at(1));
  guest_clear(4);
  EXPECT_EQ(slot_type(4), 0u);  // no EOM yet: still empty
  // A new post rescans first: the older queued message takes the slot, the new one waits.
  EXPECT_EQ(synic.post_message(4, make_message(1, 8, 0x03), at(2)), PostResult::kQueued);
  EXPECT_EQ(slot_payload0(4), 0x02);
  EXPECT_EQ(slot_flags(4), kHvMessageFlagPending);
  guest_clear(4);
  synic.poll_pending(at(3));  // the APIC-EOI path
  EXPECT_EQ(slot_payload0(4), 0x03);
  EXPECT_EQ(slot_flags(4), 0);
}

TEST_F(SynIcTest, AllSixteenSintsHaveTheirOwnSlotAndVector) {
  enable_all();
  for (unsigned n = 0; n < kHvSintCount; ++n)
    ASSERT_TRUE(synic.set_sint(n, 0x30 + n, at(0)));
  for (unsigned n = 0; n < kHvSintCount; ++n)
    EXPECT_EQ(synic.post_message(n, make_message(1, 4, static_cast<uint8_t>(n + 1)), at(1)),
              PostResult::kDelivered);
  ASSERT_EQ(sink.requests.size(), kHvSintCount);
  for (unsigned n = 0; n < kHvSintCount; ++n) {
    EXPECT_EQ(slot_payload0(n), n + 1);
    EXPECT_EQ(sink.requests[n].second, 0x30 + n);
    EXPECT_EQ(synic.sint_for_vector(static_cast<uint8_t>(0x30 + n)), n);
  }
}

TEST_F(SynIcTest, MaskedSintGetsTheMessageAndTheInterruptOnUnmask) {
  enable_all(kHvSintMasked | kVec);
  EXPECT_EQ(synic.post_message(2, make_message(1, 8, 0x77), at(1)), PostResult::kDelivered);
  EXPECT_EQ(slot_payload0(2), 0x77);
  EXPECT_TRUE(sink.requests.empty());
  ASSERT_TRUE(synic.set_sint(2, kHvSintMasked | kVec, at(2)));  // still masked
  EXPECT_TRUE(sink.requests.empty());
  ASSERT_TRUE(synic.set_sint(2, kVec, at(3)));
  ASSERT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(sink.requests[0].second, kVec);
  ASSERT_TRUE(synic.set_sint(2, kVec, at(4)));  // already unmasked: nothing new
  EXPECT_EQ(sink.requests.size(), 1u);
}

TEST_F(SynIcTest, UnmaskDeliversQueuedMessageWhoseSlotWasFreed) {
  enable_all(kHvSintMasked | kVec);
  synic.post_message(5, make_message(1, 8, 0x01), at(1));
  synic.post_message(5, make_message(1, 8, 0x02), at(1));
  guest_clear(5);
  sink.requests.clear();
  ASSERT_TRUE(synic.set_sint(5, 0x55, at(2)));
  EXPECT_EQ(slot_payload0(5), 0x02);
  // One for the message delivered while masked, one for the queued one just delivered.
  EXPECT_EQ(sink.requests.size(), 2u);
}

TEST_F(SynIcTest, PollingModeDeliversWithoutInterrupt) {
  enable_all(kHvSintPolling | kVec);
  EXPECT_EQ(synic.post_message(2, make_message(1, 8, 0x11), at(1)), PostResult::kDelivered);
  EXPECT_TRUE(synic.signal_event(2, 9, at(1)));
  EXPECT_TRUE(sink.requests.empty());
  EXPECT_EQ(synic.sint_for_vector(kVec), std::nullopt);
}

TEST_F(SynIcTest, EventFlagSetOnceInterruptsOnce) {
  enable_all();
  EXPECT_TRUE(synic.signal_event(3, 5, at(1)));
  EXPECT_EQ(sief_page[3 * 256 + 0], 1u << 5);
  EXPECT_EQ(sink.requests.size(), 1u);
  EXPECT_FALSE(synic.signal_event(3, 5, at(2)));  // coalesced
  EXPECT_EQ(sink.requests.size(), 1u);
  sief_page[3 * 256] = 0;  // guest test-and-clear
  EXPECT_TRUE(synic.signal_event(3, 5, at(3)));
  EXPECT_EQ(sink.requests.size(), 2u);
  EXPECT_TRUE(synic.signal_event(3, 2047, at(4)));
  EXPECT_EQ(sief_page[3 * 256 + 255], 0x80);
  EXPECT_EQ(count_records(tracer, "synic.event"), 3u);
}

TEST_F(SynIcTest, EventErrorsHaveNoEffect) {
  EXPECT_FALSE(synic.signal_event(0, 1, at(0)));  // SynIC disabled, no page
  enable_all();
  std::array<uint8_t, 4096> before = sief_page;
  EXPECT_FALSE(synic.signal_event(16, 1, at(1)));
  EXPECT_FALSE(synic.signal_event(0, 2048, at(1)));
  ASSERT_TRUE(synic.set_scontrol(0, at(1)));
  EXPECT_FALSE(synic.signal_event(0, 1, at(1)));
  ASSERT_TRUE(synic.set_scontrol(1, at(1)));
  synic.set_siefp(0);  // disabled: detached
  EXPECT_FALSE(synic.signal_event(0, 1, at(1)));
  EXPECT_EQ(sief_page, before);
  EXPECT_TRUE(sink.requests.empty());
}

TEST_F(SynIcTest, EventOnMaskedSintInterruptsOnUnmask) {
  enable_all(kHvSintMasked | kVec);
  EXPECT_TRUE(synic.signal_event(2, 40, at(1)));
  EXPECT_EQ(sief_page[2 * 256 + 5], 1u);
  EXPECT_TRUE(sink.requests.empty());
  ASSERT_TRUE(synic.set_sint(2, kVec, at(2)));
  EXPECT_EQ(sink.requests.size(), 1u);
}

TEST_F(SynIcTest, QueueIsBounded) {
  enable_all();
  ASSERT_EQ(synic.post_message(7, make_message(1, 8, 0), at(1)), PostResult::kDelivered);
  for (size_t i = 0; i < SynIc::kMessageQueueDepth; ++i)
    ASSERT_EQ(synic.post_message(7, make_message(1, 8, static_cast<uint8_t>(i)), at(1)),
              PostResult::kQueued);
  EXPECT_EQ(synic.post_message(7, make_message(1, 8, 0xEE), at(1)), PostResult::kQueueFull);
  EXPECT_EQ(synic.queued(7), SynIc::kMessageQueueDepth);
  // Other SINTs are unaffected.
  EXPECT_EQ(synic.post_message(8, make_message(1, 8, 0), at(1)), PostResult::kDelivered);
  guest_clear(7);
  synic.set_eom(at(2));
  EXPECT_EQ(synic.post_message(7, make_message(1, 8, 0xEF), at(3)), PostResult::kQueued);
}

TEST_F(SynIcTest, TryPostNeverQueuesAndTracesBusyOnce) {
  enable_all();
  synic.post_message(2, make_message(1, 8, 0x01), at(1));
  const HvMessage timer = make_message(HVMSG_TIMER_EXPIRED, 24, 0x99);
  EXPECT_EQ(synic.try_post_message(2, timer, at(2)), PostResult::kBusy);
  EXPECT_EQ(synic.try_post_message(2, timer, at(3)), PostResult::kBusy);
  EXPECT_EQ(synic.queued(2), 0u);
  EXPECT_EQ(slot_flags(2), kHvMessageFlagPending);
  EXPECT_EQ(count_records(tracer, "synic.slot_busy"), 1u);
  guest_clear(2);
  EXPECT_EQ(synic.try_post_message(2, timer, at(4)), PostResult::kDelivered);
  EXPECT_EQ(slot_type(2), HVMSG_TIMER_EXPIRED);
  EXPECT_EQ(synic.try_post_message(16, timer, at(4)), PostResult::kRejected);
}

TEST_F(SynIcTest, TryPostWaitsBehindQueuedMessages) {
  enable_all();
  synic.post_message(2, make_message(1, 8, 0x01), at(1));
  synic.post_message(2, make_message(1, 8, 0x02), at(1));
  guest_clear(2);
  const HvMessage timer = make_message(HVMSG_TIMER_EXPIRED, 24, 0x99);
  EXPECT_EQ(synic.try_post_message(2, timer, at(2)), PostResult::kBusy);
  EXPECT_EQ(slot_payload0(2), 0x02);
}

TEST_F(SynIcTest, EnablingScontrolAndAttachingThePageRetryQueues) {
  enable_all();
  synic.post_message(2, make_message(1, 8, 0x01), at(1));
  synic.post_message(2, make_message(1, 8, 0x02), at(1));
  ASSERT_TRUE(synic.set_scontrol(0, at(2)));
  guest_clear(2);
  synic.set_eom(at(2));  // disabled: stays queued (TLFS)
  EXPECT_EQ(synic.queued(2), 1u);
  ASSERT_TRUE(synic.set_scontrol(1, at(3)));
  EXPECT_EQ(slot_payload0(2), 0x02);

  synic.post_message(2, make_message(1, 8, 0x03), at(4));
  alignas(8) std::array<uint8_t, 4096> moved{};
  synic.set_simp(0x30000 | 1);
  synic.attach_message_page(moved.data(), at(5));
  EXPECT_EQ(moved[2 * 256 + 16], 0x03);
}

TEST_F(SynIcTest, AutoEoiAndVectorLookup) {
  enable_all();
  ASSERT_TRUE(synic.set_sint(2, kVec | kHvSintAutoEoi, at(0)));
  ASSERT_TRUE(synic.set_sint(0, kVec, at(0)));
  ASSERT_TRUE(synic.set_sint(0, kHvSintMasked | kVec, at(0)));
  EXPECT_TRUE(synic.auto_eoi(2));
  EXPECT_FALSE(synic.auto_eoi(1));
  EXPECT_FALSE(synic.auto_eoi(16));
  EXPECT_EQ(synic.sint_for_vector(kVec), 1u);  // lowest unmasked SINT with that vector
  EXPECT_EQ(synic.sint_for_vector(0x20), std::nullopt);
}

TEST_F(SynIcTest, ResetRestoresPowerOnState) {
  enable_all();
  synic.post_message(2, make_message(1, 8, 1), at(1));
  synic.post_message(2, make_message(1, 8, 2), at(1));
  synic.reset();
  RecordingSink other_sink;
  Tracer other_tracer;
  SynIc fresh(kVp, other_sink, other_tracer);
  EXPECT_EQ(synic.scontrol(), fresh.scontrol());
  EXPECT_EQ(synic.simp(), fresh.simp());
  EXPECT_EQ(synic.siefp(), fresh.siefp());
  for (unsigned n = 0; n < kHvSintCount; ++n) {
    EXPECT_EQ(synic.sint(n), fresh.sint(n));
    EXPECT_EQ(synic.queued(n), 0u);
  }
  // Buffers are detached: enabling registers alone does not make the SynIC accept messages.
  synic.set_simp(0x10000 | 1);
  ASSERT_TRUE(synic.set_sint(2, kVec, at(2)));
  ASSERT_TRUE(synic.set_scontrol(1, at(2)));
  EXPECT_EQ(synic.post_message(2, make_message(1, 8, 1), at(2)), PostResult::kRejected);
  EXPECT_FALSE(synic.signal_event(2, 1, at(2)));
}

}  // namespace
}  // namespace hvsim::hv
