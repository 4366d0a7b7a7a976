// VmbusHost at VMBus 6.0 ("Copper", PROTOCOL.md §5.4, §5.5): feature negotiation in
// VERSION_RESPONSE2, OpenChannel2 with guest-specified signal parameters (the guest's port for
// guest->host signals, its SIEF flag for host->guest ones, conflicts refused), and
// MODIFY_CONNECTION moving or dropping the monitor pages; seeded garbage at 6.0.
#include <gtest/gtest.h>

#include <cstring>
#include <iterator>

#include "models/vmbus/vmbus_host.h"
#include "tests/unit/models/vmbus_host_fixture.h"

namespace hvsim::vmbus {
namespace {

constexpr uint32_t kCopperSet = kFeatureGuestSpecifiedSignalParameters | kFeatureChannelInterruptRedirection |
                                kFeatureModifyConnection;

class VmbusCopperTest : public VmbusHostTest {
 protected:
  // Connects at 6.0 on ws2025 asking for `features`, with monitor pages if given; returns the
  // response as the guest received it.
  Posted connect_copper(uint32_t features, uint64_t p2c = 0, uint64_t c2p = 0, const char* profile = "ws2025") {
    make(profile);
    InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
    ic.vmbus_version_requested = kVersionCopper;
    ic.target_vcpu = 0;
    ic.interrupt_page_or_sint = kVmbusSint | uint64_t{features} << 32;
    ic.monitor_page1 = p2c;
    ic.monitor_page2 = c2p;
    post_msg(ic, kMessageConnectionIdV5);
    std::vector<Posted> r = take();
    EXPECT_EQ(r.size(), 1u);
    post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
    take();
    return r.at(0);
  }
  // The one answer to an INITIATE_CONTACT at `version` asking for the Copper features, on a fresh
  // host of `profile`.
  Posted contact(const char* profile, uint32_t version) {
    make(profile);
    InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
    ic.vmbus_version_requested = version;
    ic.interrupt_page_or_sint = kVmbusSint | uint64_t{kCopperSet} << 32;
    post_msg(ic, kMessageConnectionIdV5);
    std::vector<Posted> out = take();
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? Posted{} : out[0];
  }
  // An OpenChannel2 for `relid` over an 8-page ring GPADL (created first), interrupts on `vp`.
  OpenChannel2 open2(uint32_t relid, uint32_t connection_id, uint16_t event_flag, VpIndex vp = 1,
                     uint32_t gpadl = 0xE1E10) {
    create_gpadl(gpadl, relid, kRingGpa / 4096, 8);
    OpenChannel2 o{};
    o.base = msg<OpenChannel>(MsgType::kOpenChannel);
    o.base.child_relid = relid;
    o.base.openid = relid;
    o.base.ringbuffer_gpadlhandle = gpadl;
    o.base.target_vp = vp;
    o.base.downstream_ringbuffer_pageoffset = 4;
    o.connection_id = connection_id;
    o.event_flag = event_flag;
    return o;
  }
  uint32_t open_status(const OpenChannel2& o) {
    post_msg(o);
    std::vector<Posted> r = take();
    for (const Posted& p : r)
      if (p.type() == static_cast<uint32_t>(MsgType::kOpenChannelResult)) return p.as<OpenChannelResult>().status;
    ADD_FAILURE() << "no OPENCHANNEL_RESULT";
    return 0;
  }
  uint8_t modify_connection(uint64_t p2c, uint64_t c2p) {
    ModifyConnection m = msg<ModifyConnection>(MsgType::kModifyConnection);
    m.parent_to_child_monitor_page = p2c;
    m.child_to_parent_monitor_page = c2p;
    post_msg(m);
    std::vector<Posted> r = take();
    EXPECT_EQ(r.size(), 1u);
    EXPECT_EQ(r.at(0).type(), static_cast<uint32_t>(MsgType::kModifyConnectionResponse));
    EXPECT_EQ(r.at(0).msg.size(), sizeof(ModifyConnectionResponse));
    return r.at(0).as<ModifyConnectionResponse>().connection_state;
  }
  // The host's echo of one packet written by the guest: signal on `port`, drain, send back.
  void guest_packet_and_signal(uint32_t port, VpIndex vp = 0) {
    uint8_t x[8] = {7};
    guest_write(x);
    ASSERT_EQ(host_->signal_event(vp, port, 0, now_), VmbusHost::kHvStatusSuccess);
    advance(kLatency);
  }
};

TEST_F(VmbusCopperTest, VersionResponse2GrantsTheRequestedFeaturesTheProfileSupports) {
  Posted r = connect_copper(kCopperSet | kFeatureClientId | kFeaturePauseResume | 0x80000000u);
  ASSERT_EQ(r.msg.size(), sizeof(VersionResponse2));
  VersionResponse2 v = r.as<VersionResponse2>();
  EXPECT_EQ(v.base.version_supported, 1);
  EXPECT_EQ(v.base.connection_state, 0);
  EXPECT_EQ(v.supported_features, kCopperSet) << "unknown and unsupported bits are dropped, not refused";
  EXPECT_EQ(host_->features(), kCopperSet);
  EXPECT_EQ(traced("\"features_requested\":\"0x8000002f\",\"features\":\"0x7\""), 1u);

  r = connect_copper(kFeatureModifyConnection);
  EXPECT_EQ(r.as<VersionResponse2>().supported_features, kFeatureModifyConnection);
  r = connect_copper(0);
  EXPECT_EQ(r.as<VersionResponse2>().supported_features, 0u) << "Linux outside a CVM asks for nothing";

  // Below 6.0 the same word is reserved: no features, a 16-byte response.
  EXPECT_EQ(contact("ws2025", kVersionWin10V53).msg.size(), sizeof(VersionResponse));
  EXPECT_TRUE(host_->connected());
  EXPECT_EQ(host_->features(), 0u);
}

TEST_F(VmbusCopperTest, GuestSpecifiedSignalParametersReplaceThePortAndTheFlag) {
  connect_copper(kCopperSet);
  const uint32_t relid = relid_of("a");
  ASSERT_EQ(open_status(open2(relid, 0x5000, 1000, 2)), kStatusSuccess);
  // Guest->host: the guest's port reaches the channel; the offer's port is no longer one.
  EXPECT_EQ(host_->signal_event(0, kEventConnectionBase + relid, 0, now_), VmbusHost::kHvStatusInvalidConnectionId);
  platform_.signals.clear();
  guest_packet_and_signal(0x5000);
  ASSERT_EQ(devices_[0]->packets.size(), 1u);
  // Host->guest: the guest's flag on the target VP, and the record names it.
  ChannelIo* io = devices_[0]->io();
  ASSERT_NE(io, nullptr);
  uint8_t x[8] = {1};
  ASSERT_TRUE(io->send(kPktDataInband, 0, 1, x));
  ASSERT_EQ(platform_.signals.size(), 1u);
  EXPECT_EQ(platform_.signals[0], (std::pair<VpIndex, uint32_t>{2, 1000}));
  EXPECT_EQ(traced("\"dir\":\"host->guest\",\"relid\":" + std::to_string(relid) +
                   ",\"old_target\":false,\"event_flag\":1000"),
            1u);

  // After a close the guest's port is gone and the offer's returns; a plain reopen uses the
  // offer's port and the relid's flag again.
  CloseChannel cc = msg<CloseChannel>(MsgType::kCloseChannel);
  cc.child_relid = relid;
  post_msg(cc);
  take();
  EXPECT_EQ(host_->signal_event(0, 0x5000, 0, now_), VmbusHost::kHvStatusInvalidConnectionId);
  for (uint64_t at = kRingGpa; at < kRingGpa + 8 * 4096; at += 8) mem_.put<uint64_t>(at, 0);  // fresh rings
  OpenChannel2 plain = open2(relid, kEventConnectionBase + relid, static_cast<uint16_t>(relid), 1, 0xE1E11);
  ASSERT_EQ(open_status(plain), kStatusSuccess);
  platform_.signals.clear();
  ASSERT_TRUE(devices_[0]->io()->send(kPktDataInband, 0, 2, x));
  ASSERT_EQ(platform_.signals.size(), 1u);
  EXPECT_EQ(platform_.signals[0], (std::pair<VpIndex, uint32_t>{1, relid}));
}

TEST_F(VmbusCopperTest, ConflictingPortsAndFlagsBeyondTheSiefAreRefused) {
  connect_copper(kCopperSet);
  const uint32_t a = relid_of("a"), b = relid_of("b"), c = relid_of("c");
  for (uint32_t port : {kMessageConnectionId, kMessageConnectionIdV5})
    EXPECT_EQ(open_status(open2(a, port, 5)), kStatusUnsuccessful) << port;
  EXPECT_EQ(open_status(open2(a, 0x5000, 2048)), kStatusUnsuccessful);
  EXPECT_EQ(traced("OpenChannel2 event_flag beyond the 2048 SIEF flags"), 1u);
  // a takes b's offer port while b is closed; b's plain open then conflicts, and so does a second
  // channel asking for a's port.
  ASSERT_EQ(open_status(open2(a, kEventConnectionBase + b, 5, 1, 0xE1E20)), kStatusSuccess);
  EXPECT_EQ(open_status(open2(b, kEventConnectionBase + b, static_cast<uint16_t>(b), 1, 0xE1E21)), kStatusUnsuccessful);
  EXPECT_EQ(open_status(open2(c, kEventConnectionBase + b, 6, 1, 0xE1E22)), kStatusUnsuccessful);
  EXPECT_EQ(traced("the channel's connection id is another open channel's OpenChannel2 port"), 2u);
  // A port in the offer range of an open channel that kept its offer port is refused too.
  ASSERT_EQ(open_status(open2(c, 0x6000, 6, 1, 0xE1E23)), kStatusSuccess);
  EXPECT_EQ(host_->signal_event(0, kEventConnectionBase + b, 0, now_), VmbusHost::kHvStatusSuccess)
      << "b's offer port is a's while a is open";
  EXPECT_EQ(host_->channel(a)->state, ChannelState::kOpen);
}

TEST_F(VmbusCopperTest, OpenChannel2IsRequiredOnceNegotiatedAndIgnoredOtherwise) {
  connect_copper(kFeatureChannelInterruptRedirection);
  const uint32_t relid = relid_of("a");
  open_channel(relid);  // the 148-byte OPENCHANNEL
  for (const Posted& p : take())
    EXPECT_NE(p.type(), static_cast<uint32_t>(MsgType::kOpenChannelResult)) << "unparseable: no answer";
  EXPECT_EQ(traced("OPENCHANNEL shorter than the OpenChannel2 this connection negotiated"), 1u);
  // Redirection alone: the signal parameters in the message are ignored.
  OpenChannel2 o = open2(relid, 0x5000, 1000, 1, 0xE1E11);
  o.flags = 1;  // redirect: no effect on a root host
  ASSERT_EQ(open_status(o), kStatusSuccess);
  EXPECT_EQ(host_->signal_event(0, 0x5000, 0, now_), VmbusHost::kHvStatusInvalidConnectionId);
  EXPECT_EQ(host_->signal_event(0, kEventConnectionBase + relid, 0, now_), VmbusHost::kHvStatusSuccess);

  // Without either feature a 156-byte OPENCHANNEL is an OPENCHANNEL with 8 bytes to spare.
  connect_copper(0);
  ASSERT_EQ(open_status(open2(relid_of("a"), 0x5000, 1000)), kStatusSuccess);
  EXPECT_EQ(host_->signal_event(0, kEventConnectionBase + relid_of("a"), 0, now_), VmbusHost::kHvStatusSuccess);
}

TEST_F(VmbusCopperTest, ModifyConnectionMovesAndDropsTheMonitorPages) {
  constexpr uint64_t kP2c = 0x30000, kC2p = 0x31000, kP2cNew = 0x40000, kC2pNew = 0x41000;
  connect_copper(kCopperSet, kP2c, kC2p);
  const Channel* a = host_->channel_of("a");
  ASSERT_TRUE(a->monitor_id.has_value());
  const uint8_t id = *a->monitor_id;
  const unsigned g = id / 32, bit = id % 32;

  EXPECT_EQ(modify_connection(kP2cNew, 0), 2) << "one page alone";
  EXPECT_EQ(modify_connection(kP2cNew, kP2cNew), 2) << "the same page twice";
  EXPECT_EQ(modify_connection(kP2cNew, 0x7fff0000), 2) << "beyond RAM";
  ASSERT_EQ(modify_connection(kP2cNew, kC2pNew), 0);
  // The new child->parent page describes the ids the offers carried.
  EXPECT_TRUE(mem_.get<uint32_t>(kC2pNew + MonitorPages::kTriggerStateOffset) & (1u << g));
  EXPECT_EQ(mem_.get<uint32_t>(kC2pNew + MonitorPages::kParameterOffset + 8 * id), a->connection_id());
  EXPECT_EQ(traced("\"state\":\"connection_modified\""), 1u);

  // The host now scans the new page for the channel's bit.
  ASSERT_EQ(open_status(open2(a->relid(), a->connection_id(), static_cast<uint16_t>(a->relid()))), kStatusSuccess);
  uint8_t hello[8] = {'h'};
  guest_write(hello);
  const uint64_t pending = kC2pNew + MonitorPages::kTriggerGroupOffset + 8 * g;
  mem_.put<uint32_t>(pending, 1u << bit);
  advance(VirtualTime::from_us(100));
  advance(kLatency);
  EXPECT_EQ(mem_.get<uint32_t>(pending), 0u);
  EXPECT_EQ(devices_[0]->packets.size(), 1u);
  // Not while a monitored channel is open.
  EXPECT_EQ(modify_connection(0, 0), 2);
  CloseChannel cc = msg<CloseChannel>(MsgType::kCloseChannel);
  cc.child_relid = a->relid();
  post_msg(cc);
  take();
  EXPECT_EQ(modify_connection(0, 0), 0) << "dropped";
  // Hot-added offers carry no monitor id without pages.
  ASSERT_TRUE(host_->rescind("b", now_));
  RelidReleased rr = msg<RelidReleased>(MsgType::kRelidReleased);
  rr.child_relid = relid_of("b");
  post_msg(rr);
  take();
  ASSERT_TRUE(host_->offer("b", now_));
  std::vector<Posted> offers = take();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].as<OfferChannel>().monitor_allocated, 0);
}

