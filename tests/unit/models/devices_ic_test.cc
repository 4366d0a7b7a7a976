// The integration-component devices (models/devices/ic, heartbeat, shutdown, timesync, kvp) driven
// through a recording ChannelIo: negotiation, reply validation, timing and exact wire contents.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/devices/heartbeat/device.h"
#include "models/devices/heartbeat/protocol.h"
#include "models/devices/ic/ic.h"
#include "models/devices/ic/protocol.h"
#include "models/devices/kvp/device.h"
#include "models/devices/shutdown/device.h"
#include "models/devices/shutdown/protocol.h"
#include "models/devices/timesync/device.h"
#include "models/devices/timesync/protocol.h"
#include "tests/support/payload_bytes.h"
#include "tests/support/recording_channel_io.h"

namespace hvsim::devices {
namespace {

using test::Bytes;
using ic::IcDevice;
using ic::IcVersion;

constexpr VirtualTime ms(uint64_t n) { return VirtualTime::from_ms(n); }

using Sent = test::SentPacket;
using FakeIo = test::RecordingChannelIo;

// --- wire helpers (offsets from PROTOCOL.md §7.2) ---
using test::get;
using test::put;
constexpr size_t kMsgType = 12, kMsgSize = 18, kStatus = 20, kTxId = 24, kFlags = 25, kBody = 28;

vmbus::RingPacket packet_of(uint16_t type, uint64_t trans_id, const Bytes& payload) {
  return test::guest_packet(type, 0, trans_id, payload);
}

// The guest's in-place answer to `req`: icflags TRANSACTION|RESPONSE, everything else unchanged.
Bytes answer(const Sent& req) {
  Bytes b = req.payload;
  put<uint8_t>(b, kFlags, ic::kFlagsResponse);
  return b;
}
// A Linux-style negotiate answer choosing (fw, msg).
Bytes negotiate_answer(const Sent& req, IcVersion fw, IcVersion msg) {
  Bytes b = answer(req);
  put<uint16_t>(b, kMsgSize, 16);
  put<uint16_t>(b, kBody, 1);
  put<uint16_t>(b, kBody + 2, 1);
  put<IcVersion>(b, kBody + 8, fw);
  put<IcVersion>(b, kBody + 12, msg);
  return b;
}
Bytes refuse_answer(const Sent& req) {
  Bytes b = answer(req);
  put<uint16_t>(b, kMsgSize, 16);
  put<uint16_t>(b, kBody, 0);
  put<uint16_t>(b, kBody + 2, 0);
  put<uint32_t>(b, kStatus, ic::kStatusFail);
  return b;
}
void reply(IcDevice& dev, const Sent& req, const Bytes& b, VirtualTime now) {
  dev.packet(packet_of(vmbus::kPktDataInband, req.trans_id, b), now);
}
void negotiate(IcDevice& dev, FakeIo& io, IcVersion msg, VirtualTime now, IcVersion fw = {3, 0}) {
  ASSERT_FALSE(io.sent.empty());
  reply(dev, io.sent.back(), negotiate_answer(io.sent.back(), fw, msg), now);
  ASSERT_EQ(dev.phase(), IcDevice::Phase::kReady);
}

vmbus::DeviceDesc desc_named(const char* name) {
  vmbus::DeviceDesc d;
  d.name = name;
  return d;
}

std::unique_ptr<IcDevice> make_ic(const std::string& type) {
  if (type == "heartbeat") return std::make_unique<HeartbeatDevice>(desc_named("hb"), HeartbeatParams{}, 1000);
  if (type == "shutdown") return std::make_unique<ShutdownDevice>(desc_named("sd"), ShutdownParams{});
  if (type == "timesync") return std::make_unique<TimesyncDevice>(desc_named("ts"), TimesyncParams{});
  return std::make_unique<KvpDevice>(desc_named("kvp"));
}

// ------------------------------------------------------------------------------------------------
// Negotiation

TEST(DevicesIc, NegotiateRequestIsExact) {
  FakeIo io;
  KvpDevice kvp(desc_named("kvp"));
  kvp.opened(io, ms(1));
  EXPECT_EQ(kvp.phase(), IcDevice::Phase::kNegotiating);
  ASSERT_EQ(io.sent.size(), 1u);
  const Sent& s = io.sent[0];
  EXPECT_EQ(s.type, vmbus::kPktDataInband);
  EXPECT_EQ(s.flags, 0);
  EXPECT_EQ(s.trans_id, 1u);
  // 28 header bytes + negotiate header (8) + 2 framework + 3 message versions.
  ASSERT_EQ(s.payload.size(), 28u + 8 + 5 * 4);
  EXPECT_EQ(get<uint32_t>(s.payload, 0), ic::kPipeData);
  EXPECT_EQ(get<uint32_t>(s.payload, 4), 20u + 8 + 5 * 4);
  EXPECT_EQ(get<IcVersion>(s.payload, 8), (IcVersion{3, 0}));
  EXPECT_EQ(get<uint16_t>(s.payload, kMsgType), ic::kMsgTypeNegotiate);
  EXPECT_EQ(get<IcVersion>(s.payload, 14), (IcVersion{4, 0}));
  EXPECT_EQ(get<uint16_t>(s.payload, kMsgSize), 8 + 5 * 4);
  EXPECT_EQ(get<uint32_t>(s.payload, kStatus), 0u);
  EXPECT_EQ(get<uint8_t>(s.payload, kTxId), 1);
  EXPECT_EQ(get<uint8_t>(s.payload, kFlags), ic::kFlagTransaction | ic::kFlagRequest);
  EXPECT_EQ(get<uint16_t>(s.payload, kBody), 2);
  EXPECT_EQ(get<uint16_t>(s.payload, kBody + 2), 3);
  const IcVersion expected[] = {{3, 0}, {1, 0}, {4, 0}, {3, 0}, {1, 0}};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(get<IcVersion>(s.payload, kBody + 8 + 4 * i), expected[i]) << i;
}

struct Offer {
  const char* type;
  std::vector<IcVersion> message_versions;
};
const std::vector<Offer> kOffers = {
    {"heartbeat", {{3, 0}, {1, 0}}},
    {"shutdown", {{3, 2}, {3, 1}, {3, 0}, {1, 0}}},
    {"timesync", {{4, 0}, {3, 0}, {1, 0}}},
    {"kvp", {{4, 0}, {3, 0}, {1, 0}}},
};

TEST(DevicesIc, EveryServiceOffersItsVersionsAndAcceptsEachChoice) {
  for (const Offer& offer : kOffers) {
    for (IcVersion fw : {IcVersion{3, 0}, IcVersion{1, 0}}) {
      for (IcVersion msg : offer.message_versions) {
        SCOPED_TRACE(std::string(offer.type) + " fw " + ic::version_string(fw) + " msg " + ic::version_string(msg));
        FakeIo io;
        auto dev = make_ic(offer.type);
        dev->opened(io, ms(2));
        ASSERT_EQ(io.sent.size(), 1u);
        const Bytes& req = io.sent[0].payload;
        ASSERT_EQ(get<uint16_t>(req, kBody + 2), offer.message_versions.size());
        for (size_t i = 0; i < offer.message_versions.size(); ++i)
          EXPECT_EQ(get<IcVersion>(req, kBody + 8 + 8 + 4 * i), offer.message_versions[i]);

        reply(*dev, io.sent[0], negotiate_answer(io.sent[0], fw, msg), ms(3));
        EXPECT_EQ(dev->phase(), IcDevice::Phase::kReady);
        EXPECT_EQ(dev->framework_version(), fw);
        EXPECT_EQ(dev->message_version(), msg);
        const auto done = io.named("ic.negotiated");
        ASSERT_EQ(done.size(), 1u);
        EXPECT_EQ(done[0].t, ms(3));
        EXPECT_EQ(done[0].fields.at("framework"), ic::version_string(fw));
        EXPECT_EQ(done[0].fields.at("message"), ic::version_string(msg));
        EXPECT_TRUE(io.named("ic.bad_reply").empty());
      }
    }
  }
}

TEST(DevicesIc, CountsZeroEndsNegotiationAndNothingMoreIsSent) {
  for (const Offer& offer : kOffers) {
    SCOPED_TRACE(offer.type);
    FakeIo io;
    auto dev = make_ic(offer.type);
    if (auto* sd = dynamic_cast<ShutdownDevice*>(dev.get())) sd->request_shutdown(ms(0), 0);
    dev->opened(io, ms(1));
    reply(*dev, io.sent[0], refuse_answer(io.sent[0]), ms(2));
    EXPECT_EQ(dev->phase(), IcDevice::Phase::kFailed);
    const auto failed = io.named("ic.negotiate_failed");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].fields.at("status"), "0x80004005");
    EXPECT_FALSE(dev->poll(ms(2)).has_value());
    EXPECT_FALSE(dev->poll(ms(100000)).has_value());
    EXPECT_EQ(io.sent.size(), 1u);
    EXPECT_EQ(dev->outstanding_requests(), 0u);
  }
}

