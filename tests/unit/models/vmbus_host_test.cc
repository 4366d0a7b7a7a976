// VmbusHost with a recording platform, a recording device and flat guest memory: the control
// protocol message by message (every version, every error path), ring signalling as the host
// sees it, retarget lag, rescind, unload/reconnect, throttling, and garbage input.
#include "models/vmbus/vmbus_host.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "sim/core/rng.h"
#include "tests/unit/models/vmbus_host_fixture.h"

namespace hvsim::vmbus {
namespace {

TEST_F(VmbusHostTest, EveryProfileVersionIsAcceptedOnItsConnectionId) {
  for (const char* profile : {"ws2012", "ws2012r2", "ws2016", "ws2019", "ws2022"}) {
    const hv::HostProfile& h = hv::host_profile(profile);
    for (uint32_t v : h.vmbus_versions) {
      make(profile);
      connect(v, 1);
      std::vector<Posted> out = take();
      ASSERT_EQ(out.size(), 1u) << profile << " " << version_name(v);
      auto r = out[0].as<VersionResponse>();
      EXPECT_EQ(out[0].type(), static_cast<uint32_t>(MsgType::kVersionResponse));
      EXPECT_EQ(r.version_supported, 1) << profile << " " << version_name(v);
      EXPECT_EQ(r.msg_conn_id, v >= kVersionWin10V5 ? kMessageConnectionId : v);
      EXPECT_EQ(out[0].vp, v >= kVersionWin8_1 ? 1u : 0u) << "target_vcpu honoured from 3.0";
      EXPECT_EQ(out[0].sint, kVmbusSint);
      EXPECT_TRUE(host_->connected());
      EXPECT_EQ(host_->version(), v);
    }
  }
}

TEST_F(VmbusHostTest, ConnectionId4ExistsOnlyWhenTheProfileHas5_0) {
  make("ws2016");
  EXPECT_EQ(host_->message_connection_ids(), std::vector<uint32_t>{kMessageConnectionId});
  make("ws2019");
  EXPECT_EQ(host_->message_connection_ids(), (std::vector<uint32_t>{kMessageConnectionId, kMessageConnectionIdV5}));
}

TEST_F(VmbusHostTest, UnsupportedVersionsAndBadV5RequestsAreRefused) {
  make("ws2019");
  connect(kVersionWin10V53);  // 5.3 is not in ws2019
  auto r = take().at(0).as<VersionResponse>();
  EXPECT_EQ(r.version_supported, 0);
  EXPECT_FALSE(host_->connected());
  // 5.2 on connection id 1 is refused (>= 5.0 must use id 4).
  InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
  ic.vmbus_version_requested = kVersionWin10V52;
  ic.interrupt_page_or_sint = kVmbusSint;
  post_msg(ic, kMessageConnectionId);
  EXPECT_EQ(take().at(0).as<VersionResponse>().version_supported, 0);
  // A SINT other than 2 is refused.
  ic.interrupt_page_or_sint = 3;
  post_msg(ic, kMessageConnectionIdV5);
  EXPECT_EQ(take().at(0).as<VersionResponse>().version_supported, 0);
  // Only one monitor page: accepted version, failed connection state.
  ic.interrupt_page_or_sint = kVmbusSint;
  ic.monitor_page1 = 0x5000;
  post_msg(ic, kMessageConnectionIdV5);
  auto f = take().at(0).as<VersionResponse>();
  EXPECT_EQ(f.version_supported, 1);
  EXPECT_EQ(f.connection_state, 2);
  EXPECT_FALSE(host_->connected());
}

TEST_F(VmbusHostTest, MessagesAreHandledOnlyAfterTheHostLatency) {
  make();
  InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
  ic.vmbus_version_requested = kVersionWin10V53;
  ic.interrupt_page_or_sint = kVmbusSint;
  ASSERT_EQ(host_->post_message(0, kMessageConnectionIdV5, {reinterpret_cast<const uint8_t*>(&ic), sizeof ic}, now_), 0);
  std::optional<VirtualTime> next = host_->poll(now_ + kLatency - VirtualTime::from_ps(1));
  EXPECT_TRUE(platform_.posted.empty());
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, now_ + kLatency);
  host_->poll(now_ + kLatency);
  EXPECT_EQ(platform_.posted.size(), 1u);
}

TEST_F(VmbusHostTest, InboxIsBounded) {
  make();
  MsgHeader h = msg<MsgHeader>(MsgType::kRequestOffers);
  std::span<const uint8_t> m(reinterpret_cast<const uint8_t*>(&h), sizeof h);
  for (size_t i = 0; i < VmbusHost::kInboxDepth; ++i) ASSERT_EQ(host_->post_message(0, 1, m, now_), 0);
  EXPECT_EQ(host_->post_message(0, 1, m, now_), VmbusHost::kHvStatusInsufficientBuffers);
}

TEST_F(VmbusHostTest, OffersComeInASeededOrderThenAllOffersDelivered) {
  std::set<std::vector<uint32_t>> orders;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    make("ws2022", seed, {"a", "b", "c", "d", "e"});
    connect();
    take();
    post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
    std::vector<Posted> out = take();
    ASSERT_EQ(out.size(), 6u);
    std::vector<uint32_t> relids;
    for (size_t i = 0; i < 5; ++i) {
      ASSERT_EQ(out[i].type(), static_cast<uint32_t>(MsgType::kOfferChannel));
      auto o = out[i].as<OfferChannel>();
      EXPECT_EQ(o.connection_id, kEventConnectionBase + o.child_relid);
      EXPECT_EQ(o.is_dedicated_interrupt, 1);
      EXPECT_EQ(o.monitor_allocated, 0);
      EXPECT_EQ(o.if_type, guid(kTestClass));
      EXPECT_EQ(out[i].vp, 1u);
      relids.push_back(o.child_relid);
    }
    EXPECT_EQ(out[5].type(), static_cast<uint32_t>(MsgType::kAllOffersDelivered));
    std::vector<uint32_t> sorted = relids;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<uint32_t>{1, 2, 3, 4, 5})) << "relids follow the device order";
    orders.insert(relids);
  }
  EXPECT_GT(orders.size(), 1u) << "the offer order depends on the seed";
}

