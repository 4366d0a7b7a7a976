// The VMBus host end to end: the reference guest driver stack (guest/vmbus) against the host
// (models/vmbus) on every host profile, the scriptable test device's echo, 256 channels at once,
// a rescind while the guest runs, and interrupt throttling of a chatty guest.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "models/devices/test/device.h"
#include "models/vmbus/vmbus_host.h"
#include "sim/core/status.h"
#include "sim/machine/machine.h"
#include "tests/support/guests.h"

namespace hvsim {
namespace {

MachineParams params(const std::string& guest, const std::string& devices, unsigned vcpus = 2) {
  MachineParams p;
  p.guest = test::guest(guest);
  p.vcpus = vcpus;
  p.echo_console = false;
  p.vmbus_devices = devices;
  p.max_time = VirtualTime::from_ms(5000);
  return p;
}

size_t count(const std::vector<std::string>& trace, std::string_view needle) {
  size_t n = 0;
  for (const std::string& l : trace) n += l.find(needle) != std::string::npos;
  return n;
}

struct ProfileCase {
  const char* host;
  const char* version;
};

class VmbusDemoOnProfile : public ::testing::TestWithParam<ProfileCase> {};

TEST_P(VmbusDemoOnProfile, NegotiatesTheNewestVersionAndShutsDownOnRequest) {
  MachineParams p = params("vmbus_demo", "heartbeat,shutdown,timesync");
  p.host = GetParam().host;
  p.device_params = {{"shutdown.at", "2500ms"}};
  Machine m(p);
  m.tracer().enable_capture();
  Verdict v = m.run();
  const std::string& out = m.console_output();
  ASSERT_EQ(v.kind, Verdict::Kind::kExit) << v.message << "\n" << out;
  EXPECT_EQ(v.exit_code, 0u) << out;
  EXPECT_NE(out.find(std::string("connected, VMBus version ") + GetParam().version), std::string::npos) << out;
  EXPECT_NE(out.find("all offers delivered (3)"), std::string::npos) << out;
  EXPECT_NE(out.find("3 heartbeats answered"), std::string::npos) << out;  // at 0 s, 1 s, 2 s
  EXPECT_NE(out.find("host requests shutdown"), std::string::npos) << out;
  EXPECT_NE(out.find("unloaded"), std::string::npos) << out;
  // The host saw a well-behaved guest.
  const auto& trace = m.tracer().captured();
  EXPECT_EQ(count(trace, "vmbus.protocol_error"), 0u);
  EXPECT_EQ(count(trace, "vmbus.ring_rule"), 0u);
  EXPECT_EQ(count(trace, "\"event\":\"heartbeat.ok\""), 3u);
  EXPECT_EQ(count(trace, "\"event\":\"shutdown.reply\""), 1u);
  EXPECT_EQ(count(trace, "\"type\":\"UNLOAD_RESPONSE\""), 1u);
}

INSTANTIATE_TEST_SUITE_P(Profiles, VmbusDemoOnProfile,
                         ::testing::Values(ProfileCase{"ws2012", "2.4"}, ProfileCase{"ws2012r2", "3.0"},
                                           ProfileCase{"ws2016", "4.0"}, ProfileCase{"ws2019", "5.2"},
                                           ProfileCase{"ws2022", "5.3"}, ProfileCase{"ws2025", "6.0"}),
                         [](const ::testing::TestParamInfo<ProfileCase>& i) { return std::string(i.param.host); });

TEST(Vmbus, DemoOffersArriveInASeededOrderAndRunsRepeatBitForBit) {
  auto run = [](uint64_t seed) {
    MachineParams p = params("vmbus_demo", "heartbeat,shutdown,timesync");
    p.seed = seed;
    p.device_params = {{"shutdown.at", "1s"}};
    Machine m(p);
    Verdict v = m.run();
    EXPECT_EQ(v.status(), 0) << m.console_output();
    std::string order;
    for (size_t at = m.console_output().find("offer relid "); at != std::string::npos;
         at = m.console_output().find("offer relid ", at + 1))
      order += m.console_output()[at + 12];
    return std::make_pair(order, m.tracer().hash());
  };
  auto a = run(1), b = run(1);
  EXPECT_EQ(a, b) << "same seed, same offers and trace";
  std::set<std::string> orders{a.first};
  for (uint64_t seed = 2; seed <= 6; ++seed) orders.insert(run(seed).first);
  EXPECT_GT(orders.size(), 1u) << "the offer order depends on the seed";
}

TEST(Vmbus, TestDeviceEchoesEveryPacketThroughWrappingRings) {
  for (unsigned vcpus : {1u, 2u}) {
    Machine m(params("vmbus_echo", "test", vcpus));
    m.tracer().enable_capture();
    Verdict v = m.run();
    EXPECT_EQ(v.status(), 0) << m.console_output();
    EXPECT_NE(m.console_output().find("checks passed"), std::string::npos) << m.console_output();
    EXPECT_EQ(m.console_output().find("FAIL"), std::string::npos) << m.console_output();
    EXPECT_EQ(count(m.tracer().captured(), "vmbus.protocol_error"), 0u);
    EXPECT_EQ(count(m.tracer().captured(), "vmbus.ring_rule"), 0u) << "the reference driver signals only when needed";
  }
}

// VMBus 1.1 and 0.13 (docs/vmbus.md "Versions below 2.4"): the guest library's legacy paths
// against the host's shared interrupt page, with plain and monitored channels, on every profile's
// oldest versions (ws2012 is the oldest profile; ws2025 the newest).
TEST(Vmbus, LegacyVersionsSignalThroughTheSharedInterruptPage) {
  for (const char* host : {"ws2012", "ws2025"}) {
    for (bool monitored : {false, true}) {
      MachineParams p = params("vmbus_legacy", "test");
      p.host = host;
      p.monitor_latency = monitored ? VirtualTime::from_us(100) : VirtualTime{};
      Machine m(p);
      m.tracer().enable_capture();
      Verdict v = m.run();
      const std::string& out = m.console_output();
      SCOPED_TRACE(std::string(host) + (monitored ? " monitored" : " not monitored"));
      ASSERT_EQ(v.status(), 0) << v.message << "\n" << out;
      EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
      const auto& trace = m.tracer().captured();
      EXPECT_EQ(count(trace, "\"state\":\"connected\",\"version\":\"1.1\""), 1u);
      EXPECT_EQ(count(trace, "\"state\":\"connected\",\"version\":\"0.13\""), 1u);
      EXPECT_GT(count(trace, "\"dir\":\"host->guest\",\"relid\""), 0u);
      EXPECT_EQ(count(trace, "\"dir\":\"host->guest\""), count(trace, "\"old_target\":false,\"via\":\"interrupt_page\""))
          << "below 2.4 every host->guest signal goes through the page";
      const size_t page_signals = count(trace, "\"necessary\":true,\"via\":\"interrupt_page\"");
      if (monitored)
        EXPECT_EQ(page_signals, 0u) << "monitored channels signal through the monitor page";
      else
        EXPECT_GT(page_signals, 0u) << "0.13 guest->host signals on connection id 2";
      EXPECT_EQ(count(trace, "\"type\":\"UNLOAD_RESPONSE\""), 1u) << "only the 1.1 connection unloads";
      EXPECT_EQ(count(trace, "vmbus.protocol_error"), 0u);
      EXPECT_EQ(count(trace, "vmbus.ring_rule"), 0u);
    }
  }
}

// VMBus 6.0 (PROTOCOL.md §5.5): the guest library's feature request, OpenChannel2 with a
// guest-specified connection id and event flag, the host's refusals, MODIFY_CONNECTION, and a
// feature-less reconnect (guest/tests/vmbus/vmbus_features.c) against the ws2025 host.
TEST(Vmbus, CopperFeaturesGuestSpecifiedSignalsAndModifyConnection) {
  MachineParams p = params("vmbus_features", "test");
  p.host = "ws2025";
  Machine m(p);
  m.tracer().enable_capture();
  Verdict v = m.run();
  const std::string& out = m.console_output();
  ASSERT_EQ(v.status(), 0) << v.message << "\n" << out;
  EXPECT_NE(out.find("checks passed"), std::string::npos) << out;
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  const auto& trace = m.tracer().captured();
  EXPECT_EQ(count(trace, "\"state\":\"connected\",\"version\":\"6.0\""), 2u) << "with features, then without";
  EXPECT_EQ(count(trace, "\"type\":\"UNLOAD_RESPONSE\""), 2u);
  // OpenChannel2 while 0x1/0x2 are granted (nine opens, two refused), the short form without.
  EXPECT_EQ(count(trace, "\"type\":\"OPENCHANNEL\",\"size\":156"), 9u);
  EXPECT_EQ(count(trace, "\"type\":\"OPENCHANNEL\",\"size\":148"), 1u);
  EXPECT_EQ(count(trace, "\"type\":\"MODIFY_CONNECTION\""), 4u) << "none posted without feature 0x4";
  EXPECT_EQ(count(trace, "vmbus.ring_rule"), 0u);
  // The host's side: the grant, the guest's flag on host->guest signals, and exactly the four
  // refusals the guest provokes (two opens, two MODIFY_CONNECTIONs); two changes succeed.
  EXPECT_EQ(count(trace, "\"features_requested\":\"0x8000000f\",\"features\":\"0x7\""), 1u);
  EXPECT_EQ(count(trace, "\"features_requested\":\"0x0\",\"features\":\"0x0\""), 1u);
  EXPECT_GT(count(trace, "\"dir\":\"host->guest\",\"relid\":1,\"old_target\":false,\"event_flag\":1000"), 0u);
  EXPECT_EQ(count(trace, "vmbus.protocol_error"), 4u);
  EXPECT_EQ(count(trace, "the channel's connection id is a message connection id"), 1u);
  EXPECT_EQ(count(trace, "OpenChannel2 event_flag beyond the 2048 SIEF flags"), 1u);
  EXPECT_EQ(count(trace, "MODIFY_CONNECTION while a monitored channel is open; failed"), 1u);
  EXPECT_EQ(count(trace, "MODIFY_CONNECTION names one monitor page; failed"), 1u);
  EXPECT_EQ(count(trace, "\"state\":\"connection_modified\""), 2u);
}

TEST(Vmbus, SubChannelsOpenOnTheirOwnVpsAndCloseBeforeThePrimary) {
  MachineParams p = params("vmbus_subchannels", "test", 4);
  p.device_params = {{"test.subchannels", "3"}};
  Machine m(p);
  m.tracer().enable_capture();
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  EXPECT_EQ(m.console_output().find("FAIL"), std::string::npos) << m.console_output();
  const auto& trace = m.tracer().captured();
  EXPECT_EQ(count(trace, "\"type\":\"OFFERCHANNEL\""), 4u) << "the primary and three sub-channels";
  EXPECT_EQ(count(trace, "vmbus.protocol_error"), 0u);
  EXPECT_EQ(count(trace, "vmbus.ring_rule"), 0u);
}

TEST(Vmbus, TheGuestLibraryHoldsAndServes256Channels) {
  std::string devices;
  for (unsigned i = 0; i < 256; ++i) devices += (i ? ",test:t" : "test:t") + std::to_string(i);
  Machine m(params("vmbus_many_channels", devices, 1));
  m.tracer().enable_capture();
  Verdict v = m.run();
  const std::string& out = m.console_output();
  EXPECT_EQ(v.status(), 0) << out;
  EXPECT_NE(out.find("vmbus_many_channels: 256 test channels opened"), std::string::npos) << out;
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  const auto& trace = m.tracer().captured();
  EXPECT_EQ(count(trace, "\"state\":\"open\""), 256u);
  EXPECT_EQ(count(trace, "vmbus.protocol_error"), 0u) << "no offer was released for want of a slot";
  for (unsigned i = 0; i < 256; i += 51)
    EXPECT_EQ(static_cast<devices::TestDevice*>(m.vmbus()->device("t" + std::to_string(i)))->packets_echoed(), 3u)
        << "t" << i;
}

TEST(Vmbus, RescindOfAnOpenChannelIsReleasedByTheGuest) {
  MachineParams p = params("vmbus_demo", "heartbeat,shutdown,timesync");
  p.device_params = {{"shutdown.at", "2s"}};
  Machine m(p);
  m.tracer().enable_capture();
  VirtualTime at = VirtualTime::from_ms(1500);
  m.events().schedule(at, EventPriority::kHost, [&m, at] { ASSERT_TRUE(m.vmbus()->rescind("heartbeat", at)); });
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  const auto& trace = m.tracer().captured();
  EXPECT_EQ(count(trace, "\"type\":\"RESCIND_CHANNELOFFER\""), 1u);
  EXPECT_EQ(count(trace, "\"state\":\"released\""), 1u) << "the guest sent RELID_RELEASED";
  EXPECT_EQ(count(trace, "vmbus.protocol_error"), 0u);
  EXPECT_EQ(count(trace, "\"event\":\"heartbeat.ok\""), 2u) << "heartbeats at 0 s and 1 s only";
}

TEST(Vmbus, AGuestThatSignalsOnEveryWriteIsThrottledButLosesNothing) {
  for (bool throttled : {true, false}) {
    MachineParams p = params("vmbus_chatty", "test");
    p.max_time = VirtualTime::from_ms(20000);
    if (!throttled) p.throttle.threshold = 0;
    Machine m(p);
    m.tracer().enable_capture();
    Verdict v = m.run();
    EXPECT_EQ(v.status(), 0) << m.console_output();
    const auto& trace = m.tracer().captured();
    EXPECT_GT(count(trace, "\"rule\":\"unnecessary_signal\""), 500u);
    if (throttled) {
      EXPECT_GE(count(trace, "vmbus.throttle"), 2u);
      EXPECT_GT(m.now(), VirtualTime::from_ms(2000)) << "suspended for at least one 2 s penalty";
    } else {
      EXPECT_EQ(count(trace, "vmbus.throttle"), 0u);
      EXPECT_LT(m.now(), VirtualTime::from_ms(100));
    }
  }
}

TEST(Vmbus, NoVmbusHostWithoutTheSynic) {
  MachineParams p = params("hello", "heartbeat");
  p.hv = "hv-vpindex,hv-time";
  Machine m(p);
  EXPECT_EQ(m.vmbus(), nullptr);
  MachineParams q = params("hello", "none");
  Machine n(q);
  EXPECT_EQ(n.vmbus(), nullptr);
}

TEST(Vmbus, UnknownDeviceTypeIsAUsageError) {
  MachineParams p = params("hello", "heartbeat,floppy");
  try {
    Machine m(p);
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("floppy"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hvsim