TEST(DevicesIc, FailureStatusWithOneVersionPairAlsoFails) {
  FakeIo io;
  HeartbeatDevice hb(desc_named("hb"), {}, 5);
  hb.opened(io, ms(0));
  Bytes b = negotiate_answer(io.sent[0], {3, 0}, {3, 0});
  put<uint32_t>(b, kStatus, ic::kStatusFail);
  reply(hb, io.sent[0], b, ms(1));
  EXPECT_EQ(hb.phase(), IcDevice::Phase::kFailed);
  EXPECT_EQ(io.sent.size(), 1u);
}

// Every kind of malformed negotiate reply is traced and ignored; a correct reply still works after.
TEST(DevicesIc, MalformedRepliesAreTracedAndIgnored) {
  struct Case {
    const char* reason;
    std::function<vmbus::RingPacket(const Sent&)> make;
  };
  auto inband = [](const Sent& req, Bytes b) { return packet_of(vmbus::kPktDataInband, req.trans_id, b); };
  auto good = [](const Sent& req) { return negotiate_answer(req, {3, 0}, {4, 0}); };
  const std::vector<Case> cases = {
      {"too short", [&](const Sent& req) { Bytes b = good(req); b.resize(20); return inband(req, b); }},
      {"too short", [&](const Sent& req) {
         auto p = inband(req, good(req));
         p.desc.offset8 = p.desc.len8;  // an empty payload
         return p;
       }},
      {"packet type not inband", [&](const Sent& req) { return packet_of(vmbus::kPktComp, req.trans_id, good(req)); }},
      {"unsolicited request", [&](const Sent& req) {
         Bytes b = good(req);
         put<uint8_t>(b, kFlags, ic::kFlagsRequest);
         return inband(req, b);
       }},
      {"bad icflags", [&](const Sent& req) { Bytes b = good(req); put<uint8_t>(b, kFlags, 0); return inband(req, b); }},
      {"unknown trans_id", [&](const Sent& req) { return packet_of(vmbus::kPktDataInband, 99, good(req)); }},
      {"ictransaction_id mismatch", [&](const Sent& req) {
         Bytes b = good(req);
         put<uint8_t>(b, kTxId, 2);
         return inband(req, b);
       }},
      {"icmsgtype mismatch", [&](const Sent& req) {
         Bytes b = good(req);
         put<uint16_t>(b, kMsgType, ic::kMsgTypeKvpExchange);
         return inband(req, b);
       }},
      {"icmsgsize exceeds packet", [&](const Sent& req) {
         Bytes b = good(req);
         put<uint16_t>(b, kMsgSize, static_cast<uint16_t>(b.size()));  // body would run past the end
         return inband(req, b);
       }},
      {"icmsgsize too small", [&](const Sent& req) { Bytes b = good(req); put<uint16_t>(b, kMsgSize, 4); return inband(req, b); }},
      {"icmsgsize too small", [&](const Sent& req) { Bytes b = good(req); put<uint16_t>(b, kMsgSize, 12); return inband(req, b); }},
      {"bad version counts", [&](const Sent& req) { Bytes b = good(req); put<uint16_t>(b, kBody, 2); return inband(req, b); }},
      {"bad version counts", [&](const Sent& req) { Bytes b = good(req); put<uint16_t>(b, kBody + 2, 0); return inband(req, b); }},
      {"version not offered", [&](const Sent& req) { return inband(req, negotiate_answer(req, {2, 0}, {4, 0})); }},
      {"version not offered", [&](const Sent& req) { return inband(req, negotiate_answer(req, {3, 0}, {5, 0})); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    FakeIo io;
    KvpDevice kvp(desc_named("kvp"));
    kvp.opened(io, ms(0));
    kvp.packet(c.make(io.sent[0]), ms(1));
    const auto bad = io.named("ic.bad_reply");
    ASSERT_EQ(bad.size(), 1u);
    EXPECT_EQ(bad[0].fields.at("reason"), c.reason);
    EXPECT_EQ(bad[0].t, ms(1));
    EXPECT_EQ(kvp.phase(), IcDevice::Phase::kNegotiating);
    EXPECT_EQ(kvp.outstanding_requests(), 1u);
    reply(kvp, io.sent[0], good(io.sent[0]), ms(2));
    EXPECT_EQ(kvp.phase(), IcDevice::Phase::kReady);
  }
}

TEST(DevicesIc, RepliesAfterNegotiationAreUnsolicited) {
  FakeIo io;
  KvpDevice kvp(desc_named("kvp"));
  kvp.opened(io, ms(0));
  negotiate(kvp, io, {4, 0}, ms(1));
  reply(kvp, io.sent[0], negotiate_answer(io.sent[0], {3, 0}, {4, 0}), ms(2));  // a duplicate
  const auto bad = io.named("ic.bad_reply");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].fields.at("reason"), "unknown trans_id");
  EXPECT_EQ(bad[0].fields.at("trans_id"), "1");
  EXPECT_FALSE(kvp.poll(ms(1000000)).has_value());
  EXPECT_EQ(io.sent.size(), 1u);
}

