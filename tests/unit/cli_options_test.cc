#include "sim/cli/cli_options.h"

#include <gtest/gtest.h>

#include "sim/core/status.h"
#include "tests/support/usage_error.h"

namespace hvsim {
namespace {

std::string error_of(std::vector<std::string> args) {
  return test::usage_error_of([&] { parse_command_line(args); });
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

namespace hvsim {

TEST(CliOptions, VmbusOptions) {
  CommandLine cl = parse_command_line({"run", "--guest", "g.elf", "--vmbus-devices", "heartbeat,test:t1", "--device-param",
                                       "t1.queue=8", "--shutdown-at", "3s", "--retarget-lag", "200us", "--throttle",
                                       "64/1ms/500ms", "--monitor-latency", "50us"});
  const MachineParams& m = cl.run.machine;
  EXPECT_EQ(m.vmbus_devices, "heartbeat,test:t1");
  EXPECT_EQ(m.device_params, (std::vector<std::pair<std::string, std::string>>{{"t1.queue", "8"}, {"shutdown.at", "3s"}}));
  EXPECT_EQ(m.retarget_lag, VirtualTime::from_us(200));
  EXPECT_EQ(m.throttle.threshold, 64u);
  EXPECT_EQ(m.throttle.window, VirtualTime::from_ms(1));
  EXPECT_EQ(m.throttle.suspend, VirtualTime::from_ms(500));
  EXPECT_EQ(m.monitor_latency, VirtualTime::from_us(50));
}

TEST(CliOptions, ZeroLagLatencyAndThrottleMeanOff) {
  CommandLine cl = parse_command_line(
      {"run", "--guest", "g.elf", "--retarget-lag", "0", "--monitor-latency", "0", "--throttle", "0"});
  EXPECT_EQ(cl.run.machine.retarget_lag, VirtualTime{});
  EXPECT_EQ(cl.run.machine.monitor_latency, VirtualTime{});
  EXPECT_EQ(cl.run.machine.throttle.threshold, 0u);
}

TEST(CliOptions, VmbusOptionErrorsNameTheOption) {
  EXPECT_NE(error_of({"run", "--guest", "g", "--throttle", "64/1ms"}).find("--throttle: expected N/WINDOW/SUSPEND"),
            std::string::npos);
  EXPECT_NE(error_of({"run", "--guest", "g", "--throttle", "0/1ms/1s"}).find("--throttle: N must be"), std::string::npos);
  EXPECT_NE(error_of({"run", "--guest", "g", "--throttle", "8/0/1s"}).find("must be non-zero"), std::string::npos);
  EXPECT_NE(error_of({"run", "--guest", "g", "--device-param", "nokey"}).find("--device-param: expected DEVICE.KEY=VALUE"),
            std::string::npos);
  EXPECT_NE(error_of({"run", "--guest", "g", "--shutdown-at", "soon"}).find("--shutdown-at"), std::string::npos);
}

}  // namespace hvsim
