// The scenario runner on real guests (build/guest/*.elf) and through `hvsim scenario`: guest path
// resolution, command-line overrides, timeline actions that never ran or were refused, the exit
// status rule, and a deliberately failing expectation that must be reported by name (exit 1).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "sim/core/status.h"
#include "sim/scenario/scenario_runner.h"
#include "tests/support/guests.h"
#include "tests/support/usage_error.h"

namespace hvsim::scenario {
namespace {

// A scenario for a build guest, with `rest` (JSON members, comma-led) appended.
std::string scenario_text(const std::string& guest, const std::string& rest = "") {
  return R"({"schema": 1, "machine": {"guest": "${HVSIM_GUEST_DIR}/)" + guest + R"(.elf", "max_time": "1s"})" + rest + "}";
}

struct Ran {
  ScenarioReport report;
  uint64_t seed = 0;
  uint64_t hash = 0;
};

Ran run_text(const std::string& text, const std::vector<std::pair<std::string, std::string>>& options = {}) {
  Scenario s = parse_scenario(text, "/scenarios/s.json");
  std::vector<std::pair<std::string, std::string>> all = {{"--no-console", ""}};
  all.insert(all.end(), options.begin(), options.end());
  ScenarioRunner runner(s, all);
  Ran r;
  r.report = runner.run();
  r.seed = runner.machine().params().seed;
  r.hash = runner.machine().tracer().hash();
  return r;
}

std::string usage_error(const std::string& text) { return test::usage_error_of([&] { run_text(text); }); }

class ScenarioRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("HVSIM_GUEST_DIR", HVSIM_GUEST_DIR, 1); }
};

TEST(ScenarioGuestPath, PlaceholderAbsoluteAndRelativePaths) {
  EXPECT_EQ(resolve_guest_path("${HVSIM_GUEST_DIR}/a.elf", "dir/s.json", "/build/guest"), "/build/guest/a.elf");
  EXPECT_EQ(resolve_guest_path("/abs/a.elf", "dir/s.json", "/g"), "/abs/a.elf");
  EXPECT_EQ(resolve_guest_path("../bin/a.elf", "scen/vmbus/s.json", "/g"), "scen/bin/a.elf");
  EXPECT_EQ(resolve_guest_path("a.elf", "s.json", "/g"), "a.elf");
  try {
    resolve_guest_path("${HOME}/a.elf", "s.json", "/g");
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("s.json: /machine/guest: "), std::string::npos) << e.what();
  }
}

TEST_F(ScenarioRunnerTest, AllExpectationsHold) {
  Ran r = run_text(scenario_text("hello", R"(, "devices": [], "expect": [{"exit_code": 0},
      {"trace": "console.line", "min": 1}, {"never": "exc.deliver"}, {"no_crash": true}, {"ends_before": "1ms"}])"));
  EXPECT_EQ(r.report.status, 0);
  EXPECT_EQ(r.report.run.verdict.kind, Verdict::Kind::kExit);
  ASSERT_EQ(r.report.expectations.size(), 5u);
  for (const CheckResult& c : r.report.expectations) EXPECT_TRUE(c.held) << c.pointer << " " << c.why;
}

TEST_F(ScenarioRunnerTest, ADeliberatelyFailingExpectationIsStatus1) {
  Ran r = run_text(scenario_text("hello", R"(, "devices": [], "expect": [{"exit_code": 0},
      {"never": "console.line", "name": "the guest stays silent"}])"));
  EXPECT_EQ(r.report.status, 1);
  EXPECT_TRUE(r.report.expectations[0].held);
  EXPECT_FALSE(r.report.expectations[1].held);
  EXPECT_EQ(r.report.expectations[1].description, "the guest stays silent");
  EXPECT_NE(r.report.expectations[1].why.find("first at trace line "), std::string::npos) << r.report.expectations[1].why;
}

