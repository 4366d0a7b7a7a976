// The four synthetic timers (STIMER0-3) of one virtual processor.
//
// Models STIMERx_CONFIG / STIMERx_COUNT and expiry (PROTOCOL.md §2.7; TLFS timers.md). Times are
// 100 ns reference-time units (reference_time_at); deadlines go out of poll() as VirtualTime
// (unit u is due at exactly u * 100000 ps). Message mode posts HVMSG_TIMER_EXPIRED through
// SynIc::try_post_message (the TLFS dedicated per-timer buffer): a busy slot or an unavailable
// SynIC keeps the expiry pending, with no new deadline, and it is retried on the next poll().
// The machine therefore calls poll(now) at the returned deadline AND after every STIMER/SynIC MSR
// write and every APIC EOI of a SINT vector. Direct mode requests ApicVector via InterruptSink.
// Omits: the lazy bit changes nothing (a VP is never descheduled here, and missed periods are
// always skipped); timers never wrap (a due time past the VirtualTime range never fires).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "models/hv/hvdef_synic.h"
#include "models/hv/model_support.h"
#include "models/hv/synic.h"

namespace hvsim::hv {

struct StimerOptions {
  bool direct_mode_available = false;  // hv-stimer-direct (CPUID 0x40000003 EDX b19)
};

class SyntheticTimers {
 public:
  SyntheticTimers(VpIndex vp, SynIc& synic, InterruptSink& irq, Tracer& tracer,
                  StimerOptions options = {});
  SyntheticTimers(const SyntheticTimers&) = delete;
  SyntheticTimers& operator=(const SyntheticTimers&) = delete;

  // STIMERn_CONFIG (reset 0). #GP (false, nothing changes): n >= 4, bits 15:13 or 63:20 set,
  // DirectMode without hv-stimer-direct, DirectMode with ApicVector < 16 (model choice, like the
  // SINT rule). Enable with DirectMode clear and SINTx = 0 is accepted but Enable reads back 0
  // (TLFS). Any accepted write re-arms the timer from `now` and drops a pending expiry.
  uint64_t config(unsigned n) const { return n < kHvStimerCount ? state_.timer[n].config : 0; }
  bool set_config(unsigned n, uint64_t value, VirtualTime now);
  // STIMERn_COUNT (reset 0): one-shot = absolute due time, periodic = period (first period starts
  // now). 0 clears Enable; non-zero sets Enable when AutoEnable is set. #GP only for n >= 4.
  uint64_t count(unsigned n) const { return n < kHvStimerCount ? state_.timer[n].count : 0; }
  bool set_count(unsigned n, uint64_t value, VirtualTime now);

  // Fires every due timer and retries pending expiries; returns the earliest future deadline.
  // One-shot: Enable clears once the expiry is delivered. Periodic: re-armed at the first point
  // of its original grid after now (missed periods skipped, no burst; KVM's stimer_start does the
  // same, openvmm re-arms at now + period).
  std::optional<VirtualTime> poll(VirtualTime now);

  // Whether timer n expired but its message still waits for a slot (inspection).
  bool expiry_pending(unsigned n) const { return n < kHvStimerCount && state_.timer[n].pending; }
  // Power-on state: all timers disabled.
  void reset() { state_ = State{}; }

 private:
  struct Timer {
    uint64_t config = 0;
    uint64_t count = 0;
    bool armed = false;    // `due` is meaningful
    uint64_t due = 0;      // reference time of the next expiry
    bool pending = false;  // expired at `due`, not yet delivered
    bool busy = false;          // the last attempt found the message slot busy
    uint64_t pending_eoms = 0;  // SynIc::eom_count() when the slot was found busy
  };
  struct State {
    std::array<Timer, kHvStimerCount> timer{};
  };

  void arm(unsigned n, VirtualTime now);
  bool signal(unsigned n, uint64_t ref, VirtualTime now);
  void complete(unsigned n, uint64_t ref, VirtualTime now);
  void trace_arm(unsigned n, VirtualTime now);

  VpIndex vp_;
  SynIc& synic_;
  InterruptSink& irq_;
  Tracer& tracer_;
  StimerOptions options_;
  State state_;
};

}  // namespace hvsim::hv