TEST_F(VmbusHostTest, OpenChannelTrafficAndHyperVSignallingRules) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  take();
  uint32_t relid = relid_of("a");
  open_channel(relid, 2);
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].as<GpadlCreated>().creation_status, kStatusSuccess);
  auto r = out[1].as<OpenChannelResult>();
  EXPECT_EQ(r.child_relid, relid);
  EXPECT_EQ(r.status, kStatusSuccess);
  ASSERT_EQ(devices_[0]->opens, 1);

  // Guest -> host: the first signal is necessary, a second one before the drain is not.
  uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};
  guest_write(hello);
  EXPECT_EQ(signal(relid), 0);
  guest_write(hello);
  EXPECT_EQ(signal(relid), 0);
  EXPECT_EQ(host_->unnecessary_signals(), 1u);
  EXPECT_EQ(traced("\"rule\":\"unnecessary_signal\""), 1u);
  EXPECT_TRUE(devices_[0]->packets.empty()) << "drained only after the host latency";
  advance(kLatency);
  ASSERT_EQ(devices_[0]->packets.size(), 2u);
  EXPECT_EQ(devices_[0]->packets[0].size(), 8u) << "payload padded to 8";
  EXPECT_EQ(std::memcmp(devices_[0]->packets[0].data(), hello, 5), 0);

  // Host -> guest: signal on empty -> non-empty only, on the open's target VP.
  ChannelIo* io = devices_[0]->io();
  ASSERT_NE(io, nullptr);
  EXPECT_TRUE(io->send(kPktDataInband, 0, 1, hello));
  EXPECT_TRUE(io->send(kPktDataInband, 0, 2, hello));
  ASSERT_EQ(platform_.signals.size(), 1u);
  EXPECT_EQ(platform_.signals[0], (std::pair<VpIndex, uint32_t>{2, relid}));
  // The guest masks interrupts on its inbound ring: no signal even when it was empty.
  uint64_t in_ctl = kRingGpa + 4 * 4096;
  mem_.put<uint32_t>(in_ctl + 4, mem_.get<uint32_t>(in_ctl));  // guest consumed everything
  mem_.put<uint32_t>(in_ctl + 8, 1);
  EXPECT_TRUE(io->send(kPktDataInband, 0, 3, hello));
  EXPECT_EQ(platform_.signals.size(), 1u);
}

