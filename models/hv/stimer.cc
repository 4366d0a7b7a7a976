#include "models/hv/stimer.h"

#include <cstring>

namespace hvsim::hv {

namespace {

constexpr uint64_t kPsPerRefUnit = 100000;  // 100 ns

// The VirtualTime at which reference time reaches `units`; none past the VirtualTime range.
std::optional<VirtualTime> time_of_ref(uint64_t units) {
  if (units > UINT64_MAX / kPsPerRefUnit) return std::nullopt;
  return VirtualTime::from_ps(units * kPsPerRefUnit);
}

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

unsigned sint_of(uint64_t config) {
  return static_cast<unsigned>((config & kHvStimerSintMask) >> kHvStimerSintShift);
}

uint8_t apic_vector_of(uint64_t config) {
  return static_cast<uint8_t>((config & kHvStimerApicVectorMask) >> kHvStimerApicVectorShift);
}

// TLFS: an enabled message-mode timer with SINTx = 0 is disabled at once.
uint64_t drop_enable_without_sint(uint64_t config) {
  if ((config & kHvStimerEnable) && !(config & kHvStimerDirectMode) && sint_of(config) == 0)
    return config & ~kHvStimerEnable;
  return config;
}

}  // namespace

SyntheticTimers::SyntheticTimers(VpIndex vp, SynIc& synic, InterruptSink& irq, Tracer& tracer,
                                 StimerOptions options)
    : vp_(vp), synic_(synic), irq_(irq), tracer_(tracer), options_(options) {}

bool SyntheticTimers::set_config(unsigned n, uint64_t value, VirtualTime now) {
  if (n >= kHvStimerCount || (value & kHvStimerReservedMask)) return false;
  if (value & kHvStimerDirectMode) {
    if (!options_.direct_mode_available) return false;
    if (apic_vector_of(value) < kHvFirstValidVector) return false;
  }
  state_.timer[n].config = drop_enable_without_sint(value);
  arm(n, now);
  return true;
}

bool SyntheticTimers::set_count(unsigned n, uint64_t value, VirtualTime now) {
  if (n >= kHvStimerCount) return false;
  Timer& t = state_.timer[n];
  t.count = value;
  if (value == 0) {
    t.config &= ~kHvStimerEnable;
  } else if (t.config & kHvStimerAutoEnable) {
    t.config = drop_enable_without_sint(t.config | kHvStimerEnable);
  }
  arm(n, now);
  return true;
}

// (Re)computes the due time after a register write: one-shot at `count`, periodic at now+count.
void SyntheticTimers::arm(unsigned n, VirtualTime now) {
  Timer& t = state_.timer[n];
  t.pending = false;
  t.armed = false;
  if (!(t.config & kHvStimerEnable) || t.count == 0) return;
  t.due = (t.config & kHvStimerPeriodic) ? saturating_add(reference_time_at(now), t.count)
                                         : t.count;
  t.armed = true;
  trace_arm(n, now);
}

// Delivers one expiry; returns false if it must wait (slot busy, SynIC or SIM page unavailable).
bool SyntheticTimers::signal(unsigned n, uint64_t ref, VirtualTime now) {
  Timer& t = state_.timer[n];
  if (t.config & kHvStimerDirectMode) {
    irq_.request_interrupt(vp_, apic_vector_of(t.config));
    return true;
  }
  const HvTimerMessagePayload payload{n, 0, t.due, ref};
  HvMessage msg{};
  msg.header.message_type = HVMSG_TIMER_EXPIRED;
  msg.header.payload_size = sizeof payload;
  std::memcpy(msg.payload, &payload, sizeof payload);
  PostResult r = synic_.try_post_message(sint_of(t.config), msg, now);
  t.busy = r == PostResult::kBusy;
  return r == PostResult::kDelivered;
}

// After a delivered expiry: one-shot disables; periodic moves to the next grid point after ref.
void SyntheticTimers::complete(unsigned n, uint64_t ref, VirtualTime now) {
  Timer& t = state_.timer[n];
  t.pending = false;
  if (!(t.config & kHvStimerPeriodic)) {
    t.config &= ~kHvStimerEnable;
    t.armed = false;
    return;
  }
  const uint128 periods = (ref - t.due) / t.count + 1;
  const uint128 next = static_cast<uint128>(t.due) + periods * t.count;
  t.due = next > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(next);
  trace_arm(n, now);
}

std::optional<VirtualTime> SyntheticTimers::poll(VirtualTime now) {
  const uint64_t ref = reference_time_at(now);
  std::optional<VirtualTime> next;
  for (unsigned n = 0; n < kHvStimerCount; ++n) {
    Timer& t = state_.timer[n];
    if (t.pending) {
      // A message-mode expiry waiting on a busy slot retries after the guest's next EOM.
      bool may_retry = !t.busy || synic_.eom_count() != t.pending_eoms;
      if (may_retry && signal(n, ref, now)) complete(n, ref, now);
    } else if (t.armed && ref >= t.due) {
      const bool delivered = signal(n, ref, now);
      tracer_.emit(TracePoint::kStimerExpire, now, static_cast<int>(vp_),
                   {TraceField::u64("timer", n), TraceField::u64("due", t.due),
                    TraceField::u64("ref", ref),
                    TraceField::boolean("direct", (t.config & kHvStimerDirectMode) != 0),
                    TraceField::boolean("delivered", delivered)});
      if (delivered) {
        complete(n, ref, now);
      } else {
        t.pending = true;
        t.pending_eoms = synic_.eom_count();
      }
    }
    if (!t.armed || t.pending) continue;
    const std::optional<VirtualTime> at = time_of_ref(t.due);
    if (at && (!next || *at < *next)) next = at;
  }
  return next;
}

void SyntheticTimers::trace_arm(unsigned n, VirtualTime now) {
  const Timer& t = state_.timer[n];
  tracer_.emit(TracePoint::kStimerArm, now, static_cast<int>(vp_),
               {TraceField::u64("timer", n), TraceField::u64("due", t.due),
                TraceField::boolean("periodic", (t.config & kHvStimerPeriodic) != 0),
                TraceField::boolean("direct", (t.config & kHvStimerDirectMode) != 0)});
}

}  // namespace hvsim::hv
