// The KVP integration component (models/devices/kvp) driven through a recording ChannelIo: the
// exact request bytes (UTF-16LE strings, sizes, offsets), one request at a time and the queue,
// pool walks, version-dependent GET_IP_INFO, timeouts, and every kind of malformed reply.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/devices/ic/protocol.h"
#include "models/devices/kvp/device.h"
#include "models/devices/kvp/protocol.h"
#include "tests/support/payload_bytes.h"
#include "tests/support/recording_channel_io.h"

namespace hvsim::devices {
namespace {

using test::Bytes;
using FakeIo = test::RecordingChannelIo;
using Sent = test::SentPacket;
using ic::IcVersion;

constexpr VirtualTime ms(uint64_t n) { return VirtualTime::from_ms(n); }

// Offsets in a packet payload (PROTOCOL.md §7.2) and in a KVP body (hyperv.h).
constexpr size_t kMsgType = 12, kMsgVersion = 14, kMsgSize = 18, kStatus = 20, kFlags = 25, kBody = 28;
constexpr size_t kKeySize = 8, kValueType = 4, kValueSize = 12, kKey = 16, kValue = 16 + 512;  // GET / SET
constexpr size_t kEnumIndex = 4, kEnumKeySize = 12, kEnumValueSize = 16, kEnumKey = 20, kEnumValue = 20 + 512;

using test::get;
using test::put;
// UTF-16LE bytes of `units`, no terminator.
Bytes utf16le(std::u16string_view units) {
  Bytes out;
  for (char16_t u : units) {
    out.push_back(static_cast<uint8_t>(u & 0xFF));
    out.push_back(static_cast<uint8_t>(u >> 8));
  }
  return out;
}
void put_bytes(Bytes& b, size_t off, const Bytes& src) {
  ASSERT_LE(off + src.size(), b.size());
  std::copy(src.begin(), src.end(), b.begin() + static_cast<std::ptrdiff_t>(off));
}
// Every byte of `b` in [from, to) is zero.
bool zero(const Bytes& b, size_t from, size_t to) {
  for (size_t i = from; i < to && i < b.size(); ++i)
    if (b[i] != 0) return false;
  return true;
}

vmbus::DeviceDesc desc_named(const char* name) {
  vmbus::DeviceDesc d;
  d.name = name;
  return d;
}

void deliver(KvpDevice& dev, uint64_t trans_id, const Bytes& payload, VirtualTime now) {
  dev.packet(test::guest_packet(vmbus::kPktDataInband, 0, trans_id, payload), now);
}

// The guest's in-place answer: RESPONSE flags and `status`; the body as the request left it.
Bytes answer(const Sent& req, uint32_t status = ic::kStatusOk) {
  Bytes b = req.payload;
  put<uint8_t>(b, kFlags, ic::kFlagsResponse);
  put<uint32_t>(b, kStatus, status);
  return b;
}

// A device negotiated at message version `msg` at 1 ms.
struct Kvp {
  explicit Kvp(IcVersion msg = {4, 0}, KvpParams params = {}) : dev(desc_named("k"), params) {
    dev.opened(io, ms(0));
    Bytes b = answer(io.sent.at(0));
    put<uint16_t>(b, kMsgSize, 16);
    put<uint16_t>(b, kBody, 1);
    put<uint16_t>(b, kBody + 2, 1);
    put<IcVersion>(b, kBody + 8, IcVersion{3, 0});
    put<IcVersion>(b, kBody + 12, msg);
    deliver(dev, 1, b, ms(1));
    EXPECT_EQ(dev.phase(), ic::IcDevice::Phase::kReady);
  }
  // Queues `r` and polls; returns the packet sent for it.
  const Sent& send(const KvpRequest& r, VirtualTime now = ms(2)) {
    EXPECT_TRUE(dev.request(r)) << check_kvp_request(r);
    const size_t before = io.sent.size();
    dev.poll(now);
    EXPECT_EQ(io.sent.size(), before + 1);
    return io.sent.back();
  }
  void reply(const Bytes& b, VirtualTime now = ms(3)) { deliver(dev, last_trans_id(), b, now); }
  uint64_t last_trans_id() const { return io.sent.back().trans_id; }
  std::map<std::string, std::string> only(std::string_view event) const {
    const auto records = io.named(event);
    EXPECT_EQ(records.size(), 1u) << event;
    return records.empty() ? std::map<std::string, std::string>{} : records.back().fields;
  }

