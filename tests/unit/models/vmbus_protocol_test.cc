// Tests for models/vmbus/protocol.cc: version and message-type names, GUID text <-> wire order.
#include "models/vmbus/protocol.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <stdexcept>
#include <string>

namespace hvsim::vmbus {
namespace {

Guid from_bytes(const std::array<uint8_t, 16>& b) {
  Guid g;
  g.bytes = b;
  return g;
}

TEST(VmbusProtocol, VersionNames) {
  EXPECT_EQ(version_name(kVersionWin10V53), "5.3");
  EXPECT_EQ(version_name(kVersionWs2008), "0.13");
  EXPECT_EQ(version_name(kVersionWin8), "2.4");
  EXPECT_EQ(version_name(kVersionWin10), "4.0");
  EXPECT_EQ(version_name(0xFFFF0010), "65535.16");
}

TEST(VmbusProtocol, MessageTypeNames) {
  EXPECT_STREQ(msg_type_name(0), "INVALID");
  EXPECT_STREQ(msg_type_name(1), "OFFERCHANNEL");
  EXPECT_STREQ(msg_type_name(8), "GPADL_HEADER");
  EXPECT_STREQ(msg_type_name(9), "GPADL_BODY");
  EXPECT_STREQ(msg_type_name(12), "GPADL_TORNDOWN");
  EXPECT_STREQ(msg_type_name(14), "INITIATE_CONTACT");
  EXPECT_STREQ(msg_type_name(static_cast<uint32_t>(MsgType::kModifyChannelResponse)), "MODIFYCHANNEL_RESPONSE");
  EXPECT_STREQ(msg_type_name(static_cast<uint32_t>(MsgType::kCount)), "UNKNOWN");
  EXPECT_STREQ(msg_type_name(0xFFFFFFFF), "UNKNOWN");
}

TEST(VmbusProtocol, EveryKnownTypeHasADistinctName) {
  std::set<std::string> names;
  for (uint32_t t = 0; t < static_cast<uint32_t>(MsgType::kCount); ++t) {
    const std::string name = msg_type_name(t);
    EXPECT_NE(name, "UNKNOWN") << t;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST(VmbusProtocol, HeartbeatGuidWireBytes) {
  const Guid expected =
      from_bytes({0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d});
  Guid parsed;
  ASSERT_TRUE(parse_guid(kHeartbeatClass, parsed));
  EXPECT_EQ(parsed, expected);
  EXPECT_EQ(guid_string(expected), kHeartbeatClass);
  EXPECT_EQ(guid(kHeartbeatClass), expected);
}

TEST(VmbusProtocol, ShutdownGuidWireBytesFromProtocolDoc) {
  const Guid expected =
      from_bytes({0x31, 0x60, 0x0b, 0x0e, 0x13, 0x52, 0x34, 0x49, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb});
  EXPECT_EQ(guid(kShutdownClass), expected);
}

TEST(VmbusProtocol, GuidRoundTrip) {
  for (std::string_view text : {kShutdownClass, kTimesyncClass, kHeartbeatClass, kKvpClass, kTestClass}) {
    EXPECT_EQ(guid_string(guid(text)), text);
  }
  Guid g;
  for (size_t i = 0; i < g.bytes.size(); ++i) g.bytes[i] = static_cast<uint8_t>(0x11 * i + 3);
  Guid back;
  ASSERT_TRUE(parse_guid(guid_string(g), back));
  EXPECT_EQ(back, g);
}

TEST(VmbusProtocol, UppercaseParsesAndPrintsLowercase) {
  const Guid g = guid("57164F39-9115-4E78-AB55-382F3BD5422D");
  EXPECT_EQ(g, guid(kHeartbeatClass));
  EXPECT_EQ(guid_string(g), kHeartbeatClass);
}

TEST(VmbusProtocol, MalformedGuidsRejected) {
  const Guid sentinel = guid(kKvpClass);
  for (std::string_view bad : {
           "",
           "57164f39-9115-4e78-ab55-382f3bd5422",     // too short
           "57164f39-9115-4e78-ab55-382f3bd5422d0",   // too long
           "57164f39-9115-4e78-ab55+382f3bd5422d",    // wrong separator
           "57164f399-115-4e78-ab55-382f3bd5422d",    // dash misplaced
           "57164f39-9115-4e78-ab55-382f3bd5422g",    // not hex
           "{57164f39-9115-4e78-ab55-382f3bd5422d}",  // braces are not canonical text
           "57164f39-9115-4e78-ab55-382f3bd5 22d",
           "57164f3991154e78ab55382f3bd5422d0000",  // right length, no dashes
       }) {
    Guid out = sentinel;
    EXPECT_FALSE(parse_guid(bad, out)) << bad;
    EXPECT_EQ(out, sentinel) << "parse_guid must not modify its output on failure: " << bad;
    EXPECT_THROW(guid(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace hvsim::vmbus
