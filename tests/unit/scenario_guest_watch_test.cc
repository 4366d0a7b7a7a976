// Triggers on guest events (`reaches`, `reads`; scenarios/README.md "Triggers"): parsing and its
// errors, the checks against the machine (symbols, image, devices, SynIC), and runs on real
// guests: a watch stops the vCPU before the watched instruction and loses nothing, fires at its
// nth hit, reports why it never ran, and changes nothing while it is armed but not hit.
#include <gtest/gtest.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "sim/core/status.h"
#include "sim/machine/elf_loader.h"
#include "sim/scenario/scenario_runner.h"
#include "tests/support/guests.h"
#include "tests/support/usage_error.h"

namespace hvsim::scenario {
namespace {

using nlohmann::json;

// A scenario for build guest `guest` with `devices` and one timeline entry (JSON text).
std::string scenario_text(const std::string& guest, const std::string& devices, const std::string& entry,
                          const std::string& machine_extra = "") {
  return R"({"schema": 1, "machine": {"guest": "${HVSIM_GUEST_DIR}/)" + guest + R"(.elf", "max_time": "1s")" + machine_extra +
         R"(}, "devices": )" + devices + R"(, "timeline": [)" + entry + "]}";
}

const std::string kIcDevices = R"([{"type": "heartbeat"}, {"type": "shutdown", "params": {"at": "300ms"}}, {"type": "timesync"}])";

struct Ran {
  ScenarioReport report;
  uint64_t hash = 0;
  uint64_t retired0 = 0;
  std::string console;
  std::vector<json> records;  // guest.reach and guest.read
  uint64_t simp0 = 0;         // vp0's SIMP at the end
};

Ran run_text(const std::string& text) {
  Scenario s = parse_scenario(text, "/scenarios/s.json");
  ScenarioRunner runner(s, {{"--no-console", ""}});
  Ran r;
  runner.machine().tracer().add_observer([&r](TracePoint p, VirtualTime, int, std::string_view line) {
    if (p == TracePoint::kGuestReach || p == TracePoint::kGuestRead) r.records.push_back(json::parse(line));
  });
  r.report = runner.run();
  r.hash = runner.machine().tracer().hash();
  r.retired0 = runner.machine().retired(0);
  r.console = runner.machine().console_output();
  r.simp0 = runner.machine().hv().partition().synic(0).simp();
  return r;
}

std::string parse_error(const std::string& entry) {
  return test::usage_error_of([&] {
    parse_scenario(scenario_text("hello", R"([{"type": "test", "name": "t1"}])", entry, R"(, "vcpus": 2)"), "s.json");
  });
}

std::string usage_error(const std::string& text) { return test::usage_error_of([&] { run_text(text); }); }

class GuestWatchTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("HVSIM_GUEST_DIR", HVSIM_GUEST_DIR, 1); }
};