  FakeIo io;
  KvpDevice dev;
};

KvpRequest get_req(uint8_t pool, std::string key) {
  KvpRequest r;
  r.op = kvp::kOpGet;
  r.pool = pool;
  r.key = std::move(key);
  return r;
}
KvpRequest set_req(uint8_t pool, std::string key, std::string value) {
  KvpRequest r = get_req(pool, std::move(key));
  r.op = kvp::kOpSet;
  r.value = std::move(value);
  return r;
}
KvpRequest set_number(uint8_t pool, std::string key, uint32_t type, uint64_t n) {
  KvpRequest r = set_req(pool, std::move(key), "");
  r.value_type = type;
  r.number = n;
  return r;
}
KvpRequest delete_req(uint8_t pool, std::string key) {
  KvpRequest r = get_req(pool, std::move(key));
  r.op = kvp::kOpDelete;
  return r;
}
KvpRequest enumerate_req(uint8_t pool, std::optional<uint32_t> index) {
  KvpRequest r;
  r.op = kvp::kOpEnumerate;
  r.pool = pool;
  r.index = index;
  return r;
}
KvpRequest ip_req(std::string adapter) {
  KvpRequest r;
  r.op = kvp::kOpGetIpInfo;
  r.adapter_id = std::move(adapter);
  return r;
}

// A guest answer to an ENUMERATE: S_OK, `key` = `value` (REG_SZ).
Bytes enumerate_answer(const Sent& req, std::u16string_view key, std::u16string_view value) {
  Bytes b = answer(req);
  put<uint32_t>(b, kBody + 8, kvp::kRegSz);
  put<uint32_t>(b, kBody + kEnumKeySize, static_cast<uint32_t>(2 * (key.size() + 1)));
  put<uint32_t>(b, kBody + kEnumValueSize, static_cast<uint32_t>(2 * (value.size() + 1)));
  put_bytes(b, kBody + kEnumKey, utf16le(key));
  put_bytes(b, kBody + kEnumValue, utf16le(value));
  return b;
}
// A guest answer to a GET: S_OK with a REG_SZ value.
Bytes get_answer(const Sent& req, std::u16string_view value) {
  Bytes b = answer(req);
  put<uint32_t>(b, kBody + kValueType, kvp::kRegSz);
  put<uint32_t>(b, kBody + kValueSize, static_cast<uint32_t>(2 * (value.size() + 1)));
  put_bytes(b, kBody + kValue, utf16le(value));
  return b;
}

// ------------------------------------------------------------------------------------------------
// UTF-8 <-> UTF-16

TEST(DevicesKvp, Utf8ToUtf16) {
  EXPECT_EQ(kvp::to_utf16("Foo"), std::u16string(u"Foo"));
  EXPECT_EQ(kvp::to_utf16("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), std::u16string(u"\u00E9\u20AC\U0001F600"));
  EXPECT_EQ(kvp::to_utf16(""), std::u16string());
  for (const char* bad : {"\xC3", "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xFF", "a\xC3("})
    EXPECT_FALSE(kvp::to_utf16(bad).has_value()) << bad;
}

TEST(DevicesKvp, Utf16ToUtf8) {
  EXPECT_EQ(kvp::to_utf8(u"\u00E9\u20AC\U0001F600x"), std::string("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80x"));
  EXPECT_FALSE(kvp::to_utf8(std::u16string(1, char16_t{0xD83D})).has_value());   // lone high surrogate
  EXPECT_FALSE(kvp::to_utf8(std::u16string(1, char16_t{0xDE00})).has_value());   // lone low surrogate
  EXPECT_FALSE(kvp::to_utf8(std::u16string{char16_t{0xD83D}, u'a'}).has_value());
}

// ------------------------------------------------------------------------------------------------
// Requests

TEST(DevicesKvp, InvalidRequestsAreRefusedNamingTheField) {
  KvpRequest bad_op = get_req(0, "k");
  bad_op.op = 5;
  KvpRequest bad_type = set_req(0, "k", "v");
  bad_type.value_type = 2;
  std::string emoji_key;
  for (int i = 0; i < 128; ++i) emoji_key += "\xF0\x9F\x98\x80";  // 256 UTF-16 units
  const std::vector<std::pair<KvpRequest, const char*>> cases = {
      {bad_op, "op: "},
      {get_req(5, "k"), "pool: "},
      {get_req(0, ""), "key: "},
      {get_req(0, std::string(256, 'a')), "key: "},
      {get_req(0, emoji_key), "key: "},
      {delete_req(0, "\xC3"), "key: "},
      {set_req(0, "k", std::string(1024, 'v')), "value: "},
      {set_req(0, "k", "\xED\xA0\x80"), "value: "},
      {set_number(0, "k", kvp::kRegU32, 1ull << 32), "value: "},
      {bad_type, "value_type: "},
      {ip_req(std::string(128, 'a')), "adapter_id: "},
  };
  for (const auto& [r, field] : cases) {
    const std::string why = check_kvp_request(r);
    SCOPED_TRACE(why);
    EXPECT_EQ(why.rfind(field, 0), 0u);
    KvpDevice dev(desc_named("k"));
    EXPECT_FALSE(dev.request(r));
    EXPECT_EQ(dev.pending(), 0u);
  }
  emoji_key.resize(emoji_key.size() - 4);  // 254 units
  for (const KvpRequest& r : {get_req(4, std::string(255, 'a')), get_req(0, emoji_key), set_req(0, "k", std::string(1023, 'v')),
                              set_req(0, "k", ""), set_number(0, "k", kvp::kRegU32, UINT32_MAX),
                              set_number(0, "k", kvp::kRegU64, UINT64_MAX), enumerate_req(0, std::nullopt),
                              ip_req(std::string(127, 'a')), ip_req("")})
    EXPECT_EQ(check_kvp_request(r), "");
}

TEST(DevicesKvp, GetIsEncodedByteByByte) {
  Kvp k;
  const Sent& s = k.send(get_req(kvp::kPoolAuto, "Foo"));
  const Bytes& p = s.payload;
  EXPECT_EQ(s.type, vmbus::kPktDataInband);
  EXPECT_EQ(s.flags, 0);
  EXPECT_EQ(s.trans_id, 2u);
  ASSERT_EQ(p.size(), 28u + 2580);
  EXPECT_EQ(get<uint32_t>(p, 4), 20u + 2580);
  EXPECT_EQ(get<uint16_t>(p, kMsgType), ic::kMsgTypeKvpExchange);
  EXPECT_EQ(get<IcVersion>(p, kMsgVersion), (IcVersion{4, 0}));
  EXPECT_EQ(get<uint16_t>(p, kMsgSize), 2580);
  EXPECT_EQ(get<uint8_t>(p, kFlags), ic::kFlagsRequest);
  EXPECT_EQ(p[kBody], kvp::kOpGet);
  EXPECT_EQ(p[kBody + 1], kvp::kPoolAuto);
  EXPECT_EQ(get<uint16_t>(p, kBody + 2), 0);
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueType), 0u);
  EXPECT_EQ(get<uint32_t>(p, kBody + kKeySize), 8u);  // "Foo" + NUL, 2 bytes each
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueSize), 0u);
  EXPECT_EQ(Bytes(p.begin() + kBody + kKey, p.begin() + kBody + kKey + 8), (Bytes{'F', 0, 'o', 0, 'o', 0, 0, 0}));
  EXPECT_TRUE(zero(p, kBody + kKey + 8, p.size()));
  const auto rec = k.only("kvp.request");
  EXPECT_EQ(rec.at("op"), "get");
  EXPECT_EQ(rec.at("pool"), "auto");
  EXPECT_EQ(rec.at("key"), "Foo");
  EXPECT_EQ(rec.at("trans_id"), "2");
}