TEST(DevicesIc, FullRingKeepsTheRequestUntilSpaceIsAvailable) {
  FakeIo io;
  io.room = 0;
  KvpDevice kvp(desc_named("kvp"));
  kvp.opened(io, ms(0));
  EXPECT_TRUE(io.sent.empty());
  EXPECT_EQ(io.named("ic.ring_full").size(), 1u);
  // A well-formed reply to the request the guest never saw (an identical device's) is not accepted.
  FakeIo twin_io;
  KvpDevice twin(desc_named("kvp"));
  twin.opened(twin_io, ms(0));
  reply(kvp, twin_io.sent[0], negotiate_answer(twin_io.sent[0], {3, 0}, {4, 0}), ms(1));
  ASSERT_EQ(io.named("ic.bad_reply").size(), 1u);
  EXPECT_EQ(io.named("ic.bad_reply")[0].fields.at("reason"), "unknown trans_id");
  EXPECT_EQ(kvp.phase(), IcDevice::Phase::kNegotiating);
  io.room = FakeIo::kUnlimited;
  kvp.space_available(ms(2));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].trans_id, 1u);
  negotiate(kvp, io, {3, 0}, ms(3));
}

TEST(DevicesIc, ReopenRestartsNegotiationAndTransactionIds) {
  FakeIo io1;
  HeartbeatDevice hb(desc_named("hb"), {}, 7);
  hb.opened(io1, ms(0));
  negotiate(hb, io1, {3, 0}, ms(1));
  EXPECT_EQ(io1.sent.back().trans_id, 2u);  // the first heartbeat
  hb.closed(ms(5));
  EXPECT_EQ(hb.phase(), IcDevice::Phase::kClosed);
  EXPECT_FALSE(hb.poll(ms(5000)).has_value());
  EXPECT_EQ(io1.sent.size(), 2u);

  FakeIo io2;
  hb.opened(io2, ms(6000));
  ASSERT_EQ(io2.sent.size(), 1u);
  EXPECT_EQ(io2.sent[0].trans_id, 1u);
  EXPECT_EQ(get<uint16_t>(io2.sent[0].payload, kMsgType), ic::kMsgTypeNegotiate);
  negotiate(hb, io2, {1, 0}, ms(6001), {1, 0});
  EXPECT_EQ(hb.message_version(), (IcVersion{1, 0}));
  EXPECT_TRUE(io2.named("heartbeat.missed").empty());  // the old channel's request was dropped with it
}

