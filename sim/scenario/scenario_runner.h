// Runs a parsed scenario (scenario_spec.h) on a Machine and judges it.
//
// The constructor does everything that can fail on bad input, so nothing runs until the whole
// scenario and the command line are valid: MachineParams from the scenario, then the command-line
// run options in order (they override it), the guest path resolved (resolve_guest_path), the
// devices offered at start passed as MachineParams.vmbus_devices / device_params, the others
// added to the VMBus host unoffered (hot-add), the timeline armed (timeline_scheduler.h: every
// action runs as an event of Machine::events() with EventPriority::kScenario, after host model
// events due at the same time, when its trigger fires). run() runs to a verdict, records which
// actions ran and whether the host accepted them, and evaluates every expectation over the
// records they name.
// The exit status rule (scenario_status) is documented in scenarios/README.md.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/cli/cli_options.h"
#include "sim/machine/machine.h"
#include "sim/scenario/expectations.h"
#include "sim/scenario/scenario_spec.h"
#include "sim/scenario/timeline_scheduler.h"

namespace hvsim::scenario {

struct ScenarioReport {
  RunEnd run;
  std::vector<CheckResult> actions;       // one per timeline entry: held = it ran and the host accepted it
  std::vector<CheckResult> expectations;  // one per expectation, in file order
  int status = 0;                         // the process exit status
};

class ScenarioRunner {
 public:
  // Throws UsageError (naming the scenario file and pointer where the fault is in the file).
  // `s` must outlive the runner.
  ScenarioRunner(const Scenario& s, const std::vector<std::pair<std::string, std::string>>& cli_options);
  ScenarioRunner(const ScenarioRunner&) = delete;
  ScenarioRunner& operator=(const ScenarioRunner&) = delete;

  // Runs to a verdict and judges the run. Call once.
  ScenarioReport run();
  Machine& machine() { return *machine_; }

 private:
  bool perform(const Action& a, VirtualTime now);  // false: the host refused it

  const Scenario& s_;
  RunOptions options_;
  std::unique_ptr<Machine> machine_;
  std::vector<bool> wanted_;  // by TracePoint: records some expectation looks at
  TraceLog log_;
  uint64_t lines_ = 0;        // records emitted so far (the trace's line numbers)
  std::unique_ptr<TimelineScheduler> timeline_;
};

// The guest ELF path a scenario names: "${HVSIM_GUEST_DIR}/NAME.elf" is under `guest_dir`; an
// absolute path is kept; any other path is relative to the scenario file's directory.
// Throws UsageError for any other "${...}" placeholder.
std::string resolve_guest_path(const std::string& guest, const std::string& scenario_file, const std::string& guest_dir);
// $HVSIM_GUEST_DIR when set and non-empty, else the guest directory of the build hvsim came from.
std::string default_guest_dir();
// 1 if a check failed; else 0 if an expectation covers the verdict (covers_verdict); else the
// verdict's own status as for `hvsim run` (0 exit(0)/reset, 1 exit(N), 3 crash, 4 watchdog).
int scenario_status(const Scenario& s, const ScenarioReport& r);

}  // namespace hvsim::scenario