TEST_F(ScenarioRunnerTest, UncoveredEndingsKeepTheirRunStatus) {
  EXPECT_EQ(run_text(scenario_text("exit42", R"(, "devices": [])")).report.status, 1) << "non-zero exit, no exit_code";
  EXPECT_EQ(run_text(scenario_text("exit42", R"(, "devices": [], "expect": [{"exit_code": 42}])")).report.status, 0);
  EXPECT_EQ(run_text(scenario_text("halt_forever", R"(, "devices": [], "expect": [{"no_crash": true}])")).report.status, 4)
      << "no_crash does not cover a watchdog";
  EXPECT_EQ(run_text(scenario_text("halt_forever", R"(, "devices": [], "expect": [{"ends_before": "1ms"}])")).report.status, 0);
  EXPECT_EQ(run_text(scenario_text("halt_forever", R"(, "devices": [], "expect": [{"trace": "run.verdict", "where": {"verdict": "watchdog"}}])"))
                .report.status,
            0);
}

TEST_F(ScenarioRunnerTest, ActionsThatNeverRanOrWereRefusedFail) {
  // hello exits after about 2.5 us: the rescind at 1 us runs but the heartbeat was never offered
  // (the guest never connects); the one at 1 s never runs.
  Ran r = run_text(scenario_text("hello", R"(, "devices": [{"type": "heartbeat"}], "timeline": [
      {"at": "1us", "do": "rescind", "device": "heartbeat"},
      {"at": "1s", "do": "set_retarget_lag", "lag": "1ms"}], "expect": [{"exit_code": 0}])"));
  EXPECT_EQ(r.report.status, 1);
  ASSERT_EQ(r.report.actions.size(), 2u);
  EXPECT_FALSE(r.report.actions[0].held);
  EXPECT_EQ(r.report.actions[0].description, "at 1us: rescind heartbeat");
  EXPECT_NE(r.report.actions[0].why.find("the host refused it"), std::string::npos) << r.report.actions[0].why;
  EXPECT_FALSE(r.report.actions[1].held);
  EXPECT_EQ(r.report.actions[1].why.rfind("never ran: the run ended at ", 0), 0u) << r.report.actions[1].why;
}

// The kvp action end to end, against the reference guest's KVP driver: what is set is read back,
// the auto pool's walk ends after its four entries, and the same scenario twice is the same run.
TEST_F(ScenarioRunnerTest, KvpRequestsReachTheGuestDriverDeterministically) {
  const std::string text = scenario_text("vmbus_demo", R"(,
    "devices": [{"type": "shutdown", "params": {"at": "300ms"}}, {"type": "kvp", "name": "k"}],
    "timeline": [
      {"at": "50ms", "do": "kvp", "device": "k", "op": "set", "pool": "guest", "key": "K", "value": "V"},
      {"at": "50ms", "do": "kvp", "device": "k", "op": "get", "pool": "guest", "key": "K"},
      {"at": "50ms", "do": "kvp", "device": "k", "op": "enumerate", "pool": "auto"}],
    "expect": [{"exit_code": 0},
      {"trace": "vmbus.device", "where": {"event": "kvp.reply", "op": "get", "key": "K", "value": "V", "ok": true}, "count": 1},
      {"trace": "vmbus.device", "where": {"event": "kvp.enumerated", "pool": "auto", "count": 4, "end": "no_more_items"}, "count": 1},
      {"never": "vmbus.device", "where": {"event": "kvp.bad_reply"}}])");
  const Ran a = run_text(text), b = run_text(text);
  EXPECT_EQ(a.report.status, 0);
  for (const CheckResult& c : a.report.actions) EXPECT_TRUE(c.held) << c.description << " " << c.why;
  for (const CheckResult& c : a.report.expectations) EXPECT_TRUE(c.held) << c.pointer << " " << c.why;
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.report.run.end, b.report.run.end);
  EXPECT_EQ(run_text(text, {{"--seed", "9"}}).report.status, 0);
}

TEST_F(ScenarioRunnerTest, ActionsRunAtTheirExactVirtualTime) {
  Ran r = run_text(scenario_text("halt_forever", R"(, "devices": [], "timeline": [
      {"at": "1500us", "do": "change_tsc_frequency", "hz": 3000000000}],
      "expect": [{"trace": "reftsc.update", "count": 1, "after": "1500us", "before": "1500001ns"}, {"ends_before": "2ms"}])"));
  EXPECT_TRUE(r.report.actions[0].held);
  for (const CheckResult& c : r.report.expectations) EXPECT_TRUE(c.held) << c.pointer << " " << c.why;
  EXPECT_EQ(r.report.status, 0);
  EXPECT_EQ(r.report.run.end, VirtualTime::from_us(1500)) << "the action kept the machine alive until it ran";
}

