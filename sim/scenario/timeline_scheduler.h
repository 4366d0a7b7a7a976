// Runs a scenario's timeline on a machine: arms every entry's trigger (trigger_spec.h), performs
// the action when it fires, repeats it, and says afterwards which entries ran as they should.
//
// Every run of an action is an event of Machine::events() with EventPriority::kScenario (after host
// model events due at the same time), never a call from inside a trace observer or a vCPU exit:
//  - `at`: scheduled at construction at its exact virtual time.
//  - `on`: on_record() sees every trace record; at the nth match it schedules the first run at the
//    record's time + delay. A record is emitted while a vCPU runs its scheduling round, so the
//    run happens at the earliest when that round ends (at most `quantum` instructions later),
//    before any vCPU runs again.
//  - `after_insns`: a poll event every kInsnPollStep reads Machine::retired(vp); the first run is
//    scheduled at the first poll that sees at least `count` instructions (+ delay). Polling stops
//    when the trigger fires, or when no vCPU retired anything during a step and no other event is
//    pending (the guest can never run again, so the run may end as it would without the poll).
//  - `after`: when the entry it names runs for the first time (+ delay).
//  - `reaches`, `reads`: a guest watch (sim/machine/guest_watches.h) armed at construction: an
//    exec watch at the symbol's or address's instruction; a read watch on the SynIC message slot
//    (following the VP's SIMP) or on the device's host->guest ring (while its primary channel is
//    open). Each hit stops the vCPU before the watched instruction and ends its round; at the
//    nth hit the first run is scheduled at the hit's time + delay, so with no delay it runs
//    before that instruction executes (after the other vCPUs' rounds); the watch is then removed.
//  - `repeat`: each run schedules the next one `every` later until `count` runs.
// The action's time is Machine::now() when it runs. results() gives one CheckResult per entry:
// held when it ran `count` times and the host accepted every run.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "sim/machine/machine.h"
#include "sim/scenario/expectations.h"
#include "sim/scenario/scenario_spec.h"

namespace hvsim::scenario {

// How often an after_insns trigger reads the instruction counters (the trigger's resolution).
inline constexpr VirtualTime kInsnPollStep = VirtualTime::from_us(1);

class TimelineScheduler {
 public:
  // Performs one action at `now`; false: the host refused it.
  using Perform = std::function<bool(const Action&, VirtualTime now)>;

  // Schedules the `at` entries and the instruction polls, and arms the guest watches. `s` and `m`
  // must outlive the scheduler. Throws UsageError (file and pointer) when a trigger names a vCPU
  // the machine does not have, a symbol the guest ELF lacks, an address outside the guest image,
  // a SynIC slot on a machine without the SynIC, or a ring of a device the VMBus host lacks.
  TimelineScheduler(const Scenario& s, Machine& m, Perform perform);
  TimelineScheduler(const TimelineScheduler&) = delete;
  TimelineScheduler& operator=(const TimelineScheduler&) = delete;

  // Whether some `on` trigger looks at records of `p` (the runner observes the trace only if so).
  bool watches(TracePoint p) const { return watched_[static_cast<size_t>(p)]; }
  bool watches_any() const;
  // One trace record as the tracer emits it (called from a Tracer observer).
  void on_record(TracePoint p, VirtualTime t, std::string_view json);

  // One result per timeline entry, in file order, for a run that ended as `end` says.
  std::vector<CheckResult> results(const RunEnd& end) const;

 private:
  struct EntryState {
    uint64_t matched = 0;        // `on`: matching records seen so far; `reaches`, `reads`: hits
    bool armed = false;          // `reads`: the watched memory existed at some point
    bool fired = false;          // the trigger fired (first run scheduled)
    uint64_t runs = 0;
    uint64_t refused = 0;
    uint64_t first_refused = 0;  // 1-based run number of the first refusal
    uint64_t last_retired = 0;   // after_insns: all vCPUs' instructions at the previous poll
  };

  void fire(size_t i, VirtualTime t);  // schedules the first run of entry i at t (or now, if later)
  void run(size_t i);
  void poll(size_t i);
  // Throws UsageError at entry i's `key` (a JSON pointer suffix) unless the machine has vCPU `vp`.
  void require_vp(size_t i, const std::string& key, unsigned vp) const;
  void arm_reach(size_t i, const ReachTrigger& t);
  void arm_read(size_t i, const ReadTrigger& t);
  bool on_hit(size_t i, VirtualTime t, uint64_t nth);  // false: entry i fired, drop its watch
  // Why watch entry i never ran: `never` when it had no hit, else the hits it had of `event`.
  std::string watch_cause(size_t i, const std::string& never, const std::string& event, uint64_t nth) const;
  uint64_t total_retired() const;

  const Scenario& s_;
  Machine& m_;
  Perform perform_;
  std::vector<EntryState> state_;
  std::vector<std::vector<size_t>> dependents_;  // by entry: the entries whose `after` names it
  std::vector<bool> watched_;                    // by TracePoint
  size_t pending_polls_ = 0;
};

}  // namespace hvsim::scenario