TEST_F(VmbusHostTest, ChattyGuestIsThrottled) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  uint32_t relid = relid_of("b");
  open_channel(relid, 0);
  uint8_t x[8] = {};
  guest_write(x);
  signal(relid);  // necessary
  for (int i = 0; i < 4; ++i) signal(relid, 3);  // unnecessary, at the threshold
  EXPECT_TRUE(platform_.suspended.empty());
  signal(relid, 3);
  ASSERT_EQ(platform_.suspended.size(), 1u);
  EXPECT_EQ(platform_.suspended[0].first, 3u) << "the VP that signalled is suspended";
  EXPECT_EQ(platform_.suspended[0].second, now_ + ThrottlePolicy{}.suspend);
  EXPECT_EQ(traced("vmbus.throttle"), 1u);
}

TEST_F(VmbusHostTest, OpenChannelErrors) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  take();
  OpenChannel o = msg<OpenChannel>(MsgType::kOpenChannel);
  o.child_relid = 99;
  post_msg(o);
  EXPECT_EQ(take().at(0).as<OpenChannelResult>().status, kStatusUnsuccessful) << "unknown relid";
  o.child_relid = 1;
  o.ringbuffer_gpadlhandle = 0x1234;
  post_msg(o);
  EXPECT_EQ(take().at(0).as<OpenChannelResult>().status, kStatusUnsuccessful) << "unknown GPADL";
  create_gpadl(0x1234, 1, kRingGpa / 4096, 8);
  take();
  for (uint32_t split : {0u, 1u, 7u, 8u, 9u}) {
    o.downstream_ringbuffer_pageoffset = split;
    post_msg(o);
    EXPECT_EQ(take().at(0).as<OpenChannelResult>().status, kStatusUnsuccessful) << "split " << split;
  }
  o.downstream_ringbuffer_pageoffset = 4;
  o.target_vp = 4;
  post_msg(o);
  EXPECT_EQ(take().at(0).as<OpenChannelResult>().status, kStatusUnsuccessful) << "no VP 4";
  o.target_vp = 0;
  post_msg(o);
  EXPECT_EQ(take().at(0).as<OpenChannelResult>().status, kStatusSuccess);
  post_msg(o);
  EXPECT_EQ(take().at(0).as<OpenChannelResult>().status, kStatusUnsuccessful) << "already open";
}

TEST_F(VmbusHostTest, DataWrittenBeforeCloseChannelIsConsumedBeforeTheClose) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(1);
  uint8_t reply[8] = {'b', 'y', 'e'};
  guest_write(reply);  // no signal yet (a monitor bit would wait for the next scan)
  CloseChannel c = msg<CloseChannel>(MsgType::kCloseChannel);
  c.child_relid = 1;
  post_msg(c);
  ASSERT_EQ(devices_[0]->packets.size(), 1u);
  EXPECT_EQ(devices_[0]->packets[0][0], 'b');
  EXPECT_EQ(devices_[0]->closes, 1);
}