// run.start (t=0) triggers the first change, `after` chains the second to it, `repeat` runs the
// third three times: each leaves one reftsc.update at its exact time.
TEST_F(ScenarioRunnerTest, TraceAfterAndRepeatTriggersRunAtTheirTimes) {
  Ran r = run_text(scenario_text("halt_forever", R"(, "devices": [], "timeline": [
      {"id": "first", "on": {"trace": "run.start"}, "delay": "1500us", "do": "change_tsc_frequency", "hz": 3000000000},
      {"after": "first", "delay": "100us", "do": "change_tsc_frequency", "hz": 2000000000},
      {"at": "2ms", "repeat": {"every": "100us", "count": 3}, "do": "change_tsc_frequency", "hz": 2500000000}],
      "expect": [{"trace": "reftsc.update", "count": 1, "after": "1500us", "before": "1500001ns"},
                 {"trace": "reftsc.update", "count": 1, "after": "1600us", "before": "1600001ns"},
                 {"trace": "reftsc.update", "count": 3, "after": "2ms", "before": "2200001ns"},
                 {"trace": "reftsc.update", "count": 5, "after": "1us"},
                 {"ends_before": "3ms"}])"));
  ASSERT_EQ(r.report.actions.size(), 3u);
  for (const CheckResult& c : r.report.actions) EXPECT_TRUE(c.held) << c.pointer << " " << c.why;
  for (const CheckResult& c : r.report.expectations) EXPECT_TRUE(c.held) << c.pointer << " " << c.why;
  EXPECT_EQ(r.report.actions[0].description, "on the 1st run.start + 1500us: change_tsc_frequency 3000000000");
  EXPECT_EQ(r.report.actions[2].description, "at 2ms, 3 times every 100us: change_tsc_frequency 2500000000");
  EXPECT_EQ(r.report.status, 0);
  EXPECT_EQ(r.report.run.end, VirtualTime::from_us(2200)) << "the last repeat kept the machine alive until it ran";
}

TEST_F(ScenarioRunnerTest, TriggersThatNeverFireSayWhy) {
  Ran r = run_text(scenario_text("halt_forever", R"(, "devices": [], "timeline": [
      {"id": "never", "on": {"trace": "run.start", "nth": 2}, "do": "change_tsc_frequency", "hz": 3000000000},
      {"after": "never", "do": "change_tsc_frequency", "hz": 3000000000},
      {"at": "1ms", "repeat": {"every": "1s", "count": 2}, "do": "change_tsc_frequency", "hz": 3000000000}],
      "expect": [{"ends_before": "1s"}])"));
  EXPECT_EQ(r.report.status, 1);
  ASSERT_EQ(r.report.actions.size(), 3u);
  for (const CheckResult& c : r.report.actions) EXPECT_FALSE(c.held) << c.pointer;
  EXPECT_EQ(r.report.actions[0].why, "never ran: found 1 of the 2 matching records it waits for; the run ended at 1s (watchdog)");
  EXPECT_EQ(r.report.actions[1].why, "never ran: never (/timeline/0) never ran; the run ended at 1s (watchdog)");
  EXPECT_EQ(r.report.actions[2].why, "ran 1 of 2 times: the run ended at 1s (watchdog)");
}