TEST(DevicesIc, OutstandingRequestsAreBounded) {
  FakeIo io;
  TimesyncDevice ts(desc_named("ts"), TimesyncParams{0, ms(10)});
  ts.opened(io, ms(0));
  negotiate(ts, io, {4, 0}, ms(0));  // SYNC: trans_id 2
  for (uint64_t k = 1; k <= IcDevice::kMaxOutstanding; ++k) ts.poll(ms(10 * k));
  EXPECT_EQ(ts.outstanding_requests(), IcDevice::kMaxOutstanding);
  const auto dropped = io.named("ic.dropped");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].fields.at("trans_id"), "2");
}

// ------------------------------------------------------------------------------------------------
// Heartbeat

class DevicesHeartbeat : public ::testing::Test {
 protected:
  void SetUp() override {
    hb.opened(io, ms(1));
    negotiate(hb, io, {3, 0}, t0);
  }
  const Sent& last() { return io.sent.back(); }
  Bytes seq_answer(const Sent& req, uint64_t seq) {
    Bytes b = answer(req);
    put<uint64_t>(b, kBody, seq);
    return b;
  }

  static constexpr VirtualTime t0 = VirtualTime::from_ms(10);
  static constexpr VirtualTime period = VirtualTime::from_ms(250);
  FakeIo io;
  HeartbeatDevice hb{desc_named("hb"), HeartbeatParams{period}, 1000};
};

