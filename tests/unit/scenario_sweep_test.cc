// `hvsim sweep`: the seed and value range syntax, the variant order, the reproduction command, and
// real sweeps through the hvsim binary — one that passes, and one whose failing variant's
// reproduction command, run alone, fails the same way with the same trace hash.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/core/status.h"
#include "sim/scenario/sweep.h"
#include "tests/support/guests.h"
#include "tests/support/usage_error.h"

namespace hvsim::scenario {
namespace {

std::string usage_error(const std::function<void()>& f) { return test::usage_error_of(f); }

// The catalogue scenario with an `on` trigger, found from this file's path.
std::string catalogue_scenario() {
  std::string here = __FILE__;
  return here.substr(0, here.rfind("/tests/unit/")) + "/scenarios/vmbus/rescind_when_guest_posts_openchannel.json";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(ScenarioSweep, SeedRanges) {
  EXPECT_EQ(parse_seed_range("3..5"), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(parse_seed_range("7"), (std::vector<uint64_t>{7}));
  EXPECT_EQ(parse_seed_range("18446744073709551615..18446744073709551615").size(), 1u);
  EXPECT_EQ(usage_error([] { parse_seed_range("1-5"); }), "--seeds: expected A..B (e.g. 1..1000) or one seed N, got '1-5'");
  EXPECT_EQ(usage_error([] { parse_seed_range("5..1"); }), "--seeds: the range 5..1 is empty (B is below A)");
  EXPECT_EQ(usage_error([] { parse_seed_range("1..1000000"); }), "--seeds: at most 100000 seeds, got 1..1000000");
}

TEST(ScenarioSweep, ValueRangesPlainAndWithUnits) {
  VaryRange plain = parse_vary("/machine/quantum=1000..3500/1000");
  EXPECT_EQ(plain.pointer, "/machine/quantum");
  EXPECT_EQ(plain.values, (std::vector<std::string>{"1000", "2000", "3000"})) << "up to HI, not past it";
  EXPECT_EQ(parse_vary("/a=1..3").values, (std::vector<std::string>{"1", "2", "3"})) << "STEP defaults to 1";
  EXPECT_EQ(parse_vary("/vmbus/retarget_lag=0us..1ms/500us").values, (std::vector<std::string>{"0us", "500us", "1000us"}))
      << "durations in the smallest unit used";
  EXPECT_EQ(parse_vary("/x=1s..2s/1s").values, (std::vector<std::string>{"1s", "2s"}));
  EXPECT_EQ(parse_vary("/x=2ms..2ms/1ns").values, (std::vector<std::string>{"2000000ns"}));
  EXPECT_EQ(usage_error([] { parse_vary("/x=1..5us"); }), "--vary: LO, HI and STEP all need a unit (ns, us, ms, s) or none, got '/x=1..5us'");
  EXPECT_EQ(usage_error([] { parse_vary("/x=0..5/0"); }), "--vary: STEP must not be 0, got '/x=0..5/0'");
  EXPECT_EQ(usage_error([] { parse_vary("/x=5..1"); }), "--vary: the range in '/x=5..1' is empty (HI is below LO)");
  EXPECT_EQ(usage_error([] { parse_vary("/x=0..1000000"); }), "--vary: at most 100000 values, got '/x=0..1000000'");
  for (const char* bad : {"x=1..2", "/x", "/x=1", "/x=a..b", "/x=1.5..2", "/x=1us..2us/3h"})
    EXPECT_EQ(usage_error([&] { parse_vary(bad); }).rfind("--vary: expected POINTER=LO..HI[/STEP]", 0), 0u) << bad;
}

TEST(ScenarioSweep, VariantsInAFixedOrderAndTheirReproductionCommands) {
  SweepCommand cmd;
  cmd.base.file = "dir/my scenario.json";
  cmd.base.sets = {"/machine/max_time=3s"};
  cmd.base.options = {{"--quantum", "5000"}, {"--no-console", ""}};
  cmd.seeds = "1..2";
  cmd.varies = {"/a=0..1", "/b=10us..20us/10us"};
  std::vector<SweepVariant> v = sweep_variants(cmd);
  ASSERT_EQ(v.size(), 8u);
  std::vector<std::string> order;
  for (const SweepVariant& x : v) order.push_back(std::to_string(*x.seed) + ":" + x.values[0].value + "," + x.values[1].value);
  EXPECT_EQ(order, (std::vector<std::string>{"1:0,10us", "1:0,20us", "1:1,10us", "1:1,20us", "2:0,10us", "2:0,20us", "2:1,10us",
                                             "2:1,20us"}));
  EXPECT_EQ(reproduction_command("/b/hvsim", cmd, v[5]),
            "/b/hvsim scenario 'dir/my scenario.json' --seed 2 --set /machine/max_time=3s --set /a=0 --set /b=20us --quantum 5000 --no-console");
  cmd.seeds = "";
  cmd.varies = {};
  v = sweep_variants(cmd);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].seed) << "no --seeds: the scenario's seed";
  cmd.seeds = "1..1000";
  cmd.varies = {"/a=1..101"};
  EXPECT_EQ(usage_error([&] { sweep_variants(cmd); }), "sweep: more than 100000 variants; narrow --seeds or --vary");
}

class ScenarioSweepCli : public ::testing::Test {
 protected:
  void SetUp() override { setenv("HVSIM_GUEST_DIR", HVSIM_GUEST_DIR, 1); }
};

TEST_F(ScenarioSweepCli, ThreeSeedsOfACatalogueScenarioPass) {
  test::CliResult r = test::run_hvsim("sweep " + catalogue_scenario() + " --seeds 1..3");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], "seed  status  verdict     trace_hash        failed");
  for (int seed = 1; seed <= 3; ++seed) {
    EXPECT_EQ(lines[seed].rfind(std::to_string(seed) + "     0       exit(0)     ", 0), 0u) << lines[seed];
    EXPECT_EQ(lines[seed].substr(lines[seed].size() - 3), "  -") << lines[seed];
  }
  EXPECT_EQ(lines[4], "sweep: 3 variants, 3 passed, 0 failed");
  EXPECT_EQ(test::run_hvsim("sweep " + catalogue_scenario() + " --seeds 1..3").out, r.out) << "a sweep is deterministic";
}

