// hvsim command-line entry point: parses options, builds the machine, runs it, prints the crash
// report (if any) and the one-line summary, and exits with the status docs/guest-contract.md §10
// defines.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/cli/cli_options.h"
#include "sim/core/status.h"
#include "sim/machine/machine.h"

namespace {

int run(const hvsim::RunOptions& o) {
  hvsim::Machine machine(o.machine);
  if (!o.trace_path.empty() && !machine.tracer().open_jsonl(o.trace_path, o.trace_filter))
    throw hvsim::UsageError("--trace: cannot write '" + o.trace_path + "'");
  hvsim::Verdict v = machine.run();
  std::fflush(stdout);
  if (v.kind == hvsim::Verdict::Kind::kCrash) std::fprintf(stderr, "hvsim: guest crash\n%s", v.report.c_str());
  else if (v.kind == hvsim::Verdict::Kind::kWatchdog)
    std::fprintf(stderr, "hvsim: watchdog: %s\n%s", v.message.c_str(), v.report.c_str());
  std::string insns;
  for (unsigned vp = 0; vp < machine.vcpu_count(); ++vp) {
    if (vp) insns += ',';
    insns += "vp" + std::to_string(vp) + ":" + std::to_string(machine.retired(static_cast<int>(vp)));
  }
  std::fprintf(stderr, "hvsim: verdict=%s status=%d time_ns=%" PRIu64 " insns=%s seed=%" PRIu64 " trace_hash=%016" PRIx64 "\n",
               v.label().c_str(), v.status(), machine.now().ns(), insns.c_str(), o.machine.seed, machine.tracer().hash());
  return v.status();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    hvsim::CommandLine cl = hvsim::parse_command_line(args);
    switch (cl.command) {
      case hvsim::Command::kHelp: std::fputs(hvsim::kMainHelp, stdout); return 0;
      case hvsim::Command::kRunHelp: std::fputs(hvsim::kRunHelp, stdout); return 0;
      case hvsim::Command::kVersion: std::puts("hvsim 0.1.0"); return 0;
      case hvsim::Command::kRun: return run(cl.run);
    }
  } catch (const hvsim::UsageError& e) {
    std::fprintf(stderr, "hvsim: error: %s\n", e.what());
    return 2;
  }
  return 2;
}