TEST_F(DevicesHeartbeat, FirstRequestAtNegotiationThenEveryPeriod) {
  ASSERT_EQ(io.sent.size(), 2u);
  const Sent& req = io.sent[1];
  EXPECT_EQ(req.trans_id, 2u);
  EXPECT_EQ(req.type, vmbus::kPktDataInband);
  ASSERT_EQ(req.payload.size(), 28u + 40);
  EXPECT_EQ(get<uint16_t>(req.payload, kMsgType), ic::kMsgTypeHeartbeat);
  EXPECT_EQ(get<IcVersion>(req.payload, 8), (IcVersion{3, 0}));
  EXPECT_EQ(get<IcVersion>(req.payload, 14), (IcVersion{3, 0}));
  EXPECT_EQ(get<uint16_t>(req.payload, kMsgSize), 40);
  EXPECT_EQ(get<uint8_t>(req.payload, kTxId), 2);
  EXPECT_EQ(get<uint64_t>(req.payload, kBody), 1000u);
  EXPECT_EQ(hb.poll(t0), t0 + period);
  EXPECT_EQ(hb.poll(t0 + period - VirtualTime::from_ps(1)), t0 + period);
  EXPECT_EQ(io.sent.size(), 2u);

  reply(hb, req, seq_answer(req, 1001), t0 + ms(1));
  const auto ok = io.named("heartbeat.ok");
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].fields.at("seq"), "1001");

  EXPECT_EQ(hb.poll(t0 + period), t0 + period + period);
  ASSERT_EQ(io.sent.size(), 3u);
  EXPECT_EQ(get<uint64_t>(last().payload, kBody), 1001u);
  EXPECT_EQ(last().trans_id, 3u);
  EXPECT_TRUE(io.named("heartbeat.missed").empty());
  EXPECT_EQ(hb.stats().requests, 2u);
  EXPECT_EQ(hb.stats().ok, 1u);
}

