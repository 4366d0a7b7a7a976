// VmbusHost fault injection: raw and field-built control messages, withheld and delayed
// responses, packets injected into the host->guest ring, TOCTOU rewrites of a ring packet and of
// a SynIC message, seeded fault points (drop_signal, delay_drain, busy_outbox), and seeded
// malformed injections that must never crash the host.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "models/vmbus/message_fields.h"
#include "sim/core/rng.h"
#include "tests/unit/models/vmbus_host_fixture.h"

namespace hvsim::vmbus {
namespace {

constexpr uint64_t kInCtl = kRingGpa + 4 * 4096;  // host->guest ring control page
constexpr uint64_t kInData = kInCtl + 4096;         // its data area (3 pages)
constexpr uint32_t kInDataSize = 3 * 4096;

template <typename T> std::vector<uint8_t> bytes_of(const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  return {p, p + sizeof v};
}

class VmbusFaultTest : public VmbusHostTest {
 protected:
  // Connected at 5.3 (target VP 1), offers requested, relid 1 ("a") open on VP 2.
  void open_a() {
    make();
    connect();
    post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
    open_channel(1, 2);
    take();
  }
  // The guest consumes everything in the host->guest ring.
  void guest_consume_all() { mem_.put<uint32_t>(kInCtl + 4, mem_.get<uint32_t>(kInCtl)); }
  uint32_t in_write_index() const { return mem_.get<uint32_t>(kInCtl); }
  uint8_t in_byte(uint32_t offset) const { return mem_.get<uint8_t>(kInData + offset % kInDataSize); }
  // Of `n` empty -> non-empty host->guest writes on relid 1, which lost their signal.
  std::vector<bool> dropped_pattern(int n) {
    std::vector<bool> dropped;
    const uint8_t x[8] = {};
    for (int i = 0; i < n; ++i) {
      size_t before = platform_.signals.size();
      EXPECT_TRUE(host_->inject_inband(1, x, static_cast<uint64_t>(i), 0, now_));
      dropped.push_back(platform_.signals.size() == before);
      guest_consume_all();
    }
    return dropped;
  }
};

// --- send_raw / build_message / build_offer ---

TEST_F(VmbusFaultTest, SendRawCanTargetAnotherVp) {
  open_a();
  std::vector<uint8_t> unload = bytes_of(MsgHeader{static_cast<uint32_t>(MsgType::kUnloadResponse), 0});
  ASSERT_TRUE(host_->send_raw(unload, now_, 3));
  ASSERT_EQ(platform_.posted.size(), 1u);
  EXPECT_EQ(platform_.posted[0].vp, 3u) << "not the connection's VP 1";
  ASSERT_TRUE(host_->send_raw(unload, now_));
  EXPECT_EQ(platform_.posted[1].vp, 1u);
  EXPECT_FALSE(host_->send_raw(unload, now_, 4)) << "no VP 4";
}

TEST_F(VmbusFaultTest, SendRawDeliversAnyBytesEvenBeforeContact) {
  make();
  const uint8_t three[3] = {0xAB, 0xCD, 0xEF};
  ASSERT_TRUE(host_->send_raw(three, now_));
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].vp, 0u) << "no connection: VP 0";
  EXPECT_EQ(out[0].sint, kVmbusSint);
  EXPECT_EQ(out[0].msg, std::vector<uint8_t>(three, three + 3));
  EXPECT_FALSE(host_->send_raw({}, now_)) << "empty";
  std::vector<uint8_t> big(kMaxMessageSize + 1, 0);
  EXPECT_FALSE(host_->send_raw(big, now_)) << "over 240 bytes";
  EXPECT_TRUE(take().empty());
  connect(kVersionWin10V53, 3);
  take();
  // An unsolicited duplicate VERSION_RESPONSE with a bogus version word goes to the connect VP.
  VmbusHost::BuiltMessage m = host_->build_message(MsgType::kVersionResponse, {{"msg_conn_id", 0xDEAD}});
  ASSERT_TRUE(m.error.empty()) << m.error;
  ASSERT_TRUE(host_->send_raw(m.bytes, now_));
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].vp, 3u);
  EXPECT_EQ(out[0].as<VersionResponse>().msg_conn_id, 0xDEADu);
  EXPECT_EQ(traced("\"injected\":true"), 2u);
  EXPECT_TRUE(host_->connected()) << "raw messages change no host state";
}

