// Guest watches: the machine's side of scenario triggers on guest events (scenarios/README.md,
// "Triggers": `reaches`, `reads`). An exec watch stops a vCPU before it executes the instruction
// at a guest-virtual address; a read watch stops it before an instruction that reads a
// guest-physical range. Either way the vCPU's scheduling round ends there (StopReason::kWatch):
// the instruction runs when the vCPU runs again, after the events due by then (a scenario action
// scheduled for the hit's time runs first). Each hit emits `guest.reach` {watch, rip, what} or
// `guest.read` {watch, rip, gpa, size, what} at the vCPU's time before the instruction, then
// calls the watch's OnHit, which says whether to keep watching (a removed watch's hooks go).
//
// A read watch's ranges follow guest state (a SynIC message slot moves with SIMP, a ring exists
// while its channel is open): `Where` gives them, and refresh() re-arms every watch whose ranges
// changed. The machine refreshes before every scheduling round and whenever an overlay page
// moves. With no watch, no hook is installed and nothing changes (same trace hash).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sim/core/trace.h"
#include "sim/cpu/unicorn_vcpu.h"

namespace hvsim {

class GuestWatches {
 public:
  using Id = uint32_t;
  using Ranges = std::vector<UnicornVcpu::GpaRange>;
  using Where = std::function<Ranges()>;                  // the ranges now (empty: none)
  using OnHit = std::function<bool(int vp, VirtualTime t)>;  // false: remove the watch

  GuestWatches(std::vector<UnicornVcpu*> cpus, Tracer& tracer) : cpus_(std::move(cpus)), tracer_(tracer) {}

  // `vp` is the only vCPU watched, or kNoVp for all; `what` names the target in trace records.
  Id watch_exec(uint64_t rip, int vp, std::string what, OnHit on_hit);
  Id watch_read(Where where, int vp, std::string what, OnHit on_hit);
  void refresh();
  // `vp` stopped with StopReason::kWatch at time `t`.
  void report(int vp, VirtualTime t, const WatchHit& hit);

 private:
  struct Watch {
    int vp;
    std::string what;
    OnHit on_hit;
    Where where;     // read watches only
    Ranges armed;    // read watches: the ranges armed now
  };
  std::vector<UnicornVcpu*> targets(int vp) const;

  std::vector<UnicornVcpu*> cpus_;
  Tracer& tracer_;
  std::map<Id, Watch> watches_;
  Id next_id_ = 0;  // ids are never reused: a removed watch's id may still be in a WatchHit
};

}  // namespace hvsim
