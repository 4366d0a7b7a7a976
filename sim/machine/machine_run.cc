// Machine::run: the round-robin scheduler on virtual time (contract in machine.h).
#include <algorithm>
#include <cinttypes>

#include "sim/core/status.h"
#include "sim/machine/machine.h"

namespace hvsim {

VirtualTime Machine::next_boundary() {
  uint64_t lo = (params_.quantum + 1) / 2;
  uint64_t len = sched_rng_.between(lo, params_.quantum);
  VirtualTime b = now_ + ClockRate(params_.tsc_hz).time_of(len);
  if (auto e = next_wake(); e && *e < b) b = *e;
  if (b > params_.max_time) b = params_.max_time;
  return b;
}

void Machine::set_crash_verdict(int vp) {
  const UnicornVcpu& cpu = *vcpus_[static_cast<size_t>(vp)].cpu;
  Verdict c;
  c.kind = Verdict::Kind::kCrash;
  c.vp = vp;
  c.message = cpu.crash_summary();
  c.report = cpu.crash_report();
  set_verdict(std::move(c));
}

void Machine::deliver_pending(Slot& s, int vp) {
  if (s.state == VcpuState::kSuspended) return;
  std::optional<uint8_t> v = s.apic->pending_vector();
  if (!v) return;
  if (s.state == VcpuState::kIdle) {  // GUEST_IDLE ends when an interrupt is pending, IF or not
    s.state = VcpuState::kRunnable;
    tracer_.emit(TracePoint::kWake, s.cpu->now(), vp, {TraceField::u64("vector", *v)});
  }
  if (!s.cpu->can_take_interrupt()) {
    s.cpu->request_interrupt_window();
    return;
  }
  if (s.state == VcpuState::kHalted) {
    s.state = VcpuState::kRunnable;
    tracer_.emit(TracePoint::kWake, s.cpu->now(), vp, {TraceField::u64("vector", *v)});
  }
  s.apic->on_delivered(*v);
  if (!s.cpu->deliver_external(*v)) set_crash_verdict(vp);
}

// Runs every runnable vCPU up to `boundary`.
void Machine::run_round(VirtualTime boundary) {
  for (size_t i = 0; i < vcpus_.size() && verdict_.kind == Verdict::Kind::kNone; ++i) {
    Slot& s = vcpus_[i];
    int vp = static_cast<int>(i);
    if (s.state == VcpuState::kWaitForSipi) continue;
    deliver_pending(s, vp);
    if (s.state != VcpuState::kRunnable || verdict_.kind != Verdict::Kind::kNone) continue;
    uint64_t budget = s.cpu->budget_to_reach(boundary);
    if (budget == 0) continue;
    running_vp_ = vp;
    StopReason why = s.cpu->run(budget);
    while (why == StopReason::kKicked && verdict_.kind == Verdict::Kind::kNone) {
      deliver_pending(s, vp);
      budget = s.cpu->budget_to_reach(boundary);
      if (s.state != VcpuState::kRunnable || budget == 0) break;
      why = s.cpu->run(budget);
    }
    running_vp_ = kNoVp;
    switch (why) {
      case StopReason::kBudget:
      case StopReason::kKicked:
      case StopReason::kStopRequested:  // a verdict, or GUEST_IDLE (the state is already set)
        break;
      case StopReason::kWatch:  // the round ends before the watched instruction
        watches_->report(vp, s.cpu->now(), s.cpu->watch_hit());
        break;
      case StopReason::kHalt:
        s.state = VcpuState::kHalted;
        tracer_.emit(TracePoint::kHalt, s.cpu->now(), vp, {TraceField::hex("rip", s.cpu->reg(Reg::kRip))});
        break;
      case StopReason::kCrash:
        set_crash_verdict(vp);
        break;
    }
  }
}

Verdict Machine::run() {
  SIM_ASSERT(!ran_, "Machine::run called twice");
  ran_ = true;
  tracer_.emit(TracePoint::kRunStart, VirtualTime{}, kNoVp,
               {TraceField::u64("vcpus", params_.vcpus), TraceField::u64("memory", params_.memory),
                TraceField::u64("seed", params_.seed), TraceField::u64("quantum", params_.quantum),
                TraceField::u64("tsc_hz", params_.tsc_hz), TraceField::hex("entry", image_entry_),
                TraceField::hex("image_hash", image_hash_), TraceField::boolean("aps_parked", params_.aps_parked)});
  while (verdict_.kind == Verdict::Kind::kNone) {
    events_.run_until(now_);
    poll_models(now_);
    if (verdict_.kind != Verdict::Kind::kNone) break;
    VirtualTime boundary = next_boundary();
    watches_->refresh();
    run_round(boundary);
    if (verdict_.kind != Verdict::Kind::kNone) break;
    if (needs_poll(boundary)) poll_models(boundary);  // what the guest did during the round (timers armed, EOM)
    bool all_idle = true, wakeable = false;
    for (Slot& s : vcpus_) {
      all_idle = all_idle && s.state != VcpuState::kRunnable;
      bool pending = s.apic->pending_vector().has_value();
      wakeable = wakeable || (s.state == VcpuState::kIdle && pending) ||
                 (s.state == VcpuState::kHalted && pending && s.cpu->can_take_interrupt());
    }
    if (all_idle && !wakeable) {
      // Nothing runs until the next event: jump to it, or end the run if there is none.
      std::optional<VirtualTime> e = next_wake();
      if (!e) {
        for (const Slot& s : vcpus_) now_ = std::max(now_, s.cpu->now());
        Verdict w;
        w.kind = Verdict::Kind::kWatchdog;
        w.message = "every vCPU is halted or parked and nothing is left that could wake one";
        set_verdict(std::move(w));
        break;
      }
      boundary = std::min(*e, params_.max_time);
    }
    now_ = boundary;
    for (Slot& s : vcpus_)
      if (s.state != VcpuState::kRunnable) s.cpu->idle_until(now_);
    if (now_ >= params_.max_time) break;
  }
  if (verdict_.kind == Verdict::Kind::kNone) {
    Verdict w;
    w.kind = Verdict::Kind::kWatchdog;
    char buf[96];
    std::snprintf(buf, sizeof buf, "virtual-time limit of %" PRIu64 " ns reached", params_.max_time.ns());
    w.message = buf;
    for (size_t i = 0; i < vcpus_.size(); ++i) {
      static const char* const kState[] = {"running", "halted", "waiting for SIPI", "idle (GUEST_IDLE)", "suspended (throttled)"};
      std::snprintf(buf, sizeof buf, "  vp%zu %s at rip 0x%" PRIx64 "\n", i, kState[static_cast<int>(vcpus_[i].state)],
                    vcpus_[i].cpu->reg(Reg::kRip));
      w.report += buf;
    }
    set_verdict(std::move(w));
  }
  // The run's end time: the latest local time of any vCPU, or the scheduler's time.
  for (const Slot& s : vcpus_) if (s.cpu->now() > now_) now_ = s.cpu->now();
  if (!console_line_.empty()) flush_console_line(now_, kNoVp);
  tracer_.emit(TracePoint::kVerdict, now_, verdict_.vp,
               {TraceField::str_("verdict", verdict_.label()), TraceField::u64("status", static_cast<uint64_t>(verdict_.status())),
                TraceField::str_("message", verdict_.message)});
  tracer_.flush();
  return verdict_;
}

}  // namespace hvsim