TEST(DevicesKvp, SetCarriesUtf16StringsWithTheirByteSizes) {
  Kvp k({3, 0});
  const Bytes p = k.send(set_req(kvp::kPoolExternal, "\xC3\xA9", "\xE2\x82\xAC\xF0\x9F\x98\x80")).payload;
  ASSERT_EQ(p.size(), 28u + 2580);
  EXPECT_EQ(get<IcVersion>(p, kMsgVersion), (IcVersion{3, 0}));
  EXPECT_EQ(p[kBody], kvp::kOpSet);
  EXPECT_EQ(p[kBody + 1], kvp::kPoolExternal);
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueType), kvp::kRegSz);
  EXPECT_EQ(get<uint32_t>(p, kBody + kKeySize), 4u);     // U+00E9 + NUL
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueSize), 8u);   // U+20AC, a surrogate pair, NUL
  EXPECT_EQ(Bytes(p.begin() + kBody + kKey, p.begin() + kBody + kKey + 4), (Bytes{0xE9, 0, 0, 0}));
  EXPECT_TRUE(zero(p, kBody + kKey + 4, kBody + kValue));
  EXPECT_EQ(Bytes(p.begin() + kBody + kValue, p.begin() + kBody + kValue + 8), (Bytes{0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE, 0, 0}));
  EXPECT_TRUE(zero(p, kBody + kValue + 8, p.size()));
  const auto rec = k.only("kvp.request");
  EXPECT_EQ(rec.at("type"), "string");
  EXPECT_EQ(rec.at("value"), "\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(DevicesKvp, SetCarriesU32AndU64Values) {
  Kvp k;
  Bytes p = k.send(set_number(kvp::kPoolGuest, "n", kvp::kRegU32, 0xA1B2C3D4)).payload;
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueType), kvp::kRegU32);
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueSize), 4u);
  EXPECT_EQ(get<uint32_t>(p, kBody + kValue), 0xA1B2C3D4u);
  EXPECT_TRUE(zero(p, kBody + kValue + 4, p.size()));
  k.reply(answer(k.io.sent.back()));
  p = k.send(set_number(kvp::kPoolGuest, "n", kvp::kRegU64, 0x1122334455667788ull), ms(4)).payload;
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueType), kvp::kRegU64);
  EXPECT_EQ(get<uint32_t>(p, kBody + kValueSize), 8u);
  EXPECT_EQ(get<uint64_t>(p, kBody + kValue), 0x1122334455667788ull);
  EXPECT_TRUE(zero(p, kBody + kValue + 8, p.size()));
  const auto recs = k.io.named("kvp.request");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].fields.at("type"), "u32");
  EXPECT_EQ(recs[0].fields.at("value"), std::to_string(0xA1B2C3D4u));
  EXPECT_EQ(recs[1].fields.at("type"), "u64");
}