TEST_F(DevicesHeartbeat, WrongSequenceIsReported) {
  reply(hb, last(), seq_answer(last(), 1000), t0 + ms(1));
  const auto bad = io.named("heartbeat.bad_seq");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].fields.at("expected"), "1001");
  EXPECT_EQ(bad[0].fields.at("got"), "1000");
  EXPECT_TRUE(io.named("heartbeat.ok").empty());
  EXPECT_EQ(hb.stats().bad_seq, 1u);
}

TEST_F(DevicesHeartbeat, UnansweredRequestIsMissedWhenTheNextIsDue) {
  const Sent first = last();
  hb.poll(t0 + period);
  const auto missed = io.named("heartbeat.missed");
  ASSERT_EQ(missed.size(), 1u);
  EXPECT_EQ(missed[0].fields.at("seq"), "1000");
  EXPECT_EQ(missed[0].t, t0 + period);
  EXPECT_EQ(get<uint64_t>(last().payload, kBody), 1001u);
  // The late answer to the missed request is no longer accepted.
  reply(hb, first, seq_answer(first, 1001), t0 + period + ms(1));
  ASSERT_EQ(io.named("ic.bad_reply").size(), 1u);
  EXPECT_EQ(io.named("ic.bad_reply")[0].fields.at("reason"), "unknown trans_id");
  EXPECT_TRUE(io.named("heartbeat.ok").empty());
  EXPECT_EQ(hb.stats().missed, 1u);
}

TEST_F(DevicesHeartbeat, LatePollSendsOneRequestAndStaysOnTheGrid) {
  reply(hb, last(), seq_answer(last(), 1001), t0 + ms(1));
  EXPECT_EQ(hb.poll(ms(10 + 3 * 250 + 100)), ms(10 + 4 * 250));
  EXPECT_EQ(io.sent.size(), 3u);
}

TEST_F(DevicesHeartbeat, ShortReplyIsRejected) {
  Bytes b = seq_answer(last(), 1001);
  put<uint16_t>(b, kMsgSize, 4);
  reply(hb, last(), b, t0 + ms(1));
  ASSERT_EQ(io.named("ic.bad_reply").size(), 1u);
  EXPECT_EQ(io.named("ic.bad_reply")[0].fields.at("reason"), "icmsgsize too small");
  EXPECT_TRUE(io.named("heartbeat.ok").empty());
  // The request is still open: the real answer is accepted.
  reply(hb, last(), seq_answer(last(), 1001), t0 + ms(2));
  EXPECT_EQ(io.named("heartbeat.ok").size(), 1u);
}

// ------------------------------------------------------------------------------------------------
// Shutdown

TEST(DevicesShutdown, RequestAtTheGivenTimeWithExactBody) {
  FakeIo io;
  ShutdownDevice sd(desc_named("sd"), ShutdownParams{ms(2000), shutdown::kFlagRestart});
  sd.opened(io, ms(0));
  negotiate(sd, io, {3, 2}, ms(1));
  EXPECT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(sd.poll(ms(1)), ms(2000));
  EXPECT_EQ(sd.poll(ms(2000) - VirtualTime::from_ps(1)), ms(2000));
  EXPECT_EQ(io.sent.size(), 1u);

  EXPECT_FALSE(sd.poll(ms(2000)).has_value());
  ASSERT_EQ(io.sent.size(), 2u);
  const Sent& req = io.sent[1];
  EXPECT_EQ(req.trans_id, 2u);
  ASSERT_EQ(req.payload.size(), 28u + 2060);
  EXPECT_EQ(get<uint16_t>(req.payload, kMsgType), ic::kMsgTypeShutdown);
  EXPECT_EQ(get<IcVersion>(req.payload, 14), (IcVersion{3, 2}));
  EXPECT_EQ(get<uint16_t>(req.payload, kMsgSize), 2060);
  EXPECT_EQ(get<uint32_t>(req.payload, kBody), 0u);      // reason_code
  EXPECT_EQ(get<uint32_t>(req.payload, kBody + 4), 0u);  // timeout_seconds
  EXPECT_EQ(get<uint32_t>(req.payload, kBody + 8), shutdown::kFlagRestart);
  for (size_t i = kBody + 12; i < req.payload.size(); ++i) ASSERT_EQ(req.payload[i], 0) << i;
  const auto sent = io.named("shutdown.request");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].t, ms(2000));
  EXPECT_EQ(sent[0].fields.at("flags"), "0x2");

  reply(sd, req, answer(req), ms(2001));
  const auto replies = io.named("shutdown.reply");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].fields.at("ok"), "true");
  EXPECT_EQ(replies[0].fields.at("status"), "0x0");
  EXPECT_EQ(sd.last_reply_status(), 0u);
  EXPECT_FALSE(sd.poll(ms(5000)).has_value());
  EXPECT_EQ(io.sent.size(), 2u);
}

