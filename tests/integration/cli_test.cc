// The hvsim command line as a user runs it: exit statuses, the summary line, usage errors.
#include <gtest/gtest.h>

#include <elf.h>

#include <cstring>
#include <fstream>
#include <regex>

#include "tests/support/elf_builder.h"
#include "tests/support/guests.h"

namespace hvsim {
namespace {

const std::regex kSummary(
    R"(hvsim: verdict=(\S+) status=(\d) time_ns=(\d+) insns=(vp\d+:\d+(,vp\d+:\d+)*) seed=(\d+) trace_hash=([0-9a-f]{16})\n$)");

std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string path = test::temp_path(name);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
  return path;
}

}  // namespace

TEST(Cli, HelloPrintsConsoleAndOneSummaryLine) {
  test::CliResult r = test::run_hvsim("run --guest " + test::guest("hello"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("Hello from hvsim guest", 0), 0u) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, kSummary)) << r.err;
  EXPECT_EQ(m[1], "exit(0)");
  EXPECT_EQ(m[6], "1");
}

TEST(Cli, ExitStatusesFollowTheContract) {
  EXPECT_EQ(test::run_hvsim("run --guest " + test::guest("exit42")).status, 1);
  test::CliResult crash = test::run_hvsim("run --guest " + test::guest("nohandler"));
  EXPECT_EQ(crash.status, 3);
  EXPECT_NE(crash.err.find("hvsim: guest crash"), std::string::npos);
  EXPECT_NE(crash.err.find("=> 0x0000000000100000:  ud2"), std::string::npos) << crash.err;
  test::CliResult wd = test::run_hvsim("run --guest " + test::guest("spin") + " --max-time 1ms");
  EXPECT_EQ(wd.status, 4);
  EXPECT_NE(wd.err.find("watchdog: virtual-time limit of 1000000 ns reached"), std::string::npos) << wd.err;
  EXPECT_NE(wd.err.find("time_ns=1000000 "), std::string::npos) << wd.err;
  EXPECT_EQ(test::run_hvsim("run --guest " + test::guest("halt_forever")).status, 4);
}

TEST(Cli, HyperVCrashNotificationAndResetAreVerdicts) {
  test::CliResult crash = test::run_hvsim("run --guest " + test::guest("hv_crash") + " --no-console");
  EXPECT_EQ(crash.status, 3) << crash.err;
  EXPECT_NE(crash.err.find("guest crash notification (CRASH_CTL): P0=0x"), std::string::npos) << crash.err;
  EXPECT_NE(crash.err.find("P3=0x"), std::string::npos) << crash.err;
  EXPECT_NE(crash.err.find("\n  message: hv_crash: deliberate crash notification from the conformance guest\n"),
            std::string::npos)
      << crash.err;
  // CRASH_P4 over the 4096-byte limit (PROTOCOL.md §2.8): the first 4096 bytes are reported.
  test::CliResult lng = test::run_hvsim("run --guest " + test::guest("hv_crash_long") + " --no-console");
  EXPECT_EQ(lng.status, 3) << lng.err;
  EXPECT_NE(lng.err.find(" P4=0x1388\n"), std::string::npos) << lng.err;
  std::string first_4096;
  for (unsigned i = 0; i < 4096; ++i) first_4096 += static_cast<char>('a' + i % 26);
  EXPECT_NE(lng.err.find("\n  message: " + first_4096 + "\n"), std::string::npos) << lng.err;
  // CRASH_P3 outside RAM: the verdict names P3/P4 and reports no message.
  test::CliResult far = test::run_hvsim("run --guest " + test::guest("hv_crash_far") + " --no-console");
  EXPECT_EQ(far.status, 3) << far.err;
  EXPECT_NE(far.err.find(" P3=0x200000000000 P4=0x40\n"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("message:"), std::string::npos) << far.err;
  test::CliResult reset = test::run_hvsim("run --guest " + test::guest("hv_reset") + " --no-console");
  EXPECT_EQ(reset.status, 0) << reset.err;
  EXPECT_NE(reset.err.find("verdict=reset status=0"), std::string::npos) << reset.err;
}

TEST(Cli, HelpAndUsageErrors) {
  test::CliResult h = test::run_hvsim("--help");
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("usage: hvsim run --guest FILE"), std::string::npos);
  test::CliResult rh = test::run_hvsim("run --help");
  EXPECT_EQ(rh.status, 0);
  EXPECT_NE(rh.out.find("--max-time DURATION"), std::string::npos);
  test::CliResult missing = test::run_hvsim("run --guest /nonexistent.elf");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("/nonexistent.elf: cannot open guest image"), std::string::npos) << missing.err;
  test::CliResult bad = test::run_hvsim("run --guest " + test::guest("hello") + " --vcpus 65");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--vcpus: must be 1 to 64"), std::string::npos);
  std::string text = write_file("not_elf.txt", {'h', 'i', '\n'});
  test::CliResult notelf = test::run_hvsim("run --guest " + text);
  EXPECT_EQ(notelf.status, 2);
  EXPECT_NE(notelf.err.find(text + ": not an ELF file"), std::string::npos) << notelf.err;
  test::CliResult trace = test::run_hvsim("run --guest " + test::guest("hello") + " --trace /nonexistent/dir/t.jsonl");
  EXPECT_EQ(trace.status, 2);
  EXPECT_EQ(trace.out, "");  // nothing ran
}

TEST(Cli, ElfSegmentOutsideRamIsAUsageError) {
  // Inside the host-reserved area of 64 MiB RAM.
  std::vector<uint8_t> f = test::make_elf(0x3ff0000, 16, 0x20000);
  std::string path = write_file("high.elf", f);
  test::CliResult r = test::run_hvsim("run --guest " + path);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(path + ": segment at 0x3ff0000 (131072 bytes) does not fit in guest RAM"), std::string::npos) << r.err;
}

TEST(Cli, TraceFileIsJsonLinesAndFilterDoesNotChangeTheHash) {
  std::string all = test::temp_path("all.jsonl"), some = test::temp_path("some.jsonl");
  test::CliResult a = test::run_hvsim("run --guest " + test::guest("faults") + " --no-console --trace " + all);
  test::CliResult b = test::run_hvsim("run --guest " + test::guest("faults") + " --no-console --trace " + some +
                                      " --trace-filter 'exc.*'");
  test::CliResult c = test::run_hvsim("run --guest " + test::guest("faults") + " --no-console");
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(a.out, "");
  std::smatch ma, mb, mc;
  ASSERT_TRUE(std::regex_search(a.err, ma, kSummary));
  ASSERT_TRUE(std::regex_search(b.err, mb, kSummary));
  ASSERT_TRUE(std::regex_search(c.err, mc, kSummary));
  EXPECT_EQ(ma[7], mb[7]);
  EXPECT_EQ(ma[7], mc[7]);
  std::ifstream in(some);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_NE(line.find("\"ev\":\"exc.deliver\""), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 7);  // one per deliberate fault
  std::ifstream full(all);
  std::getline(full, line);
  EXPECT_EQ(line.rfind("{\"t\":0,\"ev\":\"run.start\",\"vcpus\":1,", 0), 0u) << line;
}

}  // namespace hvsim
