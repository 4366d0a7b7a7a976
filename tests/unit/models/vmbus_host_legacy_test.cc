// VmbusHost below VMBus 2.4 (0.13 WS2008, 1.1 Win7; PROTOCOL.md §5.2, §5.9): the shared interrupt
// page of INITIATE_CONTACT in both directions, the offer's event connection per version, the
// connection VP for every channel, no sub-channels, no UNLOAD at 0.13, and bad interrupt pages.
#include <gtest/gtest.h>

#include <cstring>

#include "models/vmbus/vmbus_host.h"
#include "tests/unit/models/vmbus_host_fixture.h"

namespace hvsim::vmbus {
namespace {

constexpr uint64_t kGuestToHostHalf = kInterruptPageGpa + InterruptPage::kHalfBytes;

bool bit_set(test::FlatMemory& mem, uint64_t base, uint32_t bit) {
  return (mem.get<uint8_t>(base + bit / 8) >> (bit % 8)) & 1;
}

void set_bit(test::FlatMemory& mem, uint64_t base, uint32_t bit) {
  mem.put<uint8_t>(base + bit / 8, static_cast<uint8_t>(mem.get<uint8_t>(base + bit / 8) | (1u << (bit % 8))));
}

class VmbusLegacyTest : public VmbusHostTest {
 protected:
  // Connects at `version` asking for VP `target`, requests offers, and returns the offers.
  std::vector<OfferChannel> connect_and_offer(uint32_t version, uint32_t target = 1) {
    for (uint64_t a = kInterruptPageGpa; a < kInterruptPageGpa + 4096; a += 8) mem_.put<uint64_t>(a, 0);
    connect(version, target);
    std::vector<Posted> r = take();
    EXPECT_EQ(r.size(), 1u);
    EXPECT_EQ(r.at(0).as<VersionResponse>().version_supported, 1);
    EXPECT_EQ(r.at(0).vp, 0u) << "below 3.0 the host answers on VP 0";
    post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
    std::vector<OfferChannel> offers;
    for (const Posted& p : take())
      if (p.type() == static_cast<uint32_t>(MsgType::kOfferChannel)) offers.push_back(p.as<OfferChannel>());
    return offers;
  }
};

TEST_F(VmbusLegacyTest, EveryProfileAccepts1_1And0_13OnConnectionId1) {
  for (const char* profile : {"ws2012", "ws2016", "ws2019", "ws2022", "ws2025"}) {
    for (uint32_t v : {kVersionWin7, kVersionWs2008}) {
      make(profile);
      connect_and_offer(v);
      EXPECT_TRUE(host_->connected()) << profile << " " << version_name(v);
      EXPECT_EQ(host_->version(), v);
    }
  }
}

TEST_F(VmbusLegacyTest, OffersAt0_13ShareConnectionId2AndAt1_1HaveTheirOwn) {
  make();
  for (const OfferChannel& o : connect_and_offer(kVersionWs2008)) {
    EXPECT_EQ(o.is_dedicated_interrupt, 0);
    EXPECT_EQ(o.connection_id, kLegacyEventConnectionId);
  }
  make();
  for (const OfferChannel& o : connect_and_offer(kVersionWin7)) {
    EXPECT_EQ(o.is_dedicated_interrupt, 1);
    EXPECT_EQ(o.connection_id, kEventConnectionBase + o.child_relid);
  }
}

TEST_F(VmbusLegacyTest, HostInterruptsSetThePageBitAndFlag0OnTheConnectionVp) {
  for (uint32_t v : {kVersionWin7, kVersionWs2008}) {
    make();
    connect_and_offer(v, 2);
    uint32_t relid = relid_of("b");
    open_channel(relid, 3);  // target_vp is ignored below 2.4
    EXPECT_EQ(take().back().as<OpenChannelResult>().status, kStatusSuccess);
    ChannelIo* io = devices_[1]->io();
    ASSERT_NE(io, nullptr);
    uint8_t x[8] = {1};
    platform_.signals.clear();
    const size_t traced_before = traced("\"via\":\"interrupt_page\"");  // the tracer outlives make()
    EXPECT_TRUE(io->send(kPktDataInband, 0, 1, x));
    EXPECT_TRUE(io->send(kPktDataInband, 0, 2, x));
    ASSERT_EQ(platform_.signals.size(), 1u) << "empty -> non-empty only, as at 2.4+";
    EXPECT_EQ(platform_.signals[0], (std::pair<VpIndex, uint32_t>{0, 0})) << "flag 0 on VP 0, not relid on VP 3";
    EXPECT_TRUE(bit_set(mem_, kInterruptPageGpa, relid));
    for (uint32_t other = 0; other < 64; ++other) {
      if (other == relid) continue;
      EXPECT_FALSE(bit_set(mem_, kInterruptPageGpa, other)) << other;
    }
    EXPECT_EQ(traced("\"via\":\"interrupt_page\"") - traced_before, 1u);
  }
}

TEST_F(VmbusLegacyTest, GuestSignalsOnConnectionId2AreFoundInTheSecondHalf) {
  make();
  connect_and_offer(kVersionWs2008);
  uint32_t relid = relid_of("a");
  open_channel(relid);
  uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};
  guest_write(hello);
  set_bit(mem_, kGuestToHostHalf, relid);
  EXPECT_EQ(host_->signal_event(1, kLegacyEventConnectionId, 0, now_), VmbusHost::kHvStatusSuccess);
  EXPECT_FALSE(bit_set(mem_, kGuestToHostHalf, relid)) << "the host consumed the bit";
  EXPECT_EQ(traced("\"via\":\"interrupt_page\",\"necessary\""), 0u);
  EXPECT_EQ(traced("\"necessary\":true,\"via\":\"interrupt_page\""), 1u);
  advance(kLatency);
  ASSERT_EQ(devices_[0]->packets.size(), 1u);
  EXPECT_EQ(std::memcmp(devices_[0]->packets[0].data(), hello, 5), 0);
  EXPECT_EQ(traced("vmbus.protocol_error"), 0u);