TEST(DevicesShutdown, FailedReplyIsReported) {
  FakeIo io;
  ShutdownDevice sd(desc_named("sd"), ShutdownParams{ms(0), shutdown::kFlagHibernate});
  sd.opened(io, ms(0));
  negotiate(sd, io, {3, 0}, ms(1));  // `at` has passed: sent at negotiation
  ASSERT_EQ(io.sent.size(), 2u);
  Bytes b = answer(io.sent[1]);
  put<uint32_t>(b, kStatus, ic::kStatusFail);
  reply(sd, io.sent[1], b, ms(2));
  const auto replies = io.named("shutdown.reply");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].fields.at("ok"), "false");
  EXPECT_EQ(replies[0].fields.at("status"), "0x80004005");
  EXPECT_EQ(sd.last_reply_status(), ic::kStatusFail);
}

TEST(DevicesShutdown, RequestShutdownApiAndNeverByDefault) {
  FakeIo io;
  ShutdownDevice sd(desc_named("sd"), ShutdownParams{});
  sd.opened(io, ms(0));
  negotiate(sd, io, {3, 1}, ms(1));
  EXPECT_FALSE(sd.poll(ms(100000)).has_value());
  EXPECT_EQ(io.sent.size(), 1u);
  sd.request_shutdown(ms(100500), shutdown::kFlagForce | shutdown::kFlagRestart);
  EXPECT_TRUE(sd.scheduled());
  EXPECT_EQ(sd.poll(ms(100001)), ms(100500));
  EXPECT_FALSE(sd.poll(ms(100600)).has_value());
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(get<uint32_t>(io.sent[1].payload, kBody + 8), 3u);
  EXPECT_FALSE(sd.scheduled());
}

// ------------------------------------------------------------------------------------------------
// Timesync

constexpr uint64_t kEpoch = 133000000000000000ull;

