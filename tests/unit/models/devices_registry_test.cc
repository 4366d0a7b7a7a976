// The device registry (models/devices/registry.h): types, GUIDs, seeded values and every kind of
// usage error.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "models/devices/heartbeat/device.h"
#include "models/devices/instance_id.h"
#include "models/devices/kvp/device.h"
#include "models/devices/registry.h"
#include "models/devices/shutdown/device.h"
#include "models/devices/test/device.h"
#include "models/devices/timesync/device.h"
#include "sim/core/status.h"
#include "tests/support/recording_channel_io.h"
#include "tests/support/usage_error.h"

namespace hvsim::devices {
namespace {

DeviceOptions opts(std::map<std::string, std::string> p) { return DeviceOptions{std::move(p)}; }

std::string usage_error(const std::string& type, const std::string& name, const DeviceOptions& o) {
  std::string e = test::usage_error_of([&] { make_device(type, name, o, 1); });
  return e.empty() ? "(no error)" : e;
}

// Answers the pending NEGOTIATE choosing framework 3.0 and `msg`.
void negotiate(vmbus::VmbusDevice& dev, const test::RecordingChannelIo& io, ic::IcVersion msg, VirtualTime now) {
  ASSERT_FALSE(io.sent.empty());
  std::vector<uint8_t> b = io.sent.back().payload;
  b[25] = ic::kFlagsResponse;
  const uint16_t size = 16, one = 1;
  std::memcpy(&b[18], &size, 2);
  std::memcpy(&b[28], &one, 2);
  std::memcpy(&b[30], &one, 2);
  const ic::IcVersion fw{3, 0};
  std::memcpy(&b[36], &fw, 4);
  std::memcpy(&b[40], &msg, 4);
  vmbus::RingPacket p;
  p.desc = {vmbus::kPktDataInband, 2, static_cast<uint16_t>(2 + (b.size() + 7) / 8), 0, io.sent.back().trans_id};
  p.bytes.resize(16 + (b.size() + 7) / 8 * 8);
  std::memcpy(p.bytes.data(), &p.desc, 16);
  std::memcpy(p.bytes.data() + 16, b.data(), b.size());
  dev.packet(p, now);
}

TEST(DevicesRegistry, TypesInDocumentedOrder) {
  EXPECT_EQ(device_types(), (std::vector<std::string>{"heartbeat", "shutdown", "timesync", "kvp", "test"}));
}

TEST(DevicesRegistry, EveryTypeGetsItsClassGuidAndName) {
  const std::map<std::string, std::string_view> classes = {
      {"heartbeat", vmbus::kHeartbeatClass}, {"shutdown", vmbus::kShutdownClass}, {"timesync", vmbus::kTimesyncClass},
      {"kvp", vmbus::kKvpClass},             {"test", vmbus::kTestClass}};
  for (const std::string& type : device_types()) {
    SCOPED_TRACE(type);
    auto dev = make_device(type, type + "0", {}, 42);
    ASSERT_NE(dev, nullptr);
    EXPECT_EQ(dev->desc().name, type + "0");
    EXPECT_EQ(vmbus::guid_string(dev->desc().class_id), std::string(classes.at(type)));
    EXPECT_EQ(dev->desc().instance_id, derive_instance_id(42, type + "0"));
  }
}

TEST(DevicesRegistry, InstanceGuidsAreDeterministicAndDistinct) {
  const vmbus::Guid a = derive_instance_id(7, "hb0");
  EXPECT_EQ(a, derive_instance_id(7, "hb0"));
  EXPECT_NE(a, derive_instance_id(7, "hb1"));
  EXPECT_NE(a, derive_instance_id(8, "hb0"));
  EXPECT_EQ(a.bytes[7] >> 4, 4);       // version 4
  EXPECT_EQ(a.bytes[8] & 0xC0, 0x80);  // variant 10
  // Two devices built from the same seed offer the same instance GUID.
  EXPECT_EQ(make_device("kvp", "k", {}, 99)->desc().instance_id, make_device("kvp", "k", {}, 99)->desc().instance_id);
}

TEST(DevicesRegistry, EveryTypeTakesAnInstanceGuidAndRingLimits) {
  const vmbus::Guid instance = vmbus::guid("12345678-9abc-4ef0-8234-56789abcdef0");
  for (const std::string& type : device_types()) {
    SCOPED_TRACE(type);
    auto plain = make_device(type, "d", {}, 5);
    EXPECT_EQ(plain->desc().instance_id, derive_instance_id(5, "d"));
    EXPECT_EQ(plain->desc().ring_pages.min, 2u);
    EXPECT_EQ(plain->desc().ring_pages.max, UINT32_MAX);
    auto dev = make_device(type, "d",
                           opts({{"instance", "12345678-9ABC-4ef0-8234-56789abcdef0"}, {"ring_pages_min", "4"},
                                 {"ring_pages_max", "0x10"}}),
                           5);
    EXPECT_EQ(dev->desc().instance_id, instance);
    EXPECT_EQ(dev->desc().ring_pages.min, 4u);
    EXPECT_EQ(dev->desc().ring_pages.max, 16u);
  }
}

TEST(DevicesRegistry, HeartbeatSequenceStartDependsOnTheSeed) {
  auto seq = [](uint64_t seed) {
    auto dev = make_device("heartbeat", "hb", {}, seed);
    return static_cast<HeartbeatDevice&>(*dev).next_seq();
  };
  EXPECT_EQ(seq(1), seq(1));
  EXPECT_NE(seq(1), seq(2));
  EXPECT_LT(seq(3), 1ull << 32);
}

TEST(DevicesRegistry, UnknownTypeNamesTheValidOnes) {
  const std::string msg = usage_error("floppy", "f", {});
  EXPECT_NE(msg.find("floppy"), std::string::npos) << msg;
  for (const std::string& t : device_types()) EXPECT_NE(msg.find(t), std::string::npos) << msg;
}

TEST(DevicesRegistry, BadParametersAreUsageErrors) {
  struct Case {
    const char* type;
    std::map<std::string, std::string> params;
    const char* must_mention;
  };
  const Case cases[] = {
      {"heartbeat", {{"perod", "1s"}}, "perod"},
      {"heartbeat", {{"period", "1x"}}, "period"},
      {"heartbeat", {{"period", "s"}}, "period"},
      {"heartbeat", {{"period", ""}}, "period"},
      {"heartbeat", {{"period", "-5ms"}}, "period"},
      {"heartbeat", {{"period", "0"}}, "period"},
      {"heartbeat", {{"period", "99999999999999s"}}, "period"},
      {"shutdown", {{"flags", "0x100000000"}}, "flags"},
      {"shutdown", {{"flags", "two"}}, "flags"},
      {"shutdown", {{"at", "soon"}}, "at"},
      {"timesync", {{"epoch", "12abc"}}, "epoch"},
      {"timesync", {{"period", "0"}}, "period"},
      {"kvp", {{"period", "1s"}}, "period"},
      {"kvp", {{"timeout", "0"}}, "timeout"},
      {"kvp", {{"timeout", "5"}}, "timeout"},
      {"test", {{"queue", "0"}}, "queue"},
      {"test", {{"queue", "0x"}}, "queue"},
      {"kvp", {{"instance", "12345678-9abc-def0-1234-56789abcdef"}}, "instance"},
      {"kvp", {{"instance", "g2345678-9abc-def0-1234-56789abcdef0"}}, "instance"},
      {"test", {{"ring_pages_min", "1"}}, "ring_pages_min"},
      {"test", {{"ring_pages_max", "0x100000000"}}, "ring_pages_max"},
      {"test", {{"ring_pages_min", "8"}, {"ring_pages_max", "4"}}, "ring_pages_max"},
  };
  for (const Case& c : cases) {
    const std::string msg = usage_error(c.type, "d", opts(c.params));
    SCOPED_TRACE(std::string(c.type) + ": " + msg);
    EXPECT_NE(msg, "(no error)");
    EXPECT_NE(msg.find(c.must_mention), std::string::npos);
  }
  EXPECT_NE(usage_error("heartbeat", "hb", opts({{"perod", "1s"}})).find("valid: instance, period, ring_pages_max, ring_pages_min"),
            std::string::npos);
  EXPECT_NE(usage_error("kvp", "", {}).find("instance name"), std::string::npos);
}

TEST(DevicesRegistry, ParametersReachTheDevices) {
  {
    auto dev = make_device("heartbeat", "hb", opts({{"period", "250ms"}}), 1);
    test::RecordingChannelIo io;
    dev->opened(io, VirtualTime::from_ms(1));
    negotiate(*dev, io, {3, 0}, VirtualTime::from_ms(2));
    EXPECT_EQ(dev->poll(VirtualTime::from_ms(2)), VirtualTime::from_ms(252));
  }
  {
    auto dev = make_device("shutdown", "sd", opts({{"at", "1500us"}, {"flags", "0x3"}}), 1);
    test::RecordingChannelIo io;
    dev->opened(io, VirtualTime{});
    negotiate(*dev, io, {3, 2}, VirtualTime::from_us(1));
    EXPECT_EQ(dev->poll(VirtualTime::from_us(1)), VirtualTime::from_us(1500));
    EXPECT_FALSE(dev->poll(VirtualTime::from_us(1500)).has_value());
    uint32_t flags = 0;
    std::memcpy(&flags, &io.sent.back().payload[28 + 8], 4);
    EXPECT_EQ(flags, 3u);
  }
  {
    auto dev = make_device("timesync", "ts", opts({{"epoch", "1000"}, {"period", "2s"}}), 1);
    test::RecordingChannelIo io;
    dev->opened(io, VirtualTime{});
    negotiate(*dev, io, {4, 0}, VirtualTime::from_ms(1));
    uint64_t parenttime = 0;
    std::memcpy(&parenttime, &io.sent.back().payload[28], 8);
    EXPECT_EQ(parenttime, 1000u + 10000u);  // 1 ms = 10000 x 100 ns
    EXPECT_EQ(dev->poll(VirtualTime::from_ms(1)), VirtualTime::from_ms(2001));
  }
  {
    auto dev = make_device("kvp", "k", opts({{"timeout", "250ms"}}), 1);
    test::RecordingChannelIo io;
    dev->opened(io, VirtualTime{});
    negotiate(*dev, io, {4, 0}, VirtualTime::from_ms(1));
    KvpRequest enumerate;
    enumerate.op = kvp::kOpEnumerate;
    enumerate.index = 0;
    ASSERT_TRUE(static_cast<KvpDevice&>(*dev).request(enumerate));
    EXPECT_EQ(dev->poll(VirtualTime::from_ms(2)), VirtualTime::from_ms(252));
  }
  {
    auto dev = make_device("test", "t", opts({{"queue", "1"}}), 1);
    auto& test = static_cast<TestDevice&>(*dev);
    EXPECT_TRUE(test.push({1}, VirtualTime{}));
    EXPECT_FALSE(test.push({2}, VirtualTime{}));
  }
}

}  // namespace
}  // namespace hvsim::devices