TEST(GuestWatchSpec, TriggersBecomeTypedValuesAndDescribeThemselves) {
  Scenario s = parse_scenario(scenario_text("hello", R"([{"type": "test", "name": "t1"}])", R"(
      {"reaches": {"symbol": "vmbus_isr", "vp": 1, "nth": 2}, "delay": "5us", "do": "offer", "device": "t1"},
      {"reaches": {"address": "0x20100A"}, "do": "offer", "device": "t1"},
      {"reads": {"synic_slot": {"vp": 1, "sint": 2}}, "do": "offer", "device": "t1"},
      {"reads": {"ring": "t1", "part": "data", "vp": 0, "nth": 3}, "do": "offer", "device": "t1"},
      {"reads": {"ring": "t1"}, "repeat": {"every": "1ms", "count": 2}, "do": "offer", "device": "t1"})",
                                            R"(, "vcpus": 2)"),
                              "s.json");
  ASSERT_EQ(s.timeline.size(), 5u);
  const auto& r0 = std::get<ReachTrigger>(s.timeline[0].when.trigger);
  EXPECT_EQ(r0.symbol, "vmbus_isr");
  EXPECT_EQ(r0.vp, 1u);
  EXPECT_EQ(r0.nth, 2u);
  const auto& r1 = std::get<ReachTrigger>(s.timeline[1].when.trigger);
  EXPECT_EQ(r1.address, 0x20100au);
  EXPECT_FALSE(r1.vp.has_value());
  EXPECT_EQ(r1.nth, 1u);
  const auto& slot = std::get<SynicSlotTarget>(std::get<ReadTrigger>(s.timeline[2].when.trigger).target);
  EXPECT_EQ(slot.vp, 1u);
  EXPECT_EQ(slot.sint, 2u);
  const auto& read3 = std::get<ReadTrigger>(s.timeline[3].when.trigger);
  EXPECT_EQ(std::get<RingTarget>(read3.target).device, "t1");
  EXPECT_EQ(std::get<RingTarget>(read3.target).part, RingPart::kData);
  EXPECT_EQ(read3.vp, 0u);
  EXPECT_EQ(read3.nth, 3u);
  EXPECT_EQ(std::get<RingTarget>(std::get<ReadTrigger>(s.timeline[4].when.trigger).target).part, RingPart::kAll);
  EXPECT_EQ(describe(s.timeline[0].when), "the 2nd time vp1 reaches vmbus_isr + 5us");
  EXPECT_EQ(describe(s.timeline[1].when), "the 1st time a vCPU reaches 0x20100a");
  EXPECT_EQ(describe(s.timeline[2].when), "the 1st time vp1 reads its SynIC message slot for SINT 2");
  EXPECT_EQ(describe(s.timeline[3].when), "the 3rd time vp0 reads the host->guest ring of t1 (data area)");
  EXPECT_EQ(describe(s.timeline[4].when), "the 1st time a vCPU reads the host->guest ring of t1, 2 times every 1ms");
}

TEST(GuestWatchSpec, BadTriggersNameThePointer) {
  struct Case {
    const char* entry;
    const char* error;
  };
  const Case cases[] = {
      {R"({"reaches": {"symbol": "f", "address": "0x1000"}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reaches: has both \"symbol\" and \"address\"; expected one of \"symbol\" or \"address\""},
      {R"({"reaches": {"nth": 2}, "do": "offer", "device": "t1"})", "s.json: /timeline/0/reaches: missing \"symbol\" or \"address\""},
      {R"({"reaches": {"address": "201000"}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reaches/address: expected a guest-virtual address as a hex string, e.g. \"0x201000\", got \"201000\""},
      {R"({"reaches": {"address": 2101248}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reaches/address: expected a guest-virtual address as a hex string, e.g. \"0x201000\", got 2101248"},
      {R"({"reaches": {"symbol": ""}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reaches/symbol: expected a symbol of the guest ELF's .symtab, got \"\""},
      {R"({"reaches": {"symbol": "f", "vp": 2}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reaches/vp: expected an integer from 0 to 1, got 2"},
      {R"({"reaches": {"symbol": "f", "when": 1}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reaches/when: unknown key; expected one of: symbol, address, vp, nth"},
      {R"({"reaches": {"symbol": "f"}, "at": "1ms", "do": "offer", "device": "t1"})",
       "s.json: /timeline/0: a timeline entry has exactly one trigger of at, on, after_insns, after, reaches, reads; this one has at and reaches"},
      {R"({"reads": {}, "do": "offer", "device": "t1"})", "s.json: /timeline/0/reads: missing \"synic_slot\" or \"ring\""},
      {R"({"reads": {"synic_slot": {"vp": 0, "sint": 16}}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reads/synic_slot/sint: expected an integer from 0 to 15, got 16"},
      {R"({"reads": {"synic_slot": {"vp": 0}}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reads/synic_slot: missing key \"sint\""},
      {R"({"reads": {"synic_slot": {"vp": 0, "sint": 2}, "vp": 1}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reads/vp: a SynIC message slot is read by its own VP only: name it in synic_slot.vp"},
      {R"({"reads": {"synic_slot": {"vp": 0, "sint": 2}, "part": "data"}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reads/part: part applies to a ring only"},
      {R"({"reads": {"ring": "t1", "part": "tail"}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reads/part: expected one of all, header, data, got \"tail\""},
      {R"({"reads": {"ring": "t1", "nth": 0}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/reads/nth: expected an integer from 1 to 18446744073709551615, got 0"},
  };
  for (const Case& c : cases) EXPECT_EQ(parse_error(c.entry), c.error) << c.entry;
}

