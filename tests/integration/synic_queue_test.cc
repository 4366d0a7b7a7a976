// The SynIC message queue at machine level (PROTOCOL.md §4.4): host events post messages to a real
// guest (guest/tests/hv/hv_msg_queue.c) while its slot is busy. One message fits the slot and 16
// wait in the SINT's FIFO (SynIc::kMessageQueueDepth, the TLFS port's 16 buffers); more are
// refused with kQueueFull (what PostMessage answers as HV_STATUS_INSUFFICIENT_BUFFERS; the VMBus
// bridge keeps and retries them). The guest sees them in order, one per EOM, with msg_pending
// while more wait, and a message posted after the queue drained is delivered at once.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "models/hv/synic.h"
#include "sim/machine/machine.h"
#include "tests/support/guests.h"

namespace hvsim {
namespace {

constexpr unsigned kSint = 5;          // hv_msg_queue.c QUEUE_SINT
constexpr uint64_t kBurst = 20;        // posted at 2 ms while the guest leaves its slot alone
constexpr uint64_t kLateSeq = 100;     // posted at 6 ms, after the guest drained the queue

size_t count(const std::vector<std::string>& trace, std::string_view needle) {
  size_t n = 0;
  for (const std::string& l : trace) n += l.find(needle) != std::string::npos;
  return n;
}

TEST(SynicQueue, SixteenWaitBehindTheBusySlotAndArriveInOrderOnePerEom) {
  MachineParams p;
  p.guest = test::guest("hv_msg_queue");
  p.echo_console = false;
  p.vmbus_devices = "none";  // no other host producer on the SynIC
  p.max_time = VirtualTime::from_ms(50);
  Machine m(p);
  m.tracer().enable_capture();
  auto post = [&m](uint64_t seq) {
    hv::HvMessage msg{};
    msg.header.message_type = 1;
    msg.header.payload_size = sizeof seq;
    std::memcpy(msg.payload, &seq, sizeof seq);
    return m.hv().partition().synic(0).post_message(kSint, msg, m.now());
  };
  std::vector<hv::PostResult> burst;
  std::optional<hv::PostResult> late;
  size_t queued_after_burst = 0;
  m.events().schedule(VirtualTime::from_ms(2), EventPriority::kHost, [&] {
    for (uint64_t seq = 0; seq < kBurst; ++seq) burst.push_back(post(seq));
    queued_after_burst = m.hv().partition().synic(0).queued(kSint);
  });
  m.events().schedule(VirtualTime::from_ms(6), EventPriority::kHost, [&] { late = post(kLateSeq); });

  Verdict v = m.run();
  const std::string& out = m.console_output();
  ASSERT_EQ(v.kind, Verdict::Kind::kExit) << v.message << "\n" << out;
  EXPECT_EQ(v.exit_code, 0u) << out;

  ASSERT_EQ(burst.size(), kBurst);
  EXPECT_EQ(burst[0], hv::PostResult::kDelivered) << "the slot was free";
  for (uint64_t i = 1; i <= hv::SynIc::kMessageQueueDepth; ++i) EXPECT_EQ(burst[i], hv::PostResult::kQueued) << i;
  for (uint64_t i = hv::SynIc::kMessageQueueDepth + 1; i < kBurst; ++i)
    EXPECT_EQ(burst[i], hv::PostResult::kQueueFull) << i;
  EXPECT_EQ(queued_after_burst, hv::SynIc::kMessageQueueDepth);
  EXPECT_EQ(late, hv::PostResult::kDelivered) << "the drained queue takes messages again";
  EXPECT_EQ(m.hv().partition().synic(0).queued(kSint), 0u);

  EXPECT_NE(out.find("# seq: 0p 1p 2p 3p 4p 5p 6p 7p 8p 9p 10p 11p 12p 13p 14p 15p 16 100\n"), std::string::npos) << out;
  const auto& trace = m.tracer().captured();
  EXPECT_EQ(count(trace, "\"result\":\"full\""), kBurst - 1 - hv::SynIc::kMessageQueueDepth);
  EXPECT_EQ(count(trace, "\"result\":\"queued\""), hv::SynIc::kMessageQueueDepth);
}

// hvsim retries queued messages at the end of every round (SynIc::poll_pending), also a round in
// which the guest made no exit that touches a model (Machine::needs_poll): a slot freed by a plain
// store, with no EOM, takes the queued message before the halted guest is left asleep for good.
TEST(SynicQueue, ASlotFreedByAStoreIsRefilledBeforeTheGuestSleeps) {
  MachineParams p;
  p.guest = test::guest("hv_msg_no_eom");
  p.echo_console = false;
  p.vmbus_devices = "none";
  p.max_time = VirtualTime::from_ms(50);
  Machine m(p);
  std::vector<hv::PostResult> posted;
  m.events().schedule(VirtualTime::from_ms(1), EventPriority::kHost, [&] {
    for (uint64_t seq = 0; seq < 2; ++seq) {
      hv::HvMessage msg{};
      msg.header.message_type = 1;
      msg.header.payload_size = sizeof seq;
      std::memcpy(msg.payload, &seq, sizeof seq);
      posted.push_back(m.hv().partition().synic(0).post_message(kSint, msg, m.now()));
    }
  });
  Verdict v = m.run();
  ASSERT_EQ(v.kind, Verdict::Kind::kExit) << v.message << "\n" << m.console_output();
  EXPECT_EQ(v.exit_code, 0u) << m.console_output();
  EXPECT_EQ(posted, (std::vector<hv::PostResult>{hv::PostResult::kDelivered, hv::PostResult::kQueued}));
  EXPECT_LT(m.now(), VirtualTime::from_ms(2)) << "message 1 came at once, not at a later wake-up";
}

}  // namespace
}  // namespace hvsim