TEST_F(VmbusFaultTest, BuildMessageFillsFieldsByNameAndSizes) {
  make();
  VmbusHost::BuiltMessage r =
      host_->build_message(MsgType::kOpenChannelResult, {{"child_relid", 2047}, {"status", 0xC0000001}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.bytes.size(), sizeof(OpenChannelResult));
  OpenChannelResult o{};
  std::memcpy(&o, r.bytes.data(), sizeof o);
  EXPECT_EQ(o.hdr.msgtype, static_cast<uint32_t>(MsgType::kOpenChannelResult));
  EXPECT_EQ(o.child_relid, 2047u);
  EXPECT_EQ(o.openid, 0u);
  EXPECT_EQ(o.status, 0xC0000001u);

  VmbusHost::BuiltMessage bad = host_->build_message(MsgType::kGpadlCreated, {{"relid", 1}});
  EXPECT_TRUE(bad.bytes.empty());
  EXPECT_NE(bad.error.find("'relid'"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("child_relid, gpadl, creation_status"), std::string::npos) << "names the valid fields";
  bad = host_->build_message(MsgType::kOfferChannel, {{"monitorid", 256}});
  EXPECT_NE(bad.error.find("does not fit the 1-byte field"), std::string::npos) << bad.error;
  EXPECT_FALSE(host_->build_message(MsgType::kUnloadResponse, {}, 0).error.empty());
  EXPECT_FALSE(host_->build_message(MsgType::kUnloadResponse, {}, 241).error.empty());

  // Truncated and padded.
  VmbusHost::BuiltMessage t = host_->build_message(MsgType::kGpadlTorndown, {{"gpadl", 0x11223344}}, 10);
  ASSERT_EQ(t.bytes.size(), 10u);
  EXPECT_EQ(t.bytes[8], 0x44);
  EXPECT_EQ(t.bytes[9], 0x33);
  t = host_->build_message(MsgType::kGpadlTorndown, {}, 240);
  ASSERT_EQ(t.bytes.size(), 240u);
  EXPECT_EQ(t.bytes[239], 0);
  // An unknown type number: header only, with the type itself overridable.
  t = host_->build_message(MsgType::kAllOffersDelivered, {{"msgtype", 99}, {"header_padding", 7}});
  ASSERT_EQ(t.bytes.size(), 8u);
  EXPECT_EQ(t.bytes[0], 99);
  EXPECT_EQ(t.bytes[4], 7);
}

TEST_F(VmbusFaultTest, VersionResponseStartsFromWhatTheHostWouldSend) {
  make("ws2025");
  connect(kVersionCopper);
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  VmbusHost::BuiltMessage m = host_->build_message(MsgType::kVersionResponse, {});
  EXPECT_EQ(m.bytes, out[0].msg) << "VERSION_RESPONSE2 at 6.0, byte for byte";
  m = host_->build_message(MsgType::kVersionResponse, {{"supported_features", 0xFF}});
  ASSERT_EQ(m.bytes.size(), 20u);
  EXPECT_EQ(m.bytes[16], 0xFF);
  make("ws2016");
  connect(kVersionWin10);
  m = host_->build_message(MsgType::kVersionResponse, {});
  EXPECT_EQ(m.bytes, take().at(0).msg) << "below 5.0: msg_conn_id echoes the version";
}

TEST_F(VmbusFaultTest, BuildOfferReproducesTheHostsOfferAndTakesOverrides) {
  make();
  VmbusHost::BuiltMessage early = host_->build_offer("b", {});
  ASSERT_TRUE(early.error.empty());
  OfferChannel e{};
  std::memcpy(&e, early.bytes.data(), sizeof e);
  EXPECT_EQ(e.child_relid, 1u) << "not offered yet: the relid it would get";
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  std::vector<uint8_t> posted_b;
  for (const Posted& p : take())
    if (p.type() == static_cast<uint32_t>(MsgType::kOfferChannel) && p.as<OfferChannel>().child_relid == 2) posted_b = p.msg;
  ASSERT_FALSE(posted_b.empty());
  EXPECT_EQ(host_->build_offer("b", {}).bytes, posted_b);
  // A duplicate offer with a bogus relid and a lying connection id, truncated.
  VmbusHost::BuiltMessage dup = host_->build_offer("b", {{"child_relid", 4000}, {"connection_id", 5}}, 190);
  ASSERT_TRUE(dup.error.empty()) << dup.error;
  ASSERT_TRUE(host_->send_raw(dup.bytes, now_));
  Posted out = take().at(0);
  ASSERT_EQ(out.msg.size(), 190u);
  EXPECT_EQ(out.as<OfferChannel>().child_relid, 4000u);
  EXPECT_EQ(out.as<OfferChannel>().if_instance, devices_[1]->desc_.instance_id);
  EXPECT_NE(host_->build_offer("zz", {}).error.find("no VMBus device 'zz'"), std::string::npos);
}

TEST_F(VmbusFaultTest, MessageFieldTablesMatchTheStructLayouts) {
  for (uint32_t t = 0; t < static_cast<uint32_t>(MsgType::kCount); ++t) {
    auto type = static_cast<MsgType>(t);
    for (const MessageField& f : message_fields(type)) {
      bool version2 = std::string(f.name) == "supported_features";
      EXPECT_LE(f.offset + f.width, message_layout_size(type) + (version2 ? 4 : 0)) << f.name;
      EXPECT_TRUE(f.width == 1 || f.width == 2 || f.width == 4 || f.width == 8) << f.name;
    }
  }
  std::vector<uint8_t> m(sizeof(OfferChannel), 0);
  std::string error;
  ASSERT_TRUE(apply_message_fields(m, MsgType::kOfferChannel, {{"connection_id", 0x01020304}}, error));
  OfferChannel o{};
  std::memcpy(&o, m.data(), sizeof o);
  EXPECT_EQ(o.connection_id, 0x01020304u);
}

// --- response control ---

TEST_F(VmbusFaultTest, WithholdDropsTheNextResponsesOfAType) {
  make();
  connect();
  take();
  host_->withhold(MsgType::kOfferChannel, VmbusHost::kUntilCleared);
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u) << "only ALLOFFERS_DELIVERED";
  EXPECT_EQ(out[0].type(), static_cast<uint32_t>(MsgType::kAllOffersDelivered));
  EXPECT_EQ(traced("\"fault\":\"withheld\""), 3u);
  host_->clear_response_control(MsgType::kOfferChannel);
  host_->withhold(MsgType::kGpadlCreated, 1);
  create_gpadl(1, 1, 0x40, 2);
  EXPECT_TRUE(take().empty()) << "the first GPADL_CREATED is withheld";
  create_gpadl(2, 1, 0x42, 2);
  out = take();
  ASSERT_EQ(out.size(), 1u) << "the count ran out";
  EXPECT_EQ(out[0].as<GpadlCreated>().gpadl, 2u);
  EXPECT_NE(host_->gpadls().find(1), nullptr) << "withholding changes only what the guest sees";
  EXPECT_FALSE(host_->offer("a", now_)) << "already offered: a withheld offer still counts for the host";
}

TEST_F(VmbusFaultTest, DelayedResponsesLeaveLaterInTheirOrderAndOthersOvertake) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  take();
  host_->delay(MsgType::kGpadlCreated, VirtualTime::from_us(100), 1);
  host_->delay(MsgType::kOpenChannelResult, VirtualTime::from_us(10), 1);
  const VirtualTime t0 = now_ + kLatency;  // when GPADL_CREATED is produced
  open_channel(1, 0);
  EXPECT_TRUE(take().empty()) << "both held";
  EXPECT_EQ(traced("\"fault\":\"delayed\""), 2u);
  // MODIFYCHANNEL_RESPONSE is not delayed: it overtakes the held ones.
  ModifyChannel mc = msg<ModifyChannel>(MsgType::kModifyChannel);
  mc.child_relid = 1;
  mc.target_vp = 1;
  post_msg(mc);
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), static_cast<uint32_t>(MsgType::kModifyChannelResponse));
  std::optional<VirtualTime> next = host_->poll(now_);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, t0 + VirtualTime::from_us(100)) << "the host asks to be polled at the release";
  host_->poll(*next - VirtualTime::from_ps(1));
  EXPECT_TRUE(take().empty());
  now_ = *next;
  host_->poll(now_);
  out = take();
  ASSERT_EQ(out.size(), 2u) << "OPENCHANNEL_RESULT (10 us) waited for the earlier GPADL_CREATED (100 us)";
  EXPECT_EQ(out[0].type(), static_cast<uint32_t>(MsgType::kGpadlCreated));
  EXPECT_EQ(out[1].type(), static_cast<uint32_t>(MsgType::kOpenChannelResult));
  EXPECT_EQ(traced("\"fault\":\"released\""), 2u);
}

