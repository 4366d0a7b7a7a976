// hvsim command-line entry point: parses options, builds the machine (from the options, or from a
// scenario file), runs it, prints the crash report (if any), a scenario's failed checks, and the
// one-line summary, and exits with the status docs/guest-contract.md §10 (run) or
// scenarios/README.md (scenario, sweep) defines. `sweep` runs a scenario's variants
// (sim/scenario/sweep.h).
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/cli/cli_options.h"
#include "sim/core/status.h"
#include "sim/machine/machine.h"
#include "sim/scenario/scenario_runner.h"
#include "sim/scenario/sweep.h"

namespace {

// The crash report or watchdog message, then the summary line; `extra` is appended to it.
void print_end(hvsim::Machine& machine, const hvsim::Verdict& v, int status, const std::string& extra) {
  std::fflush(stdout);
  if (v.kind == hvsim::Verdict::Kind::kCrash) std::fprintf(stderr, "hvsim: guest crash\n%s", v.report.c_str());
  else if (v.kind == hvsim::Verdict::Kind::kWatchdog)
    std::fprintf(stderr, "hvsim: watchdog: %s\n%s", v.message.c_str(), v.report.c_str());
  std::string insns;
  for (unsigned vp = 0; vp < machine.vcpu_count(); ++vp) {
    if (vp) insns += ',';
    insns += "vp" + std::to_string(vp) + ":" + std::to_string(machine.retired(static_cast<int>(vp)));
  }
  std::fprintf(stderr, "hvsim: verdict=%s status=%d time_ns=%" PRIu64 " insns=%s seed=%" PRIu64 " trace_hash=%016" PRIx64 "%s\n",
               v.label().c_str(), status, machine.now().ns(), insns.c_str(), machine.params().seed,
               machine.tracer().hash(), extra.c_str());
}

int run(const hvsim::RunOptions& o) {
  hvsim::Machine machine(o.machine);
  if (!o.trace_path.empty() && !machine.tracer().open_jsonl(o.trace_path, o.trace_filter))
    throw hvsim::UsageError("--trace: cannot write '" + o.trace_path + "'");
  hvsim::Verdict v = machine.run();
  print_end(machine, v, v.status(), "");
  return v.status();
}

size_t held(const std::vector<hvsim::scenario::CheckResult>& checks) {
  size_t n = 0;
  for (const auto& c : checks) n += c.held;
  return n;
}

int run_scenario(const hvsim::ScenarioCommand& cmd) {
  std::vector<hvsim::scenario::FieldPatch> patches;
  for (const std::string& p : cmd.sets) patches.push_back(hvsim::scenario::parse_field_patch(p));
  hvsim::scenario::Scenario s = hvsim::scenario::load_scenario(cmd.file, patches);
  hvsim::scenario::ScenarioRunner runner(s, cmd.options);
  hvsim::scenario::ScenarioReport r = runner.run();
  std::fflush(stdout);
  for (const auto* checks : {&r.actions, &r.expectations})
    for (const auto& c : *checks)
      if (!c.held) std::fprintf(stderr, "hvsim: FAILED %s %s: %s\n", c.pointer.c_str(), c.description.c_str(), c.why.c_str());
  bool all_held = held(r.actions) == r.actions.size() && held(r.expectations) == r.expectations.size();
  if (all_held && r.status != 0)
    std::fprintf(stderr, "hvsim: no expectation is about how the run ended (%s): status as for `hvsim run`\n",
                 r.run.verdict.label().c_str());
  print_end(runner.machine(), r.run.verdict, r.status,
            " scenario=" + cmd.file + " actions=" + std::to_string(held(r.actions)) + "/" + std::to_string(r.actions.size()) +
                " expectations=" + std::to_string(held(r.expectations)) + "/" + std::to_string(r.expectations.size()));
  return r.status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    hvsim::CommandLine cl = hvsim::parse_command_line(args);
    switch (cl.command) {
      case hvsim::Command::kHelp: std::fputs(hvsim::kMainHelp, stdout); return 0;
      case hvsim::Command::kRunHelp: std::fputs(hvsim::kRunHelp, stdout); return 0;
      case hvsim::Command::kScenarioHelp: std::fputs(hvsim::kScenarioHelp, stdout); return 0;
      case hvsim::Command::kVersion: std::puts("hvsim 0.1.0"); return 0;
      case hvsim::Command::kRun: return run(cl.run);
      case hvsim::Command::kScenario: return run_scenario(cl.scenario);
      case hvsim::Command::kSweepHelp: std::fputs(hvsim::kSweepHelp, stdout); return 0;
      case hvsim::Command::kSweep: return hvsim::scenario::run_sweep(cl.sweep, argv[0], stdout);
    }
  } catch (const hvsim::UsageError& e) {
    std::fprintf(stderr, "hvsim: error: %s\n", e.what());
    return 2;
  }
  return 2;
}