TEST(DevicesKvp, DeleteAndEnumerateLayouts) {
  Kvp k;
  Bytes p = k.send(delete_req(kvp::kPoolGuest, "Foo")).payload;
  ASSERT_EQ(p.size(), 28u + 2580);
  EXPECT_EQ(p[kBody], kvp::kOpDelete);
  EXPECT_EQ(p[kBody + 1], kvp::kPoolGuest);
  EXPECT_EQ(get<uint32_t>(p, kBody + 4), 8u);
  EXPECT_EQ(Bytes(p.begin() + kBody + 8, p.begin() + kBody + 16), (Bytes{'F', 0, 'o', 0, 'o', 0, 0, 0}));
  EXPECT_TRUE(zero(p, kBody + 16, p.size()));
  k.reply(answer(k.io.sent.back()));

  p = k.send(enumerate_req(kvp::kPoolAutoInternal, 7), ms(4)).payload;
  ASSERT_EQ(p.size(), 28u + 2580);
  EXPECT_EQ(p[kBody], kvp::kOpEnumerate);
  EXPECT_EQ(p[kBody + 1], kvp::kPoolAutoInternal);
  EXPECT_EQ(get<uint32_t>(p, kBody + kEnumIndex), 7u);
  EXPECT_TRUE(zero(p, kBody + 8, p.size()));
  const auto recs = k.io.named("kvp.request");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].fields.at("op"), "enumerate");
  EXPECT_EQ(recs[1].fields.at("pool"), "auto_internal");
  EXPECT_EQ(recs[1].fields.at("index"), "7");
}

// ------------------------------------------------------------------------------------------------
// GET_IP_INFO and the message version

TEST(DevicesKvp, GetIpInfoAtVersion4) {
  Kvp k({4, 0});
  const Bytes p = k.send(ip_req("00:15:5D:00:00:01")).payload;
  ASSERT_EQ(p.size(), 28u + 7428);
  EXPECT_EQ(get<uint16_t>(p, kMsgSize), 7428);
  EXPECT_EQ(p[kBody], kvp::kOpGetIpInfo);
  EXPECT_EQ(p[kBody + 1], kvp::kPoolGuest);
  EXPECT_EQ(Bytes(p.begin() + kBody + 2, p.begin() + kBody + 2 + 34), utf16le(u"00:15:5D:00:00:01"));
  EXPECT_TRUE(zero(p, kBody + 2 + 34, p.size()));  // the terminator and every other field

  Bytes b = answer(k.io.sent.back());
  constexpr size_t kIp = kBody + 2;  // hv_kvp_ipaddr_value
  b[kIp + 256] = kvp::kAddrFamilyIpv4;
  b[kIp + 257] = 1;
  put_bytes(b, kIp + 258, utf16le(u"10.0.0.2;10.0.0.3"));
  put_bytes(b, kIp + 2306, utf16le(u"255.255.255.0"));
  put_bytes(b, kIp + 4354, utf16le(u"10.0.0.1"));
  put_bytes(b, kIp + 5378, utf16le(u"10.0.0.53"));
  k.reply(b);
  const auto rec = k.only("kvp.reply");
  EXPECT_EQ(rec.at("op"), "get_ip_info");
  EXPECT_EQ(rec.at("adapter_id"), "00:15:5D:00:00:01");
  EXPECT_EQ(rec.at("addr_family"), "1");
  EXPECT_EQ(rec.at("dhcp"), "true");
  EXPECT_EQ(rec.at("ip"), "10.0.0.2;10.0.0.3");
  EXPECT_EQ(rec.at("subnet"), "255.255.255.0");
  EXPECT_EQ(rec.at("gateway"), "10.0.0.1");
  EXPECT_EQ(rec.at("dns"), "10.0.0.53");
  EXPECT_EQ(rec.at("ok"), "true");
}