TEST_F(VmbusFaultTest, ClearedRulesAndDisconnectsBoundTheResponseControl) {
  make();
  connect();
  take();
  host_->delay(MsgType::kOfferChannel, VirtualTime::from_ms(1), VmbusHost::kUntilCleared);
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  EXPECT_EQ(take().size(), 1u) << "ALLOFFERS_DELIVERED overtakes the delayed offers";
  post_msg(msg<MsgHeader>(MsgType::kUnload));
  EXPECT_EQ(traced("\"fault\":\"delayed_dropped\",\"count\":3"), 1u) << "held messages die with the connection";
  advance(VirtualTime::from_ms(2));
  std::vector<Posted> out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), static_cast<uint32_t>(MsgType::kUnloadResponse));
  host_->clear_response_control();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  EXPECT_EQ(take().size(), 5u) << "version response, three offers, all delivered";
  // The held queue is bounded.
  host_->delay(MsgType::kGpadlTorndown, VirtualTime::from_ms(1000), VmbusHost::kUntilCleared);
  for (size_t i = 0; i < ResponseControl::kHeldDepth + 5; ++i) {
    create_gpadl(static_cast<uint32_t>(100 + i), 1, 0x40, 2);
    GpadlTeardown t = msg<GpadlTeardown>(MsgType::kGpadlTeardown);
    t.gpadl = static_cast<uint32_t>(100 + i);
    ASSERT_EQ(host_->post_message(0, 1, bytes_of(t), now_), 0);
  }
  advance(kLatency);
  EXPECT_EQ(traced("\"fault\":\"delay_dropped\""), 5u);
}