TEST_F(VmbusHostTest, RingTeardownWhileOpenIsDeferredUntilClose) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(1);
  take();
  GpadlTeardown t = msg<GpadlTeardown>(MsgType::kGpadlTeardown);
  t.child_relid = 1;
  t.gpadl = 0xE1E10;
  post_msg(t);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(traced("gpadl_in_use"), 1u);
  CloseChannel c = msg<CloseChannel>(MsgType::kCloseChannel);
  c.child_relid = 1;
  post_msg(c);
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].as<GpadlTorndown>().gpadl, 0xE1E10u);
  EXPECT_EQ(devices_[0]->closes, 1);
  EXPECT_EQ(host_->gpadls().charged_bytes(), 0u);
  EXPECT_EQ(traced("\"gpadl\":\"0xe1e10\",\"relid\":1,\"result\":\"torndown\""), 1u) << "the record names its channel";
}

TEST_F(VmbusHostTest, RescindReleaseAndReofferReuseTheRelidOnlyAfterRelease) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(2);
  take();
  ASSERT_TRUE(host_->rescind("b", now_));
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].as<RescindChannelOffer>().child_relid, 2u);
  EXPECT_EQ(devices_[1]->closes, 1) << "the host closes its side at once";
  EXPECT_FALSE(host_->rescind("b", now_)) << "no duplicate rescind";
  EXPECT_EQ(signal(2), 0) << "a signal racing the rescind is accepted";
  EXPECT_EQ(traced("unnecessary_signal"), 0u) << "and is no rule violation";
  // The guest's close path still works after the rescind; OPENCHANNEL is ignored.
  CloseChannel c = msg<CloseChannel>(MsgType::kCloseChannel);
  c.child_relid = 2;
  post_msg(c);
  GpadlTeardown t = msg<GpadlTeardown>(MsgType::kGpadlTeardown);
  t.child_relid = 2;
  t.gpadl = 0xE1E10;
  post_msg(t);
  EXPECT_EQ(take().at(0).type(), static_cast<uint32_t>(MsgType::kGpadlTorndown));
  EXPECT_EQ(traced("\"gpadl\":\"0xe1e10\",\"relid\":2,\"result\":\"torndown\""), 1u);
  open_channel(2, 0, 0xE1E11);
  out = take();
  ASSERT_EQ(out.size(), 1u) << "GPADL_CREATED only; no OPENCHANNEL_RESULT for a rescinded channel";
  EXPECT_EQ(traced("\"ignored\":\"OPENCHANNEL\""), 1u);
  EXPECT_EQ(traced("vmbus.protocol_error"), 0u) << "the guest may have raced the rescind";
  EXPECT_FALSE(host_->offer("b", now_)) << "relid not yet released";
  RelidReleased rr = msg<RelidReleased>(MsgType::kRelidReleased);
  rr.child_relid = 2;
  post_msg(rr);
  EXPECT_EQ(host_->channel(2), nullptr);
  ASSERT_TRUE(host_->offer("b", now_));
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].as<OfferChannel>().child_relid, 2u) << "the lowest free relid";
}

TEST_F(VmbusHostTest, RelidReleasedForALiveChannelIsAProtocolError) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  RelidReleased rr = msg<RelidReleased>(MsgType::kRelidReleased);
  rr.child_relid = 1;
  post_msg(rr);
  EXPECT_NE(host_->channel(1), nullptr);
  EXPECT_EQ(traced("RELID_RELEASED for a channel that was not rescinded"), 1u);
}