TEST(DevicesKvp, GetIpInfoBelowVersion4IsRefusedAndTheQueueMovesOn) {
  for (IcVersion v : {IcVersion{3, 0}, IcVersion{1, 0}}) {
    SCOPED_TRACE(ic::version_string(v));
    Kvp k(v);
    ASSERT_TRUE(k.dev.request(ip_req("00:15:5D:00:00:01")));
    ASSERT_TRUE(k.dev.request(get_req(kvp::kPoolAuto, "OSName")));
    k.dev.poll(ms(2));
    ASSERT_EQ(k.io.sent.size(), 2u);  // NEGOTIATE and the GET
    EXPECT_EQ(k.io.sent[1].payload[kBody], kvp::kOpGet);
    const auto refused = k.only("kvp.refused");
    EXPECT_EQ(refused.at("op"), "get_ip_info");
    EXPECT_EQ(refused.at("message_version"), ic::version_string(v));
    EXPECT_EQ(k.io.count("kvp.request"), 1u);
  }
}

// ------------------------------------------------------------------------------------------------
// Queueing

TEST(DevicesKvp, OneRequestAtATimeInOrder) {
  Kvp k;
  for (const char* key : {"a", "b", "c"}) ASSERT_TRUE(k.dev.request(get_req(kvp::kPoolGuest, key)));
  EXPECT_EQ(k.dev.poll(ms(2)), ms(2) + KvpParams{}.timeout);
  EXPECT_EQ(k.io.sent.size(), 2u);
  k.dev.poll(ms(3));
  EXPECT_EQ(k.io.sent.size(), 2u);  // busy: nothing more until the reply
  EXPECT_TRUE(k.dev.busy());
  EXPECT_EQ(k.dev.pending(), 2u);
  k.reply(answer(k.io.sent.back(), kvp::kStatusNoMoreItems), ms(4));
  EXPECT_EQ(k.io.sent.size(), 3u);  // the reply lets the next one go at once
  k.reply(answer(k.io.sent.back(), ic::kStatusFail), ms(5));
  EXPECT_EQ(k.io.sent.size(), 4u);
  k.reply(get_answer(k.io.sent.back(), u"v"), ms(6));
  EXPECT_FALSE(k.dev.busy());
  EXPECT_FALSE(k.dev.poll(ms(7)).has_value());
  const auto requests = k.io.named("kvp.request");
  ASSERT_EQ(requests.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(requests[i].fields.at("key"), std::string(1, static_cast<char>('a' + i)));
    EXPECT_EQ(requests[i].fields.at("trans_id"), std::to_string(2 + i));
  }
  const auto replies = k.io.named("kvp.reply");
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].fields.at("status"), "0x80070103");
  EXPECT_EQ(replies[0].fields.at("ok"), "false");
  EXPECT_EQ(replies[1].fields.at("status"), "0x80004005");
  EXPECT_EQ(replies[1].fields.at("key"), "b");
  EXPECT_EQ(replies[2].fields.at("status"), "0x0");
}

TEST(DevicesKvp, RequestsQueuedBeforeNegotiationGoAtNegotiation) {
  FakeIo io;
  KvpDevice dev(desc_named("k"));
  ASSERT_TRUE(dev.request(get_req(kvp::kPoolAuto, "OSName")));
  dev.poll(ms(0));  // closed: nothing to do
  dev.opened(io, ms(1));
  ASSERT_EQ(io.sent.size(), 1u);  // NEGOTIATE only
  Bytes b = answer(io.sent[0]);
  put<uint16_t>(b, kMsgSize, 16);
  put<uint16_t>(b, kBody, 1);
  put<uint16_t>(b, kBody + 2, 1);
  put<IcVersion>(b, kBody + 8, IcVersion{3, 0});
  put<IcVersion>(b, kBody + 12, IcVersion{4, 0});
  deliver(dev, 1, b, ms(2));
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[1].payload[kBody], kvp::kOpGet);
  EXPECT_EQ(io.named("kvp.request").at(0).t, ms(2));
}

TEST(DevicesKvp, TheQueueIsBounded) {
  KvpDevice dev(desc_named("k"));
  for (size_t i = 0; i < KvpDevice::kMaxPending; ++i) ASSERT_TRUE(dev.request(get_req(0, "k" + std::to_string(i))));
  EXPECT_FALSE(dev.request(get_req(0, "one too many")));
  EXPECT_EQ(dev.pending(), KvpDevice::kMaxPending);
}