// --- ring injection ---

TEST_F(VmbusFaultTest, InjectedPacketsAreWrittenAsIsAndSignalledByTheRules) {
  open_a();
  // A descriptor that lies: len8 100 for a 16-byte packet, forged transaction id.
  PacketDescriptor lie{kPktComp, 2, 100, 0, 0xDEADBEEFCAFEull};
  ASSERT_TRUE(host_->inject_packet(1, bytes_of(lie), now_));
  EXPECT_EQ(in_write_index(), 24u) << "16 bytes + trailer";
  PacketDescriptor seen{};
  for (size_t i = 0; i < sizeof seen; ++i) reinterpret_cast<uint8_t*>(&seen)[i] = in_byte(static_cast<uint32_t>(i));
  EXPECT_EQ(seen.len8, 100);
  EXPECT_EQ(seen.trans_id, 0xDEADBEEFCAFEull);
  ASSERT_EQ(platform_.signals.size(), 1u) << "empty -> non-empty";
  EXPECT_EQ(platform_.signals[0], (std::pair<VpIndex, uint32_t>{2, 1}));
  // A short packet (3 bytes): padded to 8, trailer follows; the ring was not empty: no signal.
  const uint8_t shorty[3] = {1, 2, 3};
  ASSERT_TRUE(host_->inject_packet(1, shorty, now_));
  EXPECT_EQ(in_write_index(), 24u + 16u);
  EXPECT_EQ(in_byte(24), 1);
  EXPECT_EQ(in_byte(27), 0) << "zero padding";
  EXPECT_EQ(mem_.get<uint64_t>(kInData + 32), uint64_t{24} << 32) << "trailer: the old write index";
  EXPECT_EQ(platform_.signals.size(), 1u);
  // A valid inband packet.
  guest_consume_all();
  const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(host_->inject_inband(1, payload, 77, kPacketFlagCompletionRequested, now_));
  PacketDescriptor d{};
  for (size_t i = 0; i < sizeof d; ++i) reinterpret_cast<uint8_t*>(&d)[i] = in_byte(static_cast<uint32_t>(40 + i));
  EXPECT_EQ(d.type, kPktDataInband);
  EXPECT_EQ(d.offset8, 2);
  EXPECT_EQ(d.len8, 3);
  EXPECT_EQ(d.trans_id, 77u);
  EXPECT_EQ(d.flags, kPacketFlagCompletionRequested);
  EXPECT_EQ(in_byte(56), 'h');
  EXPECT_EQ(platform_.signals.size(), 2u);
  EXPECT_EQ(traced("\"event\":\"inject_packet\",\"injected\":true"), 2u);
}