TEST_F(VmbusHostTest, ModifyChannelRetargetsAfterTheLagAndAnswersFrom5_3) {
  for (uint32_t version : {kVersionWin10V52, kVersionWin10V53}) {
    make();
    host_->set_retarget_lag(VirtualTime::from_us(100));
    connect(version);
    post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
    open_channel(1, 0);
    take();
    ModifyChannel m = msg<ModifyChannel>(MsgType::kModifyChannel);
    m.child_relid = 1;
    m.target_vp = 3;
    post_msg(m);
    std::vector<Posted> out = take();
    if (version >= kVersionWin10V53) {
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].as<ModifyChannelResponse>().status, kStatusSuccess);
    } else {
      EXPECT_TRUE(out.empty()) << "fire-and-forget before 5.3";
    }
    uint8_t x[8] = {};
    ChannelIo* io = devices_[0]->io();
    ASSERT_TRUE(io->send(kPktDataInband, 0, 1, x));
    ASSERT_EQ(platform_.signals.size(), 1u);
    ASSERT_EQ(platform_.signals.back().first, 0u) << "within the lag: the old VP";
    uint64_t in_ctl = kRingGpa + 4 * 4096;
    mem_.put<uint32_t>(in_ctl + 4, mem_.get<uint32_t>(in_ctl));
    advance(VirtualTime::from_us(100));
    ASSERT_TRUE(io->send(kPktDataInband, 0, 2, x));
    ASSERT_EQ(platform_.signals.size(), 2u);
    EXPECT_EQ(platform_.signals.back().first, 3u) << "after the lag: the new VP";
    platform_.signals.clear();
  }
}

TEST_F(VmbusHostTest, ModifyChannelOfAClosedChannelFailsAt5_3) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  take();
  ModifyChannel m = msg<ModifyChannel>(MsgType::kModifyChannel);
  m.child_relid = 1;
  post_msg(m);
  EXPECT_EQ(take().at(0).as<ModifyChannelResponse>().status, kStatusUnsuccessful);
}

TEST_F(VmbusHostTest, UnloadClosesEverythingAndAllowsReconnect) {
  make();
  connect(kVersionWin10V53, 2);
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(1);
  take();
  post_msg(msg<MsgHeader>(MsgType::kUnload));
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), static_cast<uint32_t>(MsgType::kUnloadResponse));
  EXPECT_EQ(out[0].vp, 2u) << "to the connect VP";
  EXPECT_FALSE(host_->connected());
  EXPECT_EQ(devices_[0]->closes, 1);
  EXPECT_EQ(host_->gpadls().charged_bytes(), 0u);
  connect(kVersionWin10V52, 0);
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  out = take();
  ASSERT_EQ(out.size(), 5u) << "version response, three offers, all delivered";
  EXPECT_EQ(out[0].as<VersionResponse>().version_supported, 1);
}

TEST_F(VmbusHostTest, SecondInitiateContactReconnects) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(1);
  take();
  connect();
  EXPECT_EQ(devices_[0]->closes, 1);
  EXPECT_TRUE(host_->connected());
  EXPECT_EQ(traced("INITIATE_CONTACT while connected"), 1u);
}

TEST_F(VmbusHostTest, GpadlCapFailureIsAnsweredWithAnErrorStatus) {
  make("ws2012");  // about 384 MB
  connect(kVersionWin8);
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  take();
  // One range announcing more pages than the cap allows, in a header of 26 PFNs.
  uint64_t cap_pages = host_->gpadls().cap_bytes() / 4096;
  std::vector<uint8_t> m(sizeof(GpadlHeader) + 8 + 8 * 26);
  GpadlHeader h = msg<GpadlHeader>(MsgType::kGpadlHeader);
  h.child_relid = 1;
  h.gpadl = 7;
  h.rangecount = 1;
  h.range_buflen = 0xFFFF;
  std::memcpy(m.data(), &h, sizeof h);
  GpadlRangeHeader r{static_cast<uint32_t>(std::min<uint64_t>((cap_pages + 1) * 4096, 8190ull * 4096)), 0};
  std::memcpy(m.data() + sizeof h, &r, sizeof r);
  post(m);
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].as<GpadlCreated>().creation_status, kStatusUnsuccessful);
}