TEST(GuestWatchElf, SymbolsComeFromTheSymtabAndAmbiguousLocalsAreLeftOut) {
  ElfImage img = load_elf(test::guest("vmbus_demo"));
  EXPECT_TRUE(img.symbols.count("vmbus_drain_slot"));  // global
  EXPECT_TRUE(img.symbols.count("ic_callback"));       // local, defined once
  EXPECT_FALSE(img.symbols.count("probe"));            // a static `probe` in each of three drivers
  EXPECT_GE(img.symbols.at("guest_main"), img.segments[0].vaddr);
}

TEST_F(GuestWatchTest, TargetsAreCheckedAgainstTheMachine) {
  const std::string hb = R"([{"type": "heartbeat"}])";
  std::string e = usage_error(scenario_text("hello", hb, R"({"reaches": {"symbol": "no_such"}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_EQ(e.rfind("/scenarios/s.json: /timeline/0/reaches/symbol: the guest ELF '", 0), 0u) << e;
  EXPECT_NE(e.find("hello.elf' has no symbol \"no_such\" in its .symtab"), std::string::npos) << e;
  e = usage_error(scenario_text("vmbus_demo", hb, R"({"reaches": {"symbol": "probe"}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_NE(e.find("(or several local ones: name an address)"), std::string::npos) << e;
  e = usage_error(scenario_text("hello", hb, R"({"reaches": {"address": "0x10"}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_EQ(e.rfind("/scenarios/s.json: /timeline/0/reaches/address: 0x10 is not inside the guest image's PT_LOAD segments", 0), 0u) << e;
  e = usage_error(scenario_text("hello", hb, R"({"reads": {"ring": "nope"}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_EQ(e, "/scenarios/s.json: /timeline/0/reads/ring: the VMBus host has no device named \"nope\"");
  e = usage_error(scenario_text("hello", "[]", R"({"reads": {"synic_slot": {"vp": 0, "sint": 2}}, "do": "change_tsc_frequency", "hz": 3000000000})",
                                R"(, "hv": "none")"));
  EXPECT_EQ(e, "/scenarios/s.json: /timeline/0/reads/synic_slot: needs the SynIC (machine.hv 'none' lacks hv-synic)");
}

TEST_F(GuestWatchTest, AReachStopsBeforeTheInstructionAtTheNthHitAndLosesNothing) {
  const std::string hb = R"([{"type": "heartbeat"}])";
  Ran plain = run_text(scenario_text("hello", hb, ""));
  Ran r = run_text(scenario_text("hello", hb, R"({"reaches": {"symbol": "console_write", "nth": 2}, "do": "set_retarget_lag", "lag": "0"})"));
  ASSERT_EQ(r.report.actions.size(), 1u);
  EXPECT_TRUE(r.report.actions[0].held) << r.report.actions[0].why;
  ASSERT_EQ(r.records.size(), 2u) << "one record per hit; the watch goes once it has fired";
  EXPECT_EQ(r.records[1]["ev"], "guest.reach");
  EXPECT_EQ(r.records[1]["what"], "console_write");
  char rip[32];
  std::snprintf(rip, sizeof rip, "0x%llx", static_cast<unsigned long long>(load_elf(test::guest("hello")).symbols.at("console_write")));
  EXPECT_EQ(r.records[1]["rip"], rip);
  // Stopping before the instruction and running it later neither skips nor repeats anything.
  EXPECT_EQ(r.retired0, plain.retired0);
  EXPECT_EQ(r.console, plain.console);
  EXPECT_EQ(r.report.run.verdict.label(), "exit(0)");
}

TEST_F(GuestWatchTest, AReachThatNeverHappensSaysSo) {
  Ran r = run_text(scenario_text("hello", R"([{"type": "heartbeat"}])",
                                 R"({"reaches": {"symbol": "guest_main", "vp": 1}, "do": "set_retarget_lag", "lag": "0"})",
                                 R"(, "vcpus": 2, "ap_start": "parked")"));
  EXPECT_EQ(r.report.status, 1);
  EXPECT_FALSE(r.report.actions[0].held);
  EXPECT_EQ(r.report.actions[0].why.rfind("never ran: vp1 never reached guest_main; the run ended at ", 0), 0u) << r.report.actions[0].why;
  Ran twice = run_text(scenario_text("hello", R"([{"type": "heartbeat"}])",
                                     R"({"reaches": {"symbol": "console_write", "nth": 1000000}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_EQ(twice.report.actions[0].why.rfind("never ran: only ", 0), 0u) << twice.report.actions[0].why;
  EXPECT_NE(twice.report.actions[0].why.find(" of the 1000000 times a vCPU reaches console_write; "), std::string::npos)
      << twice.report.actions[0].why;
}

TEST_F(GuestWatchTest, ASynicSlotReadFollowsSimpAndStopsBeforeTheRead) {
  Ran r = run_text(scenario_text("vmbus_demo", kIcDevices,
                                 R"({"reads": {"synic_slot": {"vp": 0, "sint": 2}}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_TRUE(r.report.actions[0].held) << r.report.actions[0].why;
  EXPECT_EQ(r.report.run.verdict.label(), "exit(0)");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0]["ev"], "guest.read");
  EXPECT_EQ(r.records[0]["vp"], 0);
  EXPECT_EQ(r.records[0]["what"], "synic_slot");
  uint64_t gpa = std::stoull(r.records[0]["gpa"].get<std::string>(), nullptr, 16);
  uint64_t slot = (r.simp0 & ~0xfffull) + 2 * 256;
  EXPECT_TRUE(gpa >= slot && gpa < slot + 256) << r.records[0].dump();
}

TEST_F(GuestWatchTest, AReadOfMemoryThatNeverExistedSaysWhy) {
  Ran slot = run_text(scenario_text("hello", R"([{"type": "heartbeat"}])",
                                    R"({"reads": {"synic_slot": {"vp": 0, "sint": 2}}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_EQ(slot.report.actions[0].why.rfind(
                "never ran: vp0 never read its SynIC message slot for SINT 2 (vp0 never enabled its SIMP page); the run ended at ", 0),
            0u)
      << slot.report.actions[0].why;
  Ran ring = run_text(scenario_text("hello", R"([{"type": "test", "name": "t1"}])",
                                    R"({"reads": {"ring": "t1"}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_EQ(ring.report.actions[0].why.rfind(
                "never ran: no vCPU ever read the host->guest ring of t1 (the channel of t1 was never open); the run ended at ", 0),
            0u)
      << ring.report.actions[0].why;
}

TEST_F(GuestWatchTest, AnArmedWatchThatIsNeverHitChangesNothing) {
  // SINT 7's slot is watched (the read hook is installed once SIMP is enabled) but never read;
  // the run, its trace hash included, is that of the run without the entry.
  Ran plain = run_text(scenario_text("vmbus_demo", kIcDevices, ""));
  Ran armed = run_text(scenario_text("vmbus_demo", kIcDevices,
                                     R"({"reads": {"synic_slot": {"vp": 0, "sint": 7}}, "do": "set_retarget_lag", "lag": "0"})"));
  EXPECT_EQ(armed.report.actions[0].why.rfind("never ran: vp0 never read its SynIC message slot for SINT 7; ", 0), 0u)
      << armed.report.actions[0].why;
  EXPECT_TRUE(armed.records.empty());
  EXPECT_EQ(armed.hash, plain.hash);
  EXPECT_EQ(armed.retired0, plain.retired0);
}

TEST_F(GuestWatchTest, RingReadHitsAreDeterministic) {
  std::string text = scenario_text("vmbus_demo", kIcDevices,
                                   R"({"reads": {"ring": "heartbeat", "part": "data", "nth": 2}, "do": "rescind", "device": "heartbeat"})");
  Ran a = run_text(text), b = run_text(text);
  EXPECT_TRUE(a.report.actions[0].held) << a.report.actions[0].why;
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.records, b.records);
  EXPECT_EQ(a.hash, b.hash);
}

}  // namespace
}  // namespace hvsim::scenario