TEST_F(VmbusFaultTest, InjectionsThatCannotApplyFailWithoutHarm) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  const uint8_t x[8] = {};
  EXPECT_FALSE(host_->inject_packet(1, x, now_)) << "offered, not open";
  EXPECT_FALSE(host_->inject_inband(99, x, 1, 0, now_)) << "unknown relid";
  EXPECT_FALSE(host_->rewrite_last_packet(1, 0, x, now_));
  open_channel(1);
  EXPECT_FALSE(host_->rewrite_last_packet(1, 0, x, now_)) << "no packet written since the open";
  std::vector<uint8_t> huge(kInDataSize, 0xEE);
  EXPECT_FALSE(host_->inject_packet(1, huge, now_)) << "can never fit the ring";
  EXPECT_FALSE(host_->inject_inband(1, huge, 1, 0, now_));
  EXPECT_EQ(traced("vmbus.protocol_error"), 0u) << "the injector's mistake is no guest violation";
  EXPECT_TRUE(host_->inject_inband(1, x, 1, 0, now_)) << "the channel still works";
  EXPECT_FALSE(host_->rewrite_last_packet(1, 25, x, now_)) << "past the 32-byte packet";
  EXPECT_FALSE(host_->rewrite_last_packet(1, 0, {}, now_)) << "nothing to write";
  // Fill the ring: injection reports it full.
  std::vector<uint8_t> big(4000, 1);
  int written = 0;
  while (host_->inject_packet(1, big, now_)) ++written;
  EXPECT_EQ(written, 3) << "three 4008-byte packets fit the 12 KiB ring with 32 bytes used";
  EXPECT_NE(mem_.get<uint32_t>(kInCtl + 12), 0u) << "pending_send_sz set: the host waits for space";
}

// --- TOCTOU rewrites ---

