#include "sim/cli/cli_options.h"

#include <gtest/gtest.h>

#include "sim/core/status.h"

namespace hvsim {
namespace {

std::string error_of(std::vector<std::string> args) {
  try {
    parse_command_line(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(CliOptions, ParsesRunOptions) {
  CommandLine cl = parse_command_line({"run", "--guest", "g.elf", "--vcpus", "4", "--seed=7", "--memory", "128M",
                                       "--max-time", "50ms", "--trace", "t.jsonl", "--quantum", "500", "--ap-start",
                                       "parked"});
  EXPECT_EQ(cl.command, Command::kRun);
  EXPECT_EQ(cl.run.machine.guest, "g.elf");
  EXPECT_EQ(cl.run.machine.vcpus, 4u);
  EXPECT_EQ(cl.run.machine.seed, 7u);
  EXPECT_EQ(cl.run.machine.memory, 128ull << 20);
  EXPECT_EQ(cl.run.machine.max_time, VirtualTime::from_ms(50));
  EXPECT_EQ(cl.run.machine.quantum, 500u);
  EXPECT_TRUE(cl.run.machine.aps_parked);
  EXPECT_EQ(cl.run.trace_path, "t.jsonl");
}

TEST(CliOptions, HelpAndVersion) {
  EXPECT_EQ(parse_command_line({"--help"}).command, Command::kHelp);
  EXPECT_EQ(parse_command_line({"run", "--help"}).command, Command::kRunHelp);
  EXPECT_EQ(parse_command_line({"--version"}).command, Command::kVersion);
}

TEST(CliOptions, ErrorsNameTheOptionAndTheExpectation) {
  EXPECT_EQ(error_of({"run"}), "run: --guest FILE is required; try `hvsim run --help`");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--vcpus", "0"}), "--vcpus: must be 1 to 64, got 0");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--vcpus", "x"}), "--vcpus: expected a vCPU count, got 'x'");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--max-time", "5"}),
            "--max-time: expected a duration such as 50ms, 2s, 100us or 0 (none), got '5'");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--memory", "3M"}),
            "--memory: must be 4 MiB to 3 GiB in steps of 2 MiB, got 3145728 bytes");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--bogus"}), "unknown option '--bogus'; try `hvsim run --help`");
  EXPECT_EQ(error_of({"run", "--guest"}), "--guest: missing value");
  EXPECT_EQ(error_of({"frobnicate"}), "unknown command 'frobnicate'; try `hvsim --help`");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--ap-start", "parked"}), "--ap-start parked: needs --vcpus 2 or more");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--hv", "hv-stimer"}), "--hv: hv-stimer requires hv-vpindex, hv-synic, hv-time");
  EXPECT_EQ(error_of({"run", "--guest", "g", "--hv", "hv-bogus"}).rfind("--hv: unknown enlightenment 'hv-bogus'", 0), 0u);
  EXPECT_NE(error_of({"run", "--guest", "g", "--host", "ws1999"}).find("ws1999"), std::string::npos);
}

TEST(CliOptions, SizesAndDurations) {
  EXPECT_EQ(parse_size("--memory", "1G"), 1ull << 30);
  EXPECT_EQ(parse_size("--memory", "4096K"), 4ull << 20);
  EXPECT_EQ(parse_duration("--max-time", "2s"), VirtualTime::from_ms(2000));
  EXPECT_EQ(parse_duration("--max-time", "10us"), VirtualTime::from_us(10));
  EXPECT_EQ(parse_duration("--max-time", "0"), VirtualTime::max());
}

}  // namespace hvsim