  // A signal with no bit set, and bits for relid 0, an unknown relid and beyond 2047: traced,
  // cleared, and nothing reaches a channel.
  EXPECT_EQ(host_->signal_event(1, kLegacyEventConnectionId, 0, now_), VmbusHost::kHvStatusSuccess);
  EXPECT_EQ(traced("no interrupt page bit set"), 1u);
  set_bit(mem_, kGuestToHostHalf, 0);
  set_bit(mem_, kGuestToHostHalf, 77);
  set_bit(mem_, kGuestToHostHalf, 5000);
  EXPECT_EQ(host_->signal_event(1, kLegacyEventConnectionId, 0, now_), VmbusHost::kHvStatusSuccess);
  EXPECT_EQ(traced("relid 0 or beyond 2047"), 1u);
  EXPECT_EQ(traced("an unknown relid"), 1u);
  for (uint32_t b : {0u, 77u, 5000u}) EXPECT_FALSE(bit_set(mem_, kGuestToHostHalf, b)) << b;
  advance(kLatency);
  EXPECT_EQ(devices_[0]->packets.size(), 1u);
}

TEST_F(VmbusLegacyTest, ConnectionId2IsNoPortFrom2_4On) {
  make();
  connect_and_offer(kVersionWin7);
  uint32_t relid = relid_of("a");
  open_channel(relid);
  EXPECT_EQ(signal(relid), VmbusHost::kHvStatusSuccess) << "1.1: the offer's own connection id";
  make();
  connect(kVersionWin8);
  EXPECT_EQ(host_->signal_event(0, kLegacyEventConnectionId, 0, now_), VmbusHost::kHvStatusInvalidConnectionId);
}

TEST_F(VmbusLegacyTest, AnUnusableInterruptPageFailsTheConnectionOnlyBelow2_4) {
  for (uint64_t page : {uint64_t{0}, kInterruptPageGpa + 8, uint64_t{1} << 40}) {
    make();
    InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
    ic.vmbus_version_requested = kVersionWin7;
    ic.interrupt_page_or_sint = page;
    post_msg(ic);
    auto r = take().at(0).as<VersionResponse>();
    EXPECT_EQ(r.version_supported, 1) << std::hex << page;
    EXPECT_EQ(r.connection_state, 2) << std::hex << page;
    EXPECT_FALSE(host_->connected());
    ic.vmbus_version_requested = kVersionWin8;  // 2.4 ignores the field
    post_msg(ic);
    EXPECT_EQ(take().at(0).as<VersionResponse>().connection_state, 0) << std::hex << page;
    EXPECT_TRUE(host_->connected());
  }
}

TEST_F(VmbusLegacyTest, UnloadExistsFrom1_1AndSubChannelsFrom2_4) {
  make();
  devices_[0]->desc_.sub_channels = 2;
  connect_and_offer(kVersionWs2008);
  open_channel(relid_of("a"));
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 2u) << "GPADL_CREATED and OPENCHANNEL_RESULT, no sub-channel offers";
  post_msg(msg<MsgHeader>(MsgType::kUnload));
  EXPECT_TRUE(take().empty()) << "no UNLOAD_RESPONSE at 0.13";
  EXPECT_TRUE(host_->connected());
  EXPECT_EQ(traced("UNLOAD at version 0.13"), 1u);

  make();
  connect_and_offer(kVersionWin7);
  post_msg(msg<MsgHeader>(MsgType::kUnload));
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), static_cast<uint32_t>(MsgType::kUnloadResponse));
  EXPECT_FALSE(host_->connected());
}

}  // namespace
}  // namespace hvsim::vmbus