TEST_F(VmbusHostTest, CheckerReportsGpadlPagesThatAreStillInAnotherGpadl) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  create_gpadl(1, 1, 0x40, 4);
  create_gpadl(2, 1, 0x44, 4);  // adjacent, no overlap
  EXPECT_EQ(traced("gpadl_overlap"), 0u);
  create_gpadl(3, 2, 0x42, 4);  // pages 0x42-0x45: two in GPADL 1, two in GPADL 2
  EXPECT_EQ(traced("\"rule\":\"gpadl_overlap\",\"gpadl\":\"0x3\",\"pages\":4"), 1u);
  GpadlTeardown t = msg<GpadlTeardown>(MsgType::kGpadlTeardown);
  t.gpadl = 1;
  post_msg(t);
  t.gpadl = 2;
  post_msg(t);
  t.gpadl = 3;
  post_msg(t);
  create_gpadl(4, 1, 0x40, 8);  // all torn down: reuse is fine
  EXPECT_EQ(traced("gpadl_overlap"), 1u);
}

TEST_F(VmbusHostTest, GuestReadingBeyondTheWriteIndexOrRewritingItBreaksTheChannel) {
  for (int variant = 0; variant < 2; ++variant) {
    make();
    connect();
    post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
    open_channel(1);
    ChannelIo* io = devices_[0]->io();
    ASSERT_NE(io, nullptr);
    uint8_t x[8] = {};
    ASSERT_TRUE(io->send(kPktDataInband, 0, 1, x));
    uint64_t in_ctl = kRingGpa + 4 * 4096;
    uint32_t w = mem_.get<uint32_t>(in_ctl);
    if (variant == 0) mem_.put<uint32_t>(in_ctl + 4, w + 8);  // read past the packet
    else mem_.put<uint32_t>(in_ctl, w + 8);                   // forge the host's write_index
    EXPECT_FALSE(io->send(kPktDataInband, 0, 2, x));
    EXPECT_EQ(traced(variant == 0 ? "guest read beyond the write index" : "guest wrote write_index of the host->guest ring"),
              1u);
    EXPECT_FALSE(io->send(kPktDataInband, 0, 3, x)) << "the channel's rings are abandoned";
  }
}

TEST_F(VmbusHostTest, SubChannelsAreOfferedOnceThePrimaryIsOpenAndRescindedFirst) {
  make();
  devices_[0]->desc_.sub_channels = 2;
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  take();
  open_channel(1);
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 4u) << "GPADL_CREATED, OPENCHANNEL_RESULT, two sub-channel offers";
  for (int i = 0; i < 2; ++i) {
    auto o = out[2 + i].as<OfferChannel>();
    EXPECT_EQ(o.sub_channel_index, i + 1);
    EXPECT_EQ(o.child_relid, 4u + i) << "the next free relids";
    EXPECT_EQ(o.if_instance, devices_[0]->desc_.instance_id) << "sub-channels share the primary's GUIDs";
    EXPECT_EQ(o.connection_id, kEventConnectionBase + o.child_relid);
  }
  // Open sub-channel 2 on its own ring GPADL and send it a packet.
  OpenChannel o = msg<OpenChannel>(MsgType::kOpenChannel);
  create_gpadl(0xE1E20, 5, 0x40, 8);
  o.child_relid = 5;
  o.ringbuffer_gpadlhandle = 0xE1E20;
  o.downstream_ringbuffer_pageoffset = 4;
  post_msg(o);
  EXPECT_EQ(take().at(1).as<OpenChannelResult>().status, kStatusSuccess);
  EXPECT_EQ(devices_[0]->sub_opens, std::vector<uint16_t>{2});
  uint8_t x[8] = {};
  ASSERT_TRUE(devices_[0]->io()->send(kPktDataInband, 0, 1, x)) << "the primary still works";
  // Rescind of the device: sub-channels first, then the primary.
  ASSERT_TRUE(host_->rescind("a", now_));
  out = take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].as<RescindChannelOffer>().child_relid, 4u);
  EXPECT_EQ(out[1].as<RescindChannelOffer>().child_relid, 5u);
  EXPECT_EQ(out[2].as<RescindChannelOffer>().child_relid, 1u);
  EXPECT_EQ(devices_[0]->sub_closes, std::vector<uint16_t>{2});
  EXPECT_EQ(devices_[0]->closes, 1);
}