TEST_F(VmbusCopperTest, SixPointZeroMessagesWithoutTheirFeatureAreIgnored) {
  connect_copper(0);
  ModifyConnection m = msg<ModifyConnection>(MsgType::kModifyConnection);
  post_msg(m);
  post_msg(msg<MsgHeader>(MsgType::kPause));
  post_msg(msg<MsgHeader>(MsgType::kResume));
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(traced("MODIFY_CONNECTION without the modify_connection feature; ignored"), 1u);
  EXPECT_EQ(traced("PAUSE and RESUME need the pause_resume feature"), 2u);
  // ws2022 tops out at 5.3: 6.0 is refused with a plain VERSION_RESPONSE.
  Posted r = contact("ws2022", kVersionCopper);
  EXPECT_EQ(r.msg.size(), sizeof(VersionResponse));
  EXPECT_EQ(r.as<VersionResponse>().version_supported, 0);
}

TEST_F(VmbusCopperTest, SeededGarbageAt6_0NeverCrashesTheHost) {
  connect_copper(kCopperSet, 0x30000, 0x31000);
  RngStream rng(43, "vmbus-copper-garbage");
  const uint32_t ports[] = {1, 2, 4, 0x5000, 0x5001, kEventConnectionBase + 1, kEventConnectionBase + 2,
                            kEventConnectionBase + 3, 0xFFFFFFFF};
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> m(rng.below(241));
    for (uint8_t& b : m) b = static_cast<uint8_t>(rng.next_u64());
    if (m.size() >= 4 && rng.chance(3, 4)) m[0] = static_cast<uint8_t>(rng.below(31)), m[1] = m[2] = m[3] = 0;
    if (rng.chance(1, 4)) {  // a plausible OpenChannel2 on one of the three relids and a real GPADL
      OpenChannel2 o = open2(static_cast<uint32_t>(1 + rng.below(3)), ports[rng.below(std::size(ports))],
                             static_cast<uint16_t>(rng.below(2100)), static_cast<VpIndex>(rng.below(4)),
                             static_cast<uint32_t>(0xE1E10 + i));
      m.assign(reinterpret_cast<const uint8_t*>(&o), reinterpret_cast<const uint8_t*>(&o) + sizeof o);
    }
    host_->post_message(static_cast<VpIndex>(rng.below(4)), kMessageConnectionId, m, now_);
    mem_.put<uint32_t>(kRingGpa + 4096 * rng.below(8) + 4 * rng.below(4), static_cast<uint32_t>(rng.next_u64()));
    host_->signal_event(static_cast<VpIndex>(rng.below(4)), ports[rng.below(std::size(ports))], 0, now_);
    advance(kLatency);
    take();
  }
  EXPECT_GT(traced("vmbus.protocol_error"), 100u);
  // Still a host: a fresh 6.0 connection is granted as before.
  InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
  ic.vmbus_version_requested = kVersionCopper;
  ic.interrupt_page_or_sint = kVmbusSint | uint64_t{kCopperSet} << 32;
  post_msg(ic, kMessageConnectionIdV5);
  std::vector<Posted> out = take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().as<VersionResponse2>().supported_features, kCopperSet);
}

}  // namespace
}  // namespace hvsim::vmbus