// hello retires a few thousand instructions in about 2.5 us: a count it reaches fires at a poll
// (every kInsnPollStep); one it never reaches does not keep a halted machine alive.
TEST_F(ScenarioRunnerTest, InstructionCountTriggersArePolled) {
  Ran r = run_text(scenario_text("hello", R"(, "devices": [], "timeline": [
      {"after_insns": {"vp": 0, "count": 1000}, "do": "change_tsc_frequency", "hz": 3000000000}],
      "expect": [{"exit_code": 0}])"));
  EXPECT_TRUE(r.report.actions[0].held) << r.report.actions[0].why;
  EXPECT_EQ(r.report.status, 0);

  r = run_text(scenario_text("halt_forever", R"(, "devices": [], "timeline": [
      {"after_insns": {"vp": 0, "count": 1000000000}, "do": "change_tsc_frequency", "hz": 3000000000}],
      "expect": [{"ends_before": "1ms"}])"));
  EXPECT_FALSE(r.report.actions[0].held);
  EXPECT_EQ(r.report.actions[0].why.rfind("never ran: vp0 retired ", 0), 0u) << r.report.actions[0].why;
  EXPECT_LT(r.report.run.end, VirtualTime::from_ms(1)) << "polling stopped once nothing could run";
  try {
    run_text(R"({"schema": 1, "machine": {"guest": "${HVSIM_GUEST_DIR}/hello.elf", "vcpus": 2}, "devices": [], "timeline": [
        {"after_insns": {"vp": 1, "count": 5}, "do": "change_tsc_frequency", "hz": 3000000000}]})",
             {{"--vcpus", "1"}});
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "/scenarios/s.json: /timeline/0/after_insns/vp: the machine has 1 vCPU(s); vp 1 does not exist");
  }
}

TEST_F(ScenarioRunnerTest, CommandLineOptionsOverrideTheScenario) {
  const std::string text = scenario_text("hello", R"(, "devices": [])");
  Ran a = run_text(text);
  Ran b = run_text(text, {{"--seed", "9"}});
  EXPECT_EQ(a.seed, 1u);
  EXPECT_EQ(b.seed, 9u);
  EXPECT_EQ(run_text(text).hash, a.hash) << "a scenario run is deterministic";
  EXPECT_NE(b.hash, a.hash) << "the seed is in run.start";
}

TEST_F(ScenarioRunnerTest, InputErrorsBeforeTheRunNameTheScenario) {
  EXPECT_EQ(usage_error(R"({"schema": 1, "machine": {"guest": "${HVSIM_GUEST_DIR}/nonexistent.elf"}})"),
            "/scenarios/s.json: /machine/guest: no guest ELF at '" HVSIM_GUEST_DIR
            "/nonexistent.elf' (build outputs are named \"${HVSIM_GUEST_DIR}/NAME.elf\")");
  EXPECT_EQ(usage_error(R"({"schema": 1, "machine": {"guest": "${HVSIM_GUEST_DIR}/hello.elf", "hv": "hv-vpindex,hv-time"}})"),
            "/scenarios/s.json: /devices: the VMBus host needs the SynIC (machine.hv 'hv-vpindex,hv-time' lacks hv-synic)");
  EXPECT_EQ(usage_error(scenario_text("hello", R"(, "devices": [], "timeline": [{"at": "0", "do": "rescind_relid", "relid": 1}])")),
            "/scenarios/s.json: /timeline/0: rescind_relid 1 needs the VMBus host, and this machine has none");
}

// Through the hvsim binary: the failing expectation is printed by pointer and name, exit 1, and
// the summary line still has the seed and the trace hash.
TEST_F(ScenarioRunnerTest, TheCommandLineReportsAFailedExpectation) {
  std::string path = test::temp_path("failing_scenario.json");
  {
    std::ofstream f(path);
    f << scenario_text("hello", R"(, "devices": [], "expect": [{"exit_code": 0}, {"never": "console.line", "name": "deliberately failing"}])");
  }
  test::CliResult r = test::run_hvsim("scenario " + path + " --no-console --seed 5");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("hvsim: FAILED /expect/1 deliberately failing: expected none, found "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" status=1 "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" seed=5 trace_hash="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" expectations=1/2"), std::string::npos) << r.err;

  {
    std::ofstream f(path);
    f << scenario_text("hello", R"(, "devices": [], "timeline": [{"at": 12, "do": "offer", "device": "x"}])");
  }
  r = test::run_hvsim("scenario " + path);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(path + ": /timeline/0/at: expected a duration like \"1500us\""), std::string::npos) << r.err;
  r = test::run_hvsim("scenario " + path + " --vmbus-devices test");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--vmbus-devices: not with a scenario"), std::string::npos) << r.err;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hvsim::scenario