TEST_F(VmbusHostTest, ASubChannelCanBeRescindedAloneAndIsReofferedAfterRelease) {
  make();
  devices_[0]->desc_.sub_channels = 1;
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(1);
  take();
  ASSERT_TRUE(host_->rescind_relid(4, now_));
  EXPECT_EQ(take().at(0).as<RescindChannelOffer>().child_relid, 4u);
  EXPECT_NE(host_->channel(1), nullptr);
  EXPECT_EQ(host_->channel(1)->state, ChannelState::kOpen) << "the primary is untouched";
  RelidReleased rr = msg<RelidReleased>(MsgType::kRelidReleased);
  rr.child_relid = 4;
  post_msg(rr);
  EXPECT_EQ(host_->channel(4), nullptr);
  // Closing and reopening the primary offers the sub-channel again.
  CloseChannel c = msg<CloseChannel>(MsgType::kCloseChannel);
  c.child_relid = 1;
  post_msg(c);
  OpenChannel o = msg<OpenChannel>(MsgType::kOpenChannel);
  o.child_relid = 1;
  o.ringbuffer_gpadlhandle = 0xE1E10;
  o.downstream_ringbuffer_pageoffset = 4;
  post_msg(o);
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].as<OfferChannel>().sub_channel_index, 1);
  // UNLOAD forgets sub-channels; after reconnecting only primaries are offered.
  post_msg(msg<MsgHeader>(MsgType::kUnload));
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  out = take();
  size_t offers = 0;
  for (const Posted& p : out) offers += p.type() == static_cast<uint32_t>(MsgType::kOfferChannel);
  EXPECT_EQ(offers, 3u);
}

TEST_F(VmbusHostTest, MonitorPagesCarryGuestSignalsWithoutHypercalls) {
  make();
  constexpr uint64_t kP2c = 0x30000, kC2p = 0x31000;
  InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
  ic.vmbus_version_requested = kVersionWin10V53;
  ic.interrupt_page_or_sint = kVmbusSint;
  ic.monitor_page1 = kP2c;
  ic.monitor_page2 = kC2p;
  post_msg(ic, kMessageConnectionIdV5);
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  std::vector<Posted> out = take();
  std::map<uint32_t, uint8_t> ids;  // relid -> monitor id
  for (const Posted& p : out) {
    if (p.type() != static_cast<uint32_t>(MsgType::kOfferChannel)) continue;
    auto o = p.as<OfferChannel>();
    EXPECT_EQ(o.monitor_allocated, 1);
    ids[o.child_relid] = o.monitorid;
    // The host describes the id in the child->parent page: group enabled, connection id.
    unsigned g = o.monitorid / 32, b = o.monitorid % 32;
    EXPECT_TRUE(mem_.get<uint32_t>(kC2p + MonitorPages::kTriggerStateOffset) & (1u << g));
    EXPECT_EQ(mem_.get<uint32_t>(kC2p + MonitorPages::kParameterOffset + 8 * (g * 32 + b)), o.connection_id);
    EXPECT_EQ(mem_.get<uint16_t>(kP2c + MonitorPages::kLatencyOffset + 2 * (g * 32 + b)), 1000u) << "100 us";
  }
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ((std::set<uint8_t>{ids[1], ids[2], ids[3]}).size(), 3u) << "distinct ids";
  open_channel(1);
  uint8_t hello[8] = {'h', 'i'};
  guest_write(hello);
  uint8_t id = ids[1];
  uint64_t pending = kC2p + MonitorPages::kTriggerGroupOffset + 8 * (id / 32);
  mem_.put<uint32_t>(pending, mem_.get<uint32_t>(pending) | (1u << (id % 32)));
  advance(VirtualTime::from_us(100));  // the scan finds the bit
  EXPECT_EQ(mem_.get<uint32_t>(pending), 0u) << "the host consumed the bit";
  EXPECT_EQ(traced("\"via\":\"monitor\""), 1u);
  EXPECT_TRUE(devices_[0]->packets.empty());
  advance(kLatency);
  EXPECT_EQ(devices_[0]->packets.size(), 1u) << "drained like a hypercall signal";
  // A bit nobody was given is cleared and reported.
  mem_.put<uint32_t>(kC2p + MonitorPages::kTriggerGroupOffset, 1u << 31);
  advance(VirtualTime::from_us(100));
  EXPECT_EQ(traced("monitor bits set for ids no channel was given"), 1u);
  // A bit set for a channel that was rescinded and released before the scan (the guest's signal
  // raced the rescind) is consumed silently.
  ASSERT_TRUE(host_->rescind("b", now_));
  RelidReleased rr = msg<RelidReleased>(MsgType::kRelidReleased);
  rr.child_relid = 2;
  post_msg(rr);
  uint8_t gone = ids[2];
  uint64_t gone_pending = kC2p + MonitorPages::kTriggerGroupOffset + 8 * (gone / 32);
  mem_.put<uint32_t>(gone_pending, mem_.get<uint32_t>(gone_pending) | (1u << (gone % 32)));
  advance(VirtualTime::from_us(100));
  EXPECT_EQ(mem_.get<uint32_t>(gone_pending) & (1u << (gone % 32)), 0u);
  EXPECT_EQ(traced("monitor bits set for ids no channel was given"), 1u);
}