TEST_F(VmbusFaultTest, LastPacketIsRewrittenOnlyAfterTheGuestReadsPastIt) {
  open_a();
  const uint8_t one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  const uint8_t two[8] = {2, 2, 2, 2, 2, 2, 2, 2};
  ASSERT_TRUE(host_->inject_inband(1, one, 1, 0, now_));  // bytes [0, 32)
  ASSERT_TRUE(host_->inject_inband(1, two, 2, 0, now_));  // bytes [32, 64)
  const uint8_t evil[4] = {0xEE, 0xEE, 0xEE, 0xEE};
  ASSERT_TRUE(host_->rewrite_last_packet(1, 16, evil, now_));
  std::optional<VirtualTime> next = host_->poll(now_);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, now_ + kLatency) << "the host watches the guest's read_index";
  advance(kLatency);
  EXPECT_EQ(in_byte(48), 2) << "unread: untouched";
  mem_.put<uint32_t>(kInCtl + 4, 32);  // the guest consumed the first packet only
  advance(kLatency);
  EXPECT_EQ(in_byte(48), 2) << "read_index at the packet's start: not yet read";
  mem_.put<uint32_t>(kInCtl + 4, 64);  // and the second
  advance(kLatency);
  EXPECT_EQ(in_byte(48), 0xEE);
  EXPECT_EQ(in_byte(51), 0xEE);
  EXPECT_EQ(in_byte(52), 2) << "only the requested bytes";
  EXPECT_EQ(in_byte(16), 1) << "the earlier packet is untouched";
  EXPECT_EQ(traced("\"result\":\"rewritten\""), 1u);
  EXPECT_FALSE(host_->poll(now_)) << "disarmed: nothing more to watch";
  EXPECT_EQ(traced("vmbus.protocol_error"), 0u) << "a rewrite touches no index";
}

TEST_F(VmbusFaultTest, RewriteHappensBeforeTheNextHostWriteAndDiesWithTheChannel) {
  open_a();
  const uint8_t one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  const uint8_t evil[1] = {0xEE};
  ASSERT_TRUE(host_->inject_inband(1, one, 1, 0, now_));
  ASSERT_TRUE(host_->rewrite_last_packet(1, 8, evil, now_));  // the trans_id's low byte
  guest_consume_all();
  ASSERT_TRUE(host_->inject_inband(1, one, 2, 0, now_));  // no poll in between
  EXPECT_EQ(in_byte(8), 0xEE);
  EXPECT_EQ(traced("\"result\":\"rewritten\""), 1u);
  // Armed, then the guest closes the channel: dropped.
  ASSERT_TRUE(host_->rewrite_last_packet(1, 8, evil, now_));
  CloseChannel c = msg<CloseChannel>(MsgType::kCloseChannel);
  c.child_relid = 1;
  post_msg(c);
  EXPECT_EQ(traced("\"result\":\"dropped\""), 1u);
  EXPECT_FALSE(host_->poll(now_));
}

TEST_F(VmbusFaultTest, LastMessageIsRewrittenThroughThePlatformWhileTheSlotIsHeld) {
  make();
  const uint8_t zero[1] = {0};
  EXPECT_FALSE(host_->rewrite_last_message(0, zero, VirtualTime{}, now_)) << "nothing delivered yet";
  connect();
  ASSERT_EQ(platform_.posted.size(), 1u);
  EXPECT_FALSE(host_->rewrite_last_message(16, zero, VirtualTime{}, now_)) << "beyond the 16-byte message";
  ASSERT_TRUE(host_->rewrite_last_message(8, zero, VirtualTime::from_us(10), now_));  // version_supported
  std::optional<VirtualTime> next = host_->poll(now_);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, now_ + VirtualTime::from_us(10));
  EXPECT_EQ(platform_.posted[0].as<VersionResponse>().version_supported, 1);
  advance(VirtualTime::from_us(10));
  EXPECT_EQ(platform_.posted[0].as<VersionResponse>().version_supported, 0) << "rewritten in the slot";
  EXPECT_EQ(traced("\"fault\":\"rewrite_message\",\"offset\":8,\"size\":1,\"result\":\"rewritten\""), 1u);
  // Once the guest has freed the slot, the platform refuses.
  platform_.slot_held = false;
  ASSERT_TRUE(host_->rewrite_last_message(8, zero, VirtualTime{}, now_));
  advance(VirtualTime::from_us(1));
  EXPECT_EQ(traced("\"result\":\"not_in_slot\""), 1u);
}

