// The scriptable test device (models/devices/test): echo, completion, push and the bounded queue
// over a full ring, driven through a recording ChannelIo with a packet capacity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "models/devices/test/device.h"
#include "tests/support/recording_channel_io.h"

namespace hvsim::devices {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr VirtualTime ms(uint64_t n) { return VirtualTime::from_ms(n); }

using FakeIo = test::RecordingChannelIo;

using test::guest_packet;

vmbus::DeviceDesc named(const char* name) {
  vmbus::DeviceDesc d;
  d.name = name;
  return d;
}

const Bytes kPayload = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

TEST(DevicesTestDevice, EchoesInbandPacketsWithTheirTransactionId) {
  FakeIo io;
  TestDevice dev(named("t"), {});
  dev.opened(io, ms(0));
  dev.packet(guest_packet(vmbus::kPktDataInband, 0, 0x1234, kPayload), ms(1));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].type, vmbus::kPktDataInband);
  EXPECT_EQ(io.sent[0].flags, 0);
  EXPECT_EQ(io.sent[0].trans_id, 0x1234u);
  EXPECT_EQ(io.sent[0].payload, kPayload);
  EXPECT_EQ(dev.packets_echoed(), 1u);
  EXPECT_EQ(dev.packets_pushed(), 0u);
  EXPECT_FALSE(dev.poll(ms(1)).has_value());
}

TEST(DevicesTestDevice, CompletionRequestedIsAnsweredWithACompletion) {
  FakeIo io;
  TestDevice dev(named("t"), {});
  dev.opened(io, ms(0));
  dev.packet(guest_packet(vmbus::kPktDataInband, vmbus::kPacketFlagCompletionRequested, 77, kPayload), ms(1));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].type, vmbus::kPktComp);
  EXPECT_EQ(io.sent[0].flags, 0);
  EXPECT_EQ(io.sent[0].trans_id, 77u);
  EXPECT_EQ(io.sent[0].payload, kPayload);
  EXPECT_EQ(dev.packets_echoed(), 1u);
}

TEST(DevicesTestDevice, SubChannelsEchoOnTheirOwnRingAndDropWhenFull) {
  FakeIo primary, sub;
  sub.sub_index = 1;
  TestDevice dev(named("t"), {});
  dev.opened(primary, ms(0));
  dev.sub_channel_opened(sub, ms(0));
  dev.sub_channel_packet(sub, guest_packet(vmbus::kPktDataInband, 0, 41, kPayload), ms(1));
  dev.sub_channel_packet(sub, guest_packet(vmbus::kPktDataInband, vmbus::kPacketFlagCompletionRequested, 42, kPayload), ms(1));
  ASSERT_EQ(sub.sent.size(), 2u);
  EXPECT_TRUE(primary.sent.empty()) << "echoes go back on the sub-channel they came from";
  EXPECT_EQ(sub.sent[0].trans_id, 41u);
  EXPECT_EQ(sub.sent[1].type, vmbus::kPktComp);
  sub.room = 0;
  dev.sub_channel_packet(sub, guest_packet(vmbus::kPktDataInband, 0, 43, kPayload), ms(2));
  EXPECT_EQ(sub.count("test.sub_ring_full"), 1u);
  EXPECT_EQ(dev.packets_echoed(), 2u);
  EXPECT_EQ(dev.queued(), 0u) << "sub-channels have no queue";
}

TEST(DevicesTestDevice, OtherPacketTypesAreIgnored) {
  FakeIo io;
  TestDevice dev(named("t"), {});
  dev.opened(io, ms(0));
  dev.packet(guest_packet(vmbus::kPktComp, 0, 5, kPayload), ms(1));
  dev.packet(guest_packet(vmbus::kPktDataUsingGpaDirect, 0, 6, kPayload), ms(1));
  EXPECT_TRUE(io.sent.empty());
  EXPECT_EQ(io.count("test.ignored"), 2u);
  EXPECT_EQ(dev.packets_echoed(), 0u);
}

