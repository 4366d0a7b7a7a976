// `hvsim scenario` on the command line: the file, the run options that override a scenario (kept
// in order, each checked at once), and the options a scenario refuses.
#include <gtest/gtest.h>

#include "sim/cli/cli_options.h"
#include "sim/core/status.h"

namespace hvsim {
namespace {

std::string usage_error(const std::vector<std::string>& args) {
  try {
    parse_command_line(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
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