// --- seeded fault points ---

TEST_F(VmbusFaultTest, FaultPointsAreValidated) {
  make();
  std::string error;
  EXPECT_FALSE(host_->set_fault("drop_everything", 1, 2, 1, &error));
  EXPECT_NE(error.find("valid: drop_signal, delay_drain, busy_outbox"), std::string::npos) << error;
  EXPECT_FALSE(host_->set_fault("drop_signal", 1, 0, 1, &error));
  EXPECT_FALSE(host_->set_fault("drop_signal", 3, 2, 1, &error));
  EXPECT_TRUE(host_->set_fault("drop_signal", 0, 1, 1, &error)) << "0 disarms";
}

TEST_F(VmbusFaultTest, DropSignalIsSeededAndRepeatable) {
  std::vector<std::vector<bool>> runs;
  for (uint64_t seed : {5u, 5u, 6u}) {
    open_a();
    ASSERT_TRUE(host_->set_fault("drop_signal", 1, 2, seed));
    runs.push_back(dropped_pattern(64));
  }
  EXPECT_EQ(runs[0], runs[1]) << "same seed, same faults";
  EXPECT_NE(runs[0], runs[2]) << "another seed, other faults";
  size_t drops = std::count(runs[0].begin(), runs[0].end(), true);
  EXPECT_GT(drops, 16u);
  EXPECT_LT(drops, 48u);
  size_t all_drops = 0;
  for (const std::vector<bool>& r : runs) all_drops += static_cast<size_t>(std::count(r.begin(), r.end(), true));
  EXPECT_EQ(traced("\"fault\":\"drop_signal\""), all_drops) << "every dropped signal is traced";
  host_->clear_faults();
  std::vector<bool> none = dropped_pattern(8);
  EXPECT_EQ(std::count(none.begin(), none.end(), true), 0);
}

TEST_F(VmbusFaultTest, DelayDrainPostponesTheDrainByAWholeNumberOfLatencies) {
  open_a();
  ASSERT_TRUE(host_->set_fault("delay_drain", 1, 1, 9));
  uint8_t hello[8] = {'h', 'i'};
  guest_write(hello);
  EXPECT_EQ(signal(1), 0);
  std::optional<VirtualTime> next = host_->poll(now_);
  ASSERT_TRUE(next);
  const uint64_t extra = (*next - now_).ps();
  EXPECT_GE(extra, 2 * kLatency.ps());
  EXPECT_LE(extra, 101 * kLatency.ps());
  EXPECT_EQ(extra % kLatency.ps(), 0u);
  EXPECT_EQ(traced("\"fault\":\"delay_drain\""), 1u);
  host_->poll(*next - VirtualTime::from_ps(1));
  EXPECT_TRUE(devices_[0]->packets.empty());
  now_ = *next;
  host_->poll(now_);
  EXPECT_EQ(devices_[0]->packets.size(), 1u);
}

TEST_F(VmbusFaultTest, BusyOutboxDelaysEachMessageOnce) {
  make();
  ASSERT_TRUE(host_->set_fault("busy_outbox", 1, 1, 3));
  connect();
  EXPECT_TRUE(platform_.posted.empty()) << "VERSION_RESPONSE met a 'busy' SynIC";
  EXPECT_EQ(traced("\"fault\":\"busy_outbox\""), 1u);
  advance(kLatency);
  ASSERT_EQ(platform_.posted.size(), 1u) << "delivered at the retry";
  EXPECT_EQ(platform_.posted[0].type(), static_cast<uint32_t>(MsgType::kVersionResponse));
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  for (int i = 0; i < 8 && platform_.posted.size() < 5; ++i) advance(kLatency);
  EXPECT_EQ(platform_.posted.size(), 5u) << "every message goes out, each delayed at most once";
}