TEST(DevicesTimesync, SyncAtNegotiationThenSamplesWithRefLayout) {
  FakeIo io;
  io.ref_offset = 12345;
  TimesyncDevice ts(desc_named("ts"), TimesyncParams{kEpoch, ms(5000)});
  ts.opened(io, ms(1));
  negotiate(ts, io, {4, 0}, ms(3));
  ASSERT_EQ(io.sent.size(), 2u);
  auto check = [&](const Sent& req, VirtualTime at, uint8_t flags) {
    ASSERT_EQ(req.payload.size(), 28u + 22);
    EXPECT_EQ(get<uint16_t>(req.payload, kMsgType), ic::kMsgTypeTimesync);
    EXPECT_EQ(get<IcVersion>(req.payload, 14), (IcVersion{4, 0}));
    EXPECT_EQ(get<uint16_t>(req.payload, kMsgSize), 22);
    EXPECT_EQ(get<uint64_t>(req.payload, kBody), kEpoch + at.ps() / 100000);        // parenttime
    EXPECT_EQ(get<uint64_t>(req.payload, kBody + 8), at.ps() / 100000 + 12345);    // vmreferencetime
    EXPECT_EQ(get<uint8_t>(req.payload, kBody + 16), flags);
    EXPECT_EQ(get<uint8_t>(req.payload, kBody + 17), 0);  // leapflags
    EXPECT_EQ(get<uint8_t>(req.payload, kBody + 18), 0);  // stratum
  };
  check(io.sent[1], ms(3), timesync::kFlagSync);
  EXPECT_EQ(ts.poll(ms(3)), ms(5003));
  EXPECT_EQ(ts.poll(ms(5003) - VirtualTime::from_ps(1)), ms(5003));
  EXPECT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(ts.poll(ms(5003)), ms(10003));
  ASSERT_EQ(io.sent.size(), 3u);
  check(io.sent[2], ms(5003), timesync::kFlagSample);
  EXPECT_EQ(ts.poll(ms(10004)), ms(15003));
  ASSERT_EQ(io.sent.size(), 4u);
  check(io.sent[3], ms(10004), timesync::kFlagSample);
  EXPECT_EQ(ts.samples_sent(), 2u);

  const auto traced = io.named("timesync.sent");
  ASSERT_EQ(traced.size(), 3u);
  EXPECT_EQ(traced[0].fields.at("kind"), "sync");
  EXPECT_EQ(traced[0].fields.at("layout"), "ref");
  EXPECT_EQ(traced[0].fields.at("parenttime"), std::to_string(kEpoch + 30000));
  EXPECT_EQ(traced[0].fields.at("vmreferencetime"), std::to_string(30000 + 12345));
  EXPECT_EQ(traced[1].fields.at("kind"), "sample");

  reply(ts, io.sent[1], answer(io.sent[1]), ms(4));
  ASSERT_EQ(io.named("timesync.reply").size(), 1u);
  EXPECT_EQ(ts.outstanding_requests(), 2u);
}

TEST(DevicesTimesync, OlderVersionsUseTheLegacyLayout) {
  for (IcVersion msg : {IcVersion{3, 0}, IcVersion{1, 0}}) {
    SCOPED_TRACE(ic::version_string(msg));
    FakeIo io;
    io.ref_offset = 999;
    TimesyncDevice ts(desc_named("ts"), TimesyncParams{kEpoch, ms(1000)});
    ts.opened(io, ms(0));
    negotiate(ts, io, msg, ms(7));
    ts.poll(ms(1007));
    ASSERT_EQ(io.sent.size(), 3u);
    for (size_t i : {size_t{1}, size_t{2}}) {
      const Bytes& p = io.sent[i].payload;
      const uint64_t ref = (i == 1 ? ms(7) : ms(1007)).ps() / 100000;
      ASSERT_EQ(p.size(), 28u + 25);
      EXPECT_EQ(get<IcVersion>(p, 14), msg);
      EXPECT_EQ(get<uint16_t>(p, kMsgSize), 25);
      EXPECT_EQ(get<uint64_t>(p, kBody), kEpoch + ref);  // parenttime
      EXPECT_EQ(get<uint64_t>(p, kBody + 8), 0u);        // childtime
      EXPECT_EQ(get<uint64_t>(p, kBody + 16), 0u);       // roundtriptime
      EXPECT_EQ(get<uint8_t>(p, kBody + 24), i == 1 ? timesync::kFlagSync : timesync::kFlagSample);
    }
    EXPECT_EQ(io.named("timesync.sent")[0].fields.at("layout"), "legacy");
    EXPECT_EQ(io.named("timesync.sent")[0].fields.count("vmreferencetime"), 0u);
  }
}

TEST(DevicesTimesync, DefaultEpochIsStartOf2026) {
  // Days 1601-01-01..1970-01-01 = 134774; 1970-01-01..2026-01-01 = 56 * 365 + 14 leap days.
  const uint64_t days = 134774 + 56 * 365 + 14;
  EXPECT_EQ(kDefaultTimesyncEpoch, days * 86400ull * 10000000ull);
  EXPECT_EQ(TimesyncParams{}.epoch, kDefaultTimesyncEpoch);
  EXPECT_EQ(TimesyncParams{}.period, ms(5000));
}

}  // namespace
}  // namespace hvsim::devices