// Varying an expected count makes the second variant fail; its reproduction command, run alone,
// fails the same expectation with the same trace hash.
TEST_F(ScenarioSweepCli, AFailingVariantIsReproducedByItsCommand) {
  test::CliResult r = test::run_hvsim("sweep " + catalogue_scenario() + " --seeds 2 --vary /expect/1/count=1..2 --quantum 8000");
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], "seed  /expect/1/count  status  verdict     trace_hash        failed");
  EXPECT_EQ(lines[1].find("/expect"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("  1       exit(0)     "), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("/expect/1 \"the rescind closed the channel right after it opened\""), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3], "sweep: 2 variants, 1 passed, 1 failed");
  const std::string prefix = std::string("reproduce: ") + HVSIM_BINARY + " scenario ";
  ASSERT_EQ(lines[4].rfind(prefix, 0), 0u) << lines[4];
  EXPECT_EQ(lines[4].substr(prefix.size()), catalogue_scenario() + " --seed 2 --set /expect/1/count=2 --quantum 8000");

  test::CliResult alone = test::run_hvsim(lines[4].substr(std::string("reproduce: ").size() + std::string(HVSIM_BINARY).size() + 1) +
                                          " --no-console");
  EXPECT_EQ(alone.status, 1) << alone.err;
  EXPECT_NE(alone.err.find("hvsim: FAILED /expect/1 the rescind closed the channel right after it opened: expected exactly 2, found 1"),
            std::string::npos)
      << alone.err;
  std::string hash = lines[2].substr(lines[2].find("exit(0)") + 12, 16);
  EXPECT_NE(alone.err.find(" seed=2 trace_hash=" + hash + " "), std::string::npos) << hash << "\n" << alone.err;
}

TEST_F(ScenarioSweepCli, UsageErrorsAreStatus2BeforeAnythingRuns) {
  test::CliResult r = test::run_hvsim("sweep " + catalogue_scenario() + " --seeds 1..2 --vary /machine/vcpus=1..65/32");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "") << "nothing ran";
  EXPECT_NE(r.err.find("hvsim: error: sweep variant (seed 1, /machine/vcpus=65): " + catalogue_scenario() +
                       ": /machine/vcpus: expected an integer from 1 to 64, got 65"),
            std::string::npos)
      << r.err;
  r = test::run_hvsim("sweep " + catalogue_scenario() + " --seed 3");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--seed: not with a sweep (use --seeds A..B)"), std::string::npos) << r.err;
  r = test::run_hvsim("sweep " + catalogue_scenario() + " --vary /x");
  EXPECT_EQ(r.status, 2);
  r = test::run_hvsim("scenario " + catalogue_scenario() + " --set /machine/nope/x=1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(catalogue_scenario() + ": --set /machine/nope/x: /machine/nope does not exist"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hvsim::scenario