// --- robustness ---

TEST_F(VmbusFaultTest, SeededMalformedInjectionsNeverCrashTheHost) {
  open_a();
  const char* names[] = {"child_relid", "status", "gpadl", "openid", "msgtype", "bogus", "connection_id", "monitorid"};
  RngStream rng(7, "vmbus-fault-garbage");
  ASSERT_TRUE(host_->set_fault("drop_signal", 1, 3, 1));
  ASSERT_TRUE(host_->set_fault("busy_outbox", 1, 3, 2));
  ASSERT_TRUE(host_->set_fault("delay_drain", 1, 3, 3));
  size_t injected = 0, reopened = 0;
  for (int i = 0; i < 2000; ++i) {
    const Channel::OpenState* o = host_->channel(1)->open_state();
    if (!o || o->broken) {  // the guest broke its ring: it closes, re-initialises and reopens
      CloseChannel c = msg<CloseChannel>(MsgType::kCloseChannel);
      c.child_relid = 1;
      post_msg(c);
      for (uint64_t a : {kRingGpa, kInCtl})
        for (uint64_t off = 0; off < 4096; off += 8) mem_.put<uint64_t>(a + off, 0);
      open_channel(1, 2, static_cast<uint32_t>(0x1000 + ++reopened));
    }
    auto relid = static_cast<uint32_t>(rng.below(4));
    std::vector<uint8_t> bytes(rng.below(rng.chance(1, 8) ? 14000 : 300));
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng.next_u64());
    switch (rng.below(7)) {
      case 0: injected += host_->inject_packet(relid, bytes, now_); break;
      case 1: injected += host_->inject_inband(relid, bytes, rng.next_u64(), static_cast<uint16_t>(rng.next_u64()), now_); break;
      case 2: host_->rewrite_last_packet(relid, static_cast<uint32_t>(rng.below(200)), bytes, now_); break;
      case 3: host_->send_raw(bytes, now_); break;
      case 4: {
        std::map<std::string, uint64_t> fields{{names[rng.below(8)], rng.next_u64() & 0xFFFF}};
        VmbusHost::BuiltMessage m = host_->build_message(static_cast<MsgType>(rng.below(30)), fields,
                                                         rng.chance(1, 2) ? std::optional<size_t>(rng.below(260)) : std::nullopt);
        if (m.error.empty()) {
          EXPECT_TRUE(host_->send_raw(m.bytes, now_));
        }
        break;
      }
      case 5: host_->rewrite_last_message(static_cast<uint32_t>(rng.below(250)), bytes, VirtualTime::from_us(rng.below(20)), now_); break;
      default:  // the guest scribbles on the host->guest ring's control page or consumes
        if (rng.chance(1, 8)) mem_.put<uint32_t>(kInCtl + 4 * rng.below(4), static_cast<uint32_t>(rng.next_u64()));
        else guest_consume_all();
        break;
    }
    if (rng.chance(1, 4)) host_->withhold(static_cast<MsgType>(rng.below(25)), static_cast<uint32_t>(rng.below(3)));
    if (rng.chance(1, 4)) host_->delay(static_cast<MsgType>(rng.below(25)), VirtualTime::from_us(rng.below(50)), 2);
    advance(kLatency);
  }
  EXPECT_GT(injected, 100u);
  EXPECT_GT(reopened, 0u);
  EXPECT_LE(platform_.posted.size(), 2000u);
}

}  // namespace
}  // namespace hvsim::vmbus