TEST(DevicesTestDevice, PushBeforeOpenIsSentAtOpenWithTransactionIdZero) {
  TestDevice dev(named("t"), {});
  EXPECT_TRUE(dev.push({9, 9, 9}, ms(0)));
  EXPECT_EQ(dev.queued(), 1u);
  FakeIo io;
  dev.opened(io, ms(1));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].type, vmbus::kPktDataInband);
  EXPECT_EQ(io.sent[0].trans_id, 0u);
  EXPECT_EQ(io.sent[0].payload, (Bytes{9, 9, 9}));
  EXPECT_TRUE(dev.push({4}, ms(2)));  // open: sent at once
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(dev.packets_pushed(), 2u);
  EXPECT_EQ(dev.queued(), 0u);
}

TEST(DevicesTestDevice, FullRingQueuesInOrderAndSendsOnSpaceAvailable) {
  FakeIo io;
  TestDevice dev(named("t"), {});
  dev.opened(io, ms(0));
  io.room = 0;
  dev.packet(guest_packet(vmbus::kPktDataInband, 0, 1, {1}), ms(1));
  dev.push({2}, ms(1));
  dev.packet(guest_packet(vmbus::kPktDataInband, vmbus::kPacketFlagCompletionRequested, 3, {3}), ms(1));
  EXPECT_TRUE(io.sent.empty());
  EXPECT_EQ(dev.queued(), 3u);
  EXPECT_EQ(io.count("test.ring_full"), 1u);  // once per stall

  io.room = 2;
  dev.space_available(ms(2));
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[0].trans_id, 1u);
  EXPECT_EQ(io.sent[1].trans_id, 0u);
  EXPECT_EQ(dev.queued(), 1u);
  EXPECT_EQ(io.count("test.ring_full"), 2u);  // stalled again on the third

  io.room = 10;
  dev.space_available(ms(3));
  ASSERT_EQ(io.sent.size(), 3u);
  EXPECT_EQ(io.sent[2].type, vmbus::kPktComp);
  EXPECT_EQ(io.sent[2].trans_id, 3u);
  EXPECT_EQ(dev.packets_echoed(), 2u);
  EXPECT_EQ(dev.packets_pushed(), 1u);
}

TEST(DevicesTestDevice, QueueIsBoundedAndOverflowIsDropped) {
  FakeIo io;
  TestDevice dev(named("t"), TestParams{2});
  dev.opened(io, ms(0));
  io.room = 0;
  EXPECT_TRUE(dev.push({1}, ms(1)));
  dev.packet(guest_packet(vmbus::kPktDataInband, 0, 2, {2}), ms(1));
  EXPECT_FALSE(dev.push({3}, ms(1)));
  dev.packet(guest_packet(vmbus::kPktDataInband, 0, 4, {4}), ms(1));
  EXPECT_EQ(dev.queued(), 2u);
  EXPECT_EQ(io.count("test.queue_full"), 2u);
  io.room = 10;
  dev.space_available(ms(2));
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[0].payload, (Bytes{1}));
  // A ring packet carries no exact length: the echo is the payload as read, padding included.
  EXPECT_EQ(io.sent[1].payload, (Bytes{2, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(DevicesTestDevice, CloseDropsQueuedEchoesButKeepsPushes) {
  FakeIo io;
  TestDevice dev(named("t"), {});
  dev.opened(io, ms(0));
  io.room = 0;
  dev.packet(guest_packet(vmbus::kPktDataInband, 0, 1, {1}), ms(1));
  dev.push({2}, ms(1));
  dev.closed(ms(2));
  EXPECT_EQ(dev.queued(), 1u);
  dev.packet(guest_packet(vmbus::kPktDataInband, 0, 5, {5}), ms(3));  // closed: nothing to answer on
  EXPECT_EQ(dev.queued(), 1u);
  FakeIo io2;
  dev.opened(io2, ms(4));
  ASSERT_EQ(io2.sent.size(), 1u);
  EXPECT_EQ(io2.sent[0].trans_id, 0u);
  EXPECT_EQ(io2.sent[0].payload, (Bytes{2}));
}

}  // namespace
}  // namespace hvsim::devices