TEST_F(VmbusHostTest, MonitorPagesOutsideRamFailTheConnection) {
  make();
  InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
  ic.vmbus_version_requested = kVersionWin10V53;
  ic.interrupt_page_or_sint = kVmbusSint;
  ic.monitor_page1 = 0x30000;
  ic.monitor_page2 = 0x7fff0000;  // beyond the 1 MiB of RAM
  post_msg(ic, kMessageConnectionIdV5);
  auto r = take().at(0).as<VersionResponse>();
  EXPECT_EQ(r.version_supported, 1);
  EXPECT_EQ(r.connection_state, 2);
  EXPECT_FALSE(host_->connected());
}

TEST_F(VmbusHostTest, MalformedMessagesAreTracedNeverFatal) {
  make();
  uint8_t tiny[3] = {1, 2, 3};
  post(tiny);
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  EXPECT_GE(traced("message before INITIATE_CONTACT"), 1u);
  connect();
  take();
  MsgHeader h = msg<MsgHeader>(MsgType::kOfferChannel);  // host->guest type from the guest
  post_msg(h);
  OpenChannel short_open = msg<OpenChannel>(MsgType::kOpenChannel);
  post(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&short_open), 20));
  EXPECT_EQ(traced("not a guest->host message type"), 2u) << "type 0 (3 bytes) and OFFERCHANNEL";
  EXPECT_EQ(traced("message shorter than its type requires"), 1u);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(signal(77), VmbusHost::kHvStatusInvalidConnectionId);
  EXPECT_EQ(host_->signal_event(0, 5, 0, now_), VmbusHost::kHvStatusInvalidConnectionId);
}

TEST_F(VmbusHostTest, SeededGarbageNeverCrashesTheHost) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(1);
  RngStream rng(42, "vmbus-host-garbage");
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> m(rng.below(241));
    for (uint8_t& b : m) b = static_cast<uint8_t>(rng.next_u64());
    if (m.size() >= 4 && rng.chance(3, 4)) m[0] = static_cast<uint8_t>(rng.below(26)), m[1] = m[2] = m[3] = 0;
    host_->post_message(static_cast<VpIndex>(rng.below(4)), 1, m, now_);
    // Scribble over the ring control pages and data too.
    mem_.put<uint32_t>(kRingGpa + 4096 * rng.below(8) + 4 * rng.below(4), static_cast<uint32_t>(rng.next_u64()));
    signal(static_cast<uint32_t>(rng.below(4)), static_cast<VpIndex>(rng.below(4)));
    advance(kLatency);
  }
  EXPECT_GT(traced("vmbus.protocol_error"), 100u);
}

}  // namespace
}  // namespace hvsim::vmbus