// ------------------------------------------------------------------------------------------------
// Replies

TEST(DevicesKvp, GetRepliesOfEveryValueType) {
  Kvp k;
  k.send(get_req(kvp::kPoolExternal, "Foo"));
  k.reply(get_answer(k.io.sent.back(), u"B\u00E4r"));
  auto rec = k.io.named("kvp.reply").back().fields;
  EXPECT_EQ(rec.at("op"), "get");
  EXPECT_EQ(rec.at("pool"), "external");
  EXPECT_EQ(rec.at("key"), "Foo");
  EXPECT_EQ(rec.at("type"), "string");
  EXPECT_EQ(rec.at("value"), "B\xC3\xA4r");
  EXPECT_EQ(rec.at("status"), "0x0");
  EXPECT_EQ(rec.at("ok"), "true");

  k.send(get_req(kvp::kPoolExternal, "Foo"), ms(4));
  Bytes b = answer(k.io.sent.back());
  put<uint32_t>(b, kBody + kValueType, kvp::kRegU32);
  put<uint32_t>(b, kBody + kValueSize, 4);
  put<uint32_t>(b, kBody + kValue, 42);
  k.reply(b, ms(5));
  rec = k.io.named("kvp.reply").back().fields;
  EXPECT_EQ(rec.at("type"), "u32");
  EXPECT_EQ(rec.at("value"), "42");

  k.send(get_req(kvp::kPoolExternal, "Foo"), ms(6));
  b = answer(k.io.sent.back());
  put<uint32_t>(b, kBody + kValueType, kvp::kRegU64);
  put<uint32_t>(b, kBody + kValueSize, 8);
  put<uint64_t>(b, kBody + kValue, 1ull << 40);
  k.reply(b, ms(7));
  rec = k.io.named("kvp.reply").back().fields;
  EXPECT_EQ(rec.at("type"), "u64");
  EXPECT_EQ(rec.at("value"), std::to_string(1ull << 40));
  EXPECT_EQ(k.io.count("kvp.bad_reply"), 0u);
}

TEST(DevicesKvp, EnumerateWalkRunsToTheEndAheadOfOtherRequests) {
  Kvp k;
  ASSERT_TRUE(k.dev.request(enumerate_req(kvp::kPoolAuto, std::nullopt)));
  ASSERT_TRUE(k.dev.request(get_req(kvp::kPoolAuto, "after")));
  k.dev.poll(ms(2));
  EXPECT_EQ(get<uint32_t>(k.io.sent.back().payload, kBody + kEnumIndex), 0u);
  k.reply(enumerate_answer(k.io.sent.back(), u"FullyQualifiedDomainName", u"vm.example"), ms(3));
  EXPECT_EQ(get<uint32_t>(k.io.sent.back().payload, kBody + kEnumIndex), 1u);
  EXPECT_EQ(k.io.sent.back().payload[kBody], kvp::kOpEnumerate);
  k.reply(enumerate_answer(k.io.sent.back(), u"OSName", u"hvsim"), ms(4));
  EXPECT_EQ(get<uint32_t>(k.io.sent.back().payload, kBody + kEnumIndex), 2u);
  k.reply(answer(k.io.sent.back(), kvp::kStatusNoMoreItems), ms(5));
  EXPECT_EQ(k.io.sent.back().payload[kBody], kvp::kOpGet);  // the walk is over

  const auto replies = k.io.named("kvp.reply");
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].fields.at("index"), "0");
  EXPECT_EQ(replies[0].fields.at("key"), "FullyQualifiedDomainName");
  EXPECT_EQ(replies[0].fields.at("value"), "vm.example");
  EXPECT_EQ(replies[1].fields.at("key"), "OSName");
  EXPECT_EQ(replies[2].fields.at("index"), "2");
  EXPECT_EQ(replies[2].fields.at("status"), "0x80070103");
  const auto end = k.only("kvp.enumerated");
  EXPECT_EQ(end.at("pool"), "auto");
  EXPECT_EQ(end.at("count"), "2");
  EXPECT_EQ(end.at("end"), "no_more_items");
}

