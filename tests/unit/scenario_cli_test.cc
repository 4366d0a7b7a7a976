// `hvsim scenario` on the command line: the file, the run options that override a scenario (kept
// in order, each checked at once), and the options a scenario refuses.
#include <gtest/gtest.h>

#include "sim/cli/cli_options.h"
#include "sim/core/status.h"
#include "tests/support/usage_error.h"

namespace hvsim {
namespace {

std::string usage_error(const std::vector<std::string>& args) {
  return test::usage_error_of([&] { parse_command_line(args); });
}

TEST(ScenarioCli, TheFileAndTheOverridesInOrder) {
  CommandLine cl = parse_command_line({"scenario", "--seed", "3", "s.json", "--max-time=2s", "--no-console", "--seed", "4"});
  EXPECT_EQ(cl.command, Command::kScenario);
  EXPECT_EQ(cl.scenario.file, "s.json");
  using Options = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(cl.scenario.options,
            (Options{{"--seed", "3"}, {"--max-time", "2s"}, {"--no-console", ""}, {"--seed", "4"}}));
  RunOptions o;
  for (const auto& [opt, value] : cl.scenario.options) apply_run_option(o, opt, value);
  EXPECT_EQ(o.machine.seed, 4u) << "the last one wins";
  EXPECT_EQ(o.machine.max_time, VirtualTime::from_ms(2000));
  EXPECT_FALSE(o.machine.echo_console);
  EXPECT_EQ(parse_command_line({"scenario", "--help"}).command, Command::kScenarioHelp);
}

TEST(ScenarioCli, MistakesAreUsageErrors) {
  EXPECT_EQ(usage_error({"scenario"}), "scenario: FILE is required; try `hvsim scenario --help`");
  EXPECT_EQ(usage_error({"scenario", "a.json", "b.json"}), "scenario: one FILE only, got 'a.json' and 'b.json'");
  EXPECT_EQ(usage_error({"scenario", "a.json", "--seed", "x"}), "--seed: expected a number, got 'x'");
  EXPECT_EQ(usage_error({"scenario", "a.json", "--seed"}), "--seed: missing value");
  EXPECT_EQ(usage_error({"scenario", "a.json", "--bogus"}), "unknown option '--bogus'; try `hvsim scenario --help`");
  for (const char* opt : {"--vmbus-devices", "--device-param", "--shutdown-at"})
    EXPECT_EQ(usage_error({"scenario", "a.json", opt, "x"}),
              std::string(opt) + ": not with a scenario (its devices and host actions come from the file); try `hvsim scenario --help`");
}

TEST(ScenarioCli, SetPatchesAndSweeps) {
  CommandLine cl = parse_command_line({"scenario", "s.json", "--set", "/vmbus/retarget_lag=5us", "--seed", "2", "--set=/machine/vcpus=1"});
  EXPECT_EQ(cl.scenario.sets, (std::vector<std::string>{"/vmbus/retarget_lag=5us", "/machine/vcpus=1"}));
  EXPECT_EQ(cl.scenario.options.size(), 1u);
  cl = parse_command_line({"sweep", "s.json", "--seeds", "1..10", "--vary", "/a=1..2", "--vary=/b=1us..2us", "--set", "/c=1",
                           "--quantum", "500"});
  EXPECT_EQ(cl.command, Command::kSweep);
  EXPECT_EQ(cl.sweep.base.file, "s.json");
  EXPECT_EQ(cl.sweep.seeds, "1..10");
  EXPECT_EQ(cl.sweep.varies, (std::vector<std::string>{"/a=1..2", "/b=1us..2us"}));
  EXPECT_EQ(cl.sweep.base.sets, (std::vector<std::string>{"/c=1"}));
  using Options = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(cl.sweep.base.options, (Options{{"--quantum", "500"}}));
  EXPECT_EQ(parse_command_line({"sweep", "--help"}).command, Command::kSweepHelp);
  EXPECT_EQ(usage_error({"sweep"}), "sweep: FILE is required; try `hvsim sweep --help`");
  EXPECT_EQ(usage_error({"sweep", "s.json", "--seed", "1"}), "--seed: not with a sweep (use --seeds A..B)");
  EXPECT_EQ(usage_error({"sweep", "s.json", "--trace", "t.jsonl"}),
            "--trace: not with a sweep (trace a variant with its reproduction command)");
  EXPECT_EQ(usage_error({"sweep", "s.json", "--vary"}), "--vary: missing value");
  EXPECT_EQ(usage_error({"sweep", "s.json", "--bogus"}), "unknown option '--bogus'; try `hvsim sweep --help`");
}

TEST(ScenarioCli, RunKeepsItsOptions) {
  CommandLine cl = parse_command_line({"run", "--guest", "g.elf", "--seed=9", "--device-param", "heartbeat.period=1s"});
  EXPECT_EQ(cl.command, Command::kRun);
  EXPECT_EQ(cl.run.machine.guest, "g.elf");
  EXPECT_EQ(cl.run.machine.seed, 9u);
  ASSERT_EQ(cl.run.machine.device_params.size(), 1u);
  EXPECT_EQ(usage_error({"run", "--guest", "g.elf", "--bogus"}), "unknown option '--bogus'; try `hvsim run --help`");
  EXPECT_EQ(parse_command_line({"run", "--help"}).command, Command::kRunHelp);
}

}  // namespace
}  // namespace hvsim