TEST(DevicesKvp, AWalkEndsOnFailureBadReplyOrTimeout) {
  {
    Kvp k;
    k.send(enumerate_req(kvp::kPoolGuest, std::nullopt));
    k.reply(answer(k.io.sent.back(), ic::kStatusFail));
    EXPECT_EQ(k.only("kvp.enumerated").at("end"), "failed");
    EXPECT_EQ(k.only("kvp.enumerated").at("count"), "0");
  }
  {
    Kvp k;
    k.send(enumerate_req(kvp::kPoolGuest, std::nullopt));
    k.reply(enumerate_answer(k.io.sent.back(), u"a", u"1"));
    Bytes b = enumerate_answer(k.io.sent.back(), u"b", u"2");
    put<uint32_t>(b, kBody + kEnumIndex, 9);
    k.reply(b, ms(4));
    EXPECT_EQ(k.only("kvp.enumerated").at("end"), "bad_reply");
    EXPECT_EQ(k.only("kvp.enumerated").at("count"), "1");
  }
  {
    Kvp k({4, 0}, KvpParams{ms(10)});
    k.send(enumerate_req(kvp::kPoolGuest, std::nullopt));
    k.dev.poll(ms(12));
    EXPECT_EQ(k.only("kvp.enumerated").at("end"), "timeout");
    EXPECT_EQ(k.io.sent.size(), 2u);
  }
}

TEST(DevicesKvp, EnumerateOneIndexAsksOnce) {
  Kvp k;
  k.send(enumerate_req(kvp::kPoolExternal, 5));
  k.reply(enumerate_answer(k.io.sent.back(), u"k5", u"v5"));
  EXPECT_EQ(k.only("kvp.reply").at("index"), "5");
  EXPECT_EQ(k.only("kvp.reply").at("key"), "k5");
  EXPECT_EQ(k.io.count("kvp.enumerated"), 0u);
  EXPECT_FALSE(k.dev.busy());
  EXPECT_EQ(k.io.sent.size(), 2u);
}

// Every kind of malformed reply is traced and ends its transaction: nothing is reported as a
// reply, and the next queued request goes out.
TEST(DevicesKvp, MalformedRepliesAreTracedAndTheQueueMovesOn) {
  struct Case {
    const char* reason;
    KvpRequest request;
    std::function<Bytes(const Sent&)> make;
  };
  const KvpRequest get = get_req(kvp::kPoolAuto, "Foo");
  const KvpRequest enumerate = enumerate_req(kvp::kPoolAuto, 3);
  auto enum_key = [](uint32_t key_size, std::u16string key) {
    return [=](const Sent& req) {
      Bytes b = enumerate_answer(req, u"x", u"v");
      put_bytes(b, kBody + kEnumKey, Bytes(512, 0));
      put_bytes(b, kBody + kEnumKey, utf16le(key));
      put<uint32_t>(b, kBody + kEnumKeySize, key_size);
      return b;
    };
  };
  auto get_value = [](uint32_t type, uint32_t size, std::u16string value) {
    return [=](const Sent& req) {
      Bytes b = answer(req);
      put<uint32_t>(b, kBody + kValueType, type);
      put<uint32_t>(b, kBody + kValueSize, size);
      put_bytes(b, kBody + kValue, utf16le(value));
      return b;
    };
  };
  const std::vector<Case> cases = {
      {"size mismatch", get, [](const Sent& req) {
         Bytes b = get_answer(req, u"v");
         put<uint16_t>(b, kMsgSize, 2576);  // a GET/SET-sized body instead of the 2580 bytes sent
         return b;
       }},
      {"operation not echoed", get, [](const Sent& req) { Bytes b = get_answer(req, u"v"); b[kBody] = kvp::kOpSet; return b; }},
      {"pool not echoed", get, [](const Sent& req) { Bytes b = get_answer(req, u"v"); b[kBody + 1] = 0; return b; }},
      {"index not echoed", enumerate, [](const Sent& req) {
         Bytes b = enumerate_answer(req, u"k", u"v");
         put<uint32_t>(b, kBody + kEnumIndex, 4);
         return b;
       }},
      {"bad key size", enumerate, enum_key(0, u"")},
      {"bad key size", enumerate, enum_key(3, u"ab")},
      {"bad key size", enumerate, enum_key(514, u"ab")},
      {"key not NUL-terminated", enumerate, enum_key(6, u"abc")},
      {"key has an embedded NUL", enumerate, enum_key(8, std::u16string(u"a\0b", 3))},
      {"key not UTF-16", enumerate, enum_key(4, std::u16string(1, char16_t{0xD800}))},
      {"bad value type", get, get_value(2, 4, u"v")},
      {"bad value size", get, get_value(kvp::kRegU32, 8, u"")},
      {"bad value size", get, get_value(kvp::kRegU64, 4, u"")},
      {"bad value size", get, get_value(kvp::kRegSz, 0, u"")},
      {"bad value size", get, get_value(kvp::kRegSz, 2050, u"v")},
      {"value not NUL-terminated", get, get_value(kvp::kRegSz, 4, u"vw")},
      {"value has an embedded NUL", get, get_value(kvp::kRegSz, 6, std::u16string(u"\0w", 2))},
      {"value not UTF-16", get, get_value(kvp::kRegSz, 6, std::u16string{char16_t{0xDC00}, u'x'})},
      {"adapter_id not NUL-terminated", ip_req("a"), [](const Sent& req) {
         Bytes b = answer(req);
         put_bytes(b, kBody + 2, utf16le(std::u16string(128, u'a')));
         return b;
       }},
      {"dns not UTF-16", ip_req("a"), [](const Sent& req) {
         Bytes b = answer(req);
         put_bytes(b, kBody + 2 + 5378, utf16le(std::u16string(1, char16_t{0xD801})));
         return b;
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    Kvp k;
    k.send(c.request);
    ASSERT_TRUE(k.dev.request(get_req(kvp::kPoolGuest, "next")));
    k.reply(c.make(k.io.sent.back()));
    const auto bad = k.only("kvp.bad_reply");
    EXPECT_EQ(bad.at("reason"), c.reason);
    EXPECT_EQ(bad.at("op"), kvp::op_name(c.request.op));
    EXPECT_EQ(bad.at("trans_id"), "2");
    EXPECT_EQ(k.io.count("kvp.reply"), 0u);
    ASSERT_EQ(k.io.sent.size(), 3u);
    EXPECT_EQ(k.io.named("kvp.request").back().fields.at("key"), "next");
  }
}

// A reply the IC framework rejects leaves the request in flight; the right one is still taken.
TEST(DevicesKvp, AFrameworkBadReplyKeepsTheRequestInFlight) {
  Kvp k;
  k.send(get_req(kvp::kPoolAuto, "Foo"));
  Bytes wrong = get_answer(k.io.sent.back(), u"v");
  put<uint8_t>(wrong, 24, 99);  // ictransaction_id
  k.reply(wrong);
  EXPECT_EQ(k.only("ic.bad_reply").at("reason"), "ictransaction_id mismatch");
  EXPECT_TRUE(k.dev.busy());
  k.reply(get_answer(k.io.sent.back(), u"v"), ms(4));
  EXPECT_EQ(k.only("kvp.reply").at("value"), "v");
  EXPECT_FALSE(k.dev.busy());
}

TEST(DevicesKvp, TimeoutForgetsTheRequestAndMovesOn) {
  Kvp k({4, 0}, KvpParams{ms(100)});
  ASSERT_TRUE(k.dev.request(get_req(0, "a")));
  ASSERT_TRUE(k.dev.request(get_req(0, "b")));
  EXPECT_EQ(k.dev.poll(ms(2)), ms(102));
  EXPECT_EQ(k.dev.poll(ms(50)), ms(102));
  EXPECT_EQ(k.io.count("kvp.timeout"), 0u);
  const Sent first = k.io.sent.back();
  EXPECT_EQ(k.dev.poll(ms(102)), ms(202));
  const auto timeout = k.only("kvp.timeout");
  EXPECT_EQ(timeout.at("op"), "get");
  EXPECT_EQ(timeout.at("trans_id"), "2");
  ASSERT_EQ(k.io.sent.size(), 3u);
  EXPECT_EQ(k.io.named("kvp.request").back().fields.at("key"), "b");
  deliver(k.dev, first.trans_id, get_answer(first, u"late"), ms(103));  // too late
  EXPECT_EQ(k.only("ic.bad_reply").at("reason"), "unknown trans_id");
  EXPECT_EQ(k.io.count("kvp.reply"), 0u);
  EXPECT_TRUE(k.dev.busy());
}

TEST(DevicesKvp, CloseDropsTheRequestInFlightAndKeepsTheQueue) {
  Kvp k;
  ASSERT_TRUE(k.dev.request(get_req(0, "a")));
  ASSERT_TRUE(k.dev.request(get_req(0, "b")));
  k.dev.poll(ms(2));
  k.dev.closed(ms(3));
  EXPECT_FALSE(k.dev.busy());
  EXPECT_EQ(k.dev.pending(), 1u);
  FakeIo io2;
  k.dev.opened(io2, ms(4));
  Bytes b = answer(io2.sent.at(0));
  put<uint16_t>(b, kMsgSize, 16);
  put<uint16_t>(b, kBody, 1);
  put<uint16_t>(b, kBody + 2, 1);
  put<IcVersion>(b, kBody + 8, IcVersion{3, 0});
  put<IcVersion>(b, kBody + 12, IcVersion{4, 0});
  deliver(k.dev, 1, b, ms(5));
  ASSERT_EQ(io2.sent.size(), 2u);
  EXPECT_EQ(io2.named("kvp.request").at(0).fields.at("key"), "b");
  EXPECT_EQ(io2.sent[1].trans_id, 2u);
}

}  // namespace
}  // namespace hvsim::devices
