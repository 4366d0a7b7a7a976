#include "models/apic/local_apic.h"

#include <algorithm>
#include <bit>

#include "sim/core/status.h"

namespace hvsim::apic {
namespace {

constexpr uint64_t kPsPerSecond = 1000000000000ull;

constexpr uint32_t kSvrSoftwareEnable = 1u << 8;
constexpr uint32_t kSvrWritable = 0x3FF;  // vector, APIC software enable, focus processor checking
constexpr uint32_t kLdrWritable = 0xFF000000;
constexpr uint32_t kDfrWritable = 0xF0000000;  // the model; bits 27:0 read as ones
constexpr uint32_t kIcrHighWritable = 0xFF000000;
constexpr uint32_t kIcrLowWritable = 0x000CCFFF;  // vector, delivery/destination mode, level, trigger, shorthand
constexpr uint32_t kIcrLowReadOnly = 1u << 12;    // delivery status: always idle
constexpr uint32_t kDivideWritable = 0xB;
constexpr unsigned kLvtTimer = 0, kLvtError = 5;
constexpr unsigned kTimerOneShot = 0, kTimerPeriodic = 1, kTimerTscDeadline = 2, kTimerReserved = 3;

// Writable and read-only bits of each LVT (SDM Figure 10-8); any other bit is reserved.
struct LvtLayout {
  uint32_t writable;
  uint32_t read_only;
  const char* name;
};
constexpr uint32_t kDeliveryStatus = 1u << 12, kRemoteIrr = 1u << 14;
constexpr LvtLayout kLvtLayout[6] = {
    {0x000700FF, kDeliveryStatus, "lvt_timer"},  // vector, mask, timer mode
    {0x000107FF, kDeliveryStatus, "lvt_thermal"},  // vector, delivery mode, mask
    {0x000107FF, kDeliveryStatus, "lvt_perf"},
    {0x0001A7FF, kDeliveryStatus | kRemoteIrr, "lvt_lint0"},  // + polarity, trigger mode
    {0x0001A7FF, kDeliveryStatus | kRemoteIrr, "lvt_lint1"},
    {0x000100FF, kDeliveryStatus, "lvt_error"},
};

// ICR fields (SDM Figure 10-12).
constexpr unsigned kDeliveryFixed = 0, kDeliveryLowest = 1, kDeliveryNmi = 4, kDeliveryInit = 5,
                   kDeliveryStartup = 6;
constexpr uint32_t kIcrLogical = 1u << 11, kIcrLevelAssert = 1u << 14, kIcrLevelTrigger = 1u << 15;
constexpr unsigned kShorthandNone = 0, kShorthandSelf = 1, kShorthandAllIncludingSelf = 2, kShorthandAllExcludingSelf = 3;
constexpr uint32_t kX2ApicBroadcast = 0xFFFFFFFF;
constexpr uint32_t kXApicBroadcast = 0xFF;
constexpr uint32_t kMmioPageSize = 0x1000;

// The earliest time at which `ticks` ticks of an `hz` clock have elapsed since `start`
// (rounded up, matching ClockRate::ticks_at); nullopt beyond the range of VirtualTime.
std::optional<VirtualTime> time_after(VirtualTime start, uint128 ticks, uint64_t hz) {
  if (ticks > UINT64_MAX) return std::nullopt;
  uint128 ps = (ticks * kPsPerSecond + hz - 1) / hz;
  if (ps > UINT64_MAX - start.ps()) return std::nullopt;
  return VirtualTime::from_ps(start.ps() + static_cast<uint64_t>(ps));
}

uint64_t checked_hz(uint64_t hz) {
  SIM_ASSERT(hz != 0, "ApicParams clock rates must be non-zero");
  return hz;
}

}  // namespace

LocalApic::LocalApic(uint32_t vp, bool bsp, const ApicParams& params, IpiTarget& ipis, Tracer& tracer)
    : vp_(vp),
      apic_clock_(checked_hz(params.apic_hz)),
      tsc_clock_(checked_hz(params.tsc_hz)),
      ipis_(ipis),
      tracer_(tracer),
      apic_base_(kApicBaseAddress | kApicBaseEnable | (bsp ? kApicBaseBsp : 0)) {}

void LocalApic::reset() { state_ = State{}; }

ApicMode LocalApic::mode() const {
  if (!(apic_base_ & kApicBaseEnable)) return ApicMode::kDisabled;
  return (apic_base_ & kApicBaseExtd) ? ApicMode::kX2Apic : ApicMode::kXApic;
}

bool LocalApic::software_enabled() const { return state_.svr & kSvrSoftwareEnable; }

// ---- bitmaps and priorities ----

void LocalApic::assign(Bits256& b, uint8_t v, bool on) {
  uint64_t bit = uint64_t{1} << (v & 63);
  b[v >> 6] = on ? (b[v >> 6] | bit) : (b[v >> 6] & ~bit);
}

int LocalApic::highest(const Bits256& b) {
  for (int i = 3; i >= 0; --i) {
    if (b[i]) return i * 64 + 63 - std::countl_zero(b[i]);
  }
  return -1;
}

uint8_t LocalApic::ppr() const {
  int isrv = highest(state_.isr);
  uint32_t isr_class = isrv < 0 ? 0 : static_cast<uint32_t>(isrv) & 0xF0;
  return static_cast<uint8_t>((state_.tpr & 0xF0) >= isr_class ? state_.tpr : isr_class);
}

// Arbitration priority (SDM §10.8.3.1, Figure 10-15).
uint8_t LocalApic::apr() const {
  int irrv = highest(state_.irr), isrv = highest(state_.isr);
  uint32_t tpr_class = state_.tpr & 0xF0;
  uint32_t irr_class = irrv < 0 ? 0 : static_cast<uint32_t>(irrv) & 0xF0;
  uint32_t isr_class = isrv < 0 ? 0 : static_cast<uint32_t>(isrv) & 0xF0;
  if (tpr_class >= irr_class && tpr_class > isr_class) return static_cast<uint8_t>(state_.tpr);
  return static_cast<uint8_t>(std::max({tpr_class, irr_class, isr_class}));
}

// ---- interrupt flow ----

void LocalApic::accept(uint8_t vector, bool auto_eoi) {
  // A software-disabled APIC discards fixed interrupts (IRR/ISR contents are kept).
  if (mode() == ApicMode::kDisabled || !software_enabled()) return;
  if (vector < 16) {
    set_error(kEsrReceiveIllegalVector);
    return;
  }
  assign(state_.irr, vector, true);
  assign(state_.auto_eoi, vector, auto_eoi);
}

std::optional<uint8_t> LocalApic::pending_vector() const {
  if (mode() == ApicMode::kDisabled || !software_enabled()) return std::nullopt;
  int v = highest(state_.irr);
  if (v < 0 || (static_cast<uint32_t>(v) & 0xF0) <= (ppr() & 0xF0u)) return std::nullopt;
  return static_cast<uint8_t>(v);
}

void LocalApic::on_delivered(uint8_t vector) {
  if (!test(state_.irr, vector)) return;
  assign(state_.irr, vector, false);
  if (test(state_.auto_eoi, vector)) {  // auto-EOI (SynIC SINT): never enters ISR
    assign(state_.auto_eoi, vector, false);
    return;
  }
  assign(state_.isr, vector, true);
}

void LocalApic::eoi(VirtualTime now) {
  int v = highest(state_.isr);
  if (v < 0) return;
  assign(state_.isr, static_cast<uint8_t>(v), false);
  trace_write("eoi", static_cast<uint64_t>(v), now);
}

// Latches an error in the internal ESR; a newly detected error raises the LVT error interrupt.
void LocalApic::set_error(uint32_t bit) {
  if (state_.esr_pending & bit) return;
  state_.esr_pending |= bit;
  uint32_t lvt = state_.lvt[kLvtError];
  if (!(lvt & kLvtMasked)) accept(static_cast<uint8_t>(lvt), false);
}

// ---- MSR and MMIO access ----

std::optional<MsrAccess> LocalApic::msr_read(uint32_t msr, VirtualTime now) const {
  constexpr MsrAccess kGp{true, 0};
  if (msr == kMsrIa32ApicBase) return MsrAccess{false, apic_base_};
  if (msr == kMsrIa32TscDeadline) {
    // Reads 0 outside TSC-deadline mode and once the deadline has passed (the timer cleared it).
    bool armed = timer_mode() == kTimerTscDeadline && guest_tsc(now) < state_.tsc_deadline;
    return MsrAccess{false, armed ? state_.tsc_deadline : 0};
  }
  if (msr == HV_X64_MSR_EOI) return kGp;  // write-only
  if (msr == HV_X64_MSR_ICR || msr == HV_X64_MSR_TPR) {
    if (mode() == ApicMode::kDisabled) return kGp;
    if (msr == HV_X64_MSR_TPR) return MsrAccess{false, state_.tpr};
    return MsrAccess{false, (uint64_t{state_.icr_high} << 32) | state_.icr_low};
  }
  if (msr < kMsrX2ApicFirst || msr > kMsrX2ApicLast) return std::nullopt;
  if (mode() != ApicMode::kX2Apic) return kGp;
  std::optional<uint64_t> value = read_reg((msr - kMsrX2ApicFirst) << 4, now, true);
  if (!value) return kGp;
  return MsrAccess{false, *value};
}

std::optional<bool> LocalApic::msr_write(uint32_t msr, uint64_t value, VirtualTime now) {
  bool x2_range = msr >= kMsrX2ApicFirst && msr <= kMsrX2ApicLast;
  bool hv = msr >= HV_X64_MSR_EOI && msr <= HV_X64_MSR_TPR;
  if (msr != kMsrIa32ApicBase && msr != kMsrIa32TscDeadline && !x2_range && !hv) return std::nullopt;
  fire_due(now);  // the timer catches up before any register changes
  if (msr == kMsrIa32ApicBase) return write_apic_base(value, now);
  if (msr == kMsrIa32TscDeadline) {
    if (timer_mode() != kTimerTscDeadline || state_.tsc_deadline == value) return true;  // ignored
    state_.tsc_deadline = value;  // 0 disarms
    trace_write("tsc_deadline", value, now);
    return true;
  }
  if (hv) return write_hv(msr, value, now);
  if (mode() != ApicMode::kX2Apic) return false;
  uint32_t offset = (msr - kMsrX2ApicFirst) << 4;
  if (offset != kRegIcrLow && (value >> 32) != 0) return false;  // upper halves are reserved
  return write_reg(offset, value, now, true);
}

uint32_t LocalApic::mmio_read(uint32_t offset, VirtualTime now) const {
  if (mode() != ApicMode::kXApic || (offset & 0xF) || offset >= kMmioPageSize) return 0;
  return static_cast<uint32_t>(read_reg(offset, now, false).value_or(0));
}

void LocalApic::mmio_write(uint32_t offset, uint32_t value, VirtualTime now) {
  if (mode() != ApicMode::kXApic || (offset & 0xF) || offset >= kMmioPageSize) return;
  fire_due(now);
  // In xAPIC mode writes to read-only and reserved registers are dropped, not faulted.
  static_cast<void>(write_reg(offset, value, now, false));
}

bool LocalApic::write_apic_base(uint64_t value, VirtualTime now) {
  constexpr uint64_t kFlags = kApicBaseBsp | kApicBaseExtd | kApicBaseEnable;
  // Reserved bits set, or a base other than 0xFEE00000. DEVNOTE: relocation is not modelled.
  if ((value & ~kFlags) != kApicBaseAddress) return false;
  bool enable = value & kApicBaseEnable, extd = value & kApicBaseExtd;
  if (extd && !enable) return false;  // the invalid state (SDM §10.12.5)
  ApicMode from = mode();
  ApicMode to = !enable ? ApicMode::kDisabled : extd ? ApicMode::kX2Apic : ApicMode::kXApic;
  if (from == ApicMode::kX2Apic && to == ApicMode::kXApic) return false;
  if (from == ApicMode::kDisabled && to == ApicMode::kX2Apic) return false;
  if (value == apic_base_) return true;
  apic_base_ = value;
  if (to == ApicMode::kDisabled) state_ = State{};  // disabling returns the registers to power-up values
  trace_write("apic_base", value, now);
  return true;
}

// Hyper-V's APIC-access MSRs: x2APIC EOI/ICR/TPR semantics, usable in xAPIC mode too.
std::optional<bool> LocalApic::write_hv(uint32_t msr, uint64_t value, VirtualTime now) {
  if (mode() == ApicMode::kDisabled) return false;
  switch (msr) {
    case HV_X64_MSR_EOI:
      eoi(now);  // any value
      return true;
    case HV_X64_MSR_TPR:
      if (value > 0xFF) return false;
      store(state_.tpr, static_cast<uint32_t>(value), "tpr", now);
      return true;
    default:
      return write_icr(value, now, mode() == ApicMode::kX2Apic);
  }
}

// A 64-bit ICR write (x2APIC 0x830 or HV_X64_MSR_ICR): low half = command, high half = the
// destination (x2APIC: 32-bit ID; xAPIC: ID in bits 63:56). Reserved command bits give #GP.
bool LocalApic::write_icr(uint64_t value, VirtualTime now, bool x2) {
  auto low = static_cast<uint32_t>(value);
  if (low & ~(kIcrLowWritable | kIcrLowReadOnly)) return false;
  auto high = static_cast<uint32_t>(value >> 32);
  state_.icr_low = low & kIcrLowWritable;
  state_.icr_high = x2 ? high : high & kIcrHighWritable;
  trace_write("icr", (uint64_t{state_.icr_high} << 32) | state_.icr_low, now);
  send_ipi(state_.icr_low, x2 ? state_.icr_high : state_.icr_high >> 24, x2);
  return true;
}

// One decode for both access paths: `offset` is the xAPIC offset (x2APIC MSR - 0x800) << 4.
// nullopt: write-only, reserved or not present in this mode.
std::optional<uint64_t> LocalApic::read_reg(uint32_t offset, VirtualTime now, bool x2) const {
  if (offset >= kRegTmr0 && offset < kRegIrr0) return 0;  // TMR: every interrupt is edge-triggered
  if (offset >= kRegIsr0 && offset < kRegEsr) {
    const Bits256& bank = offset < kRegTmr0 ? state_.isr : state_.irr;
    unsigned word = ((offset - kRegIsr0) >> 4) & 7;
    return (bank[word >> 1] >> ((word & 1) * 32)) & 0xFFFFFFFF;
  }
  if (offset >= kRegLvtTimer && offset <= kRegLvtError) return state_.lvt[(offset - kRegLvtTimer) >> 4];
  switch (offset) {
    case kRegId: return x2 ? vp_ : (vp_ & 0xFF) << 24;
    case kRegVersion: return kApicVersion;
    case kRegTpr: return state_.tpr;
    case kRegPpr: return ppr();
    case kRegLdr: return x2 ? x2apic_ldr() : state_.ldr;
    case kRegSvr: return state_.svr;
    case kRegEsr: return state_.esr;
    case kRegIcrLow: return x2 ? (uint64_t{state_.icr_high} << 32) | state_.icr_low : state_.icr_low;
    case kRegInitialCount: return state_.initial_count;
    case kRegCurrentCount: return current_count(now);
    case kRegDivideConfig: return state_.divide_config;
    case kRegApr: return x2 ? std::nullopt : std::optional<uint64_t>(apr());
    case kRegRrd: return x2 ? std::nullopt : std::optional<uint64_t>(0);
    case kRegDfr: return x2 ? std::nullopt : std::optional<uint64_t>(state_.dfr);
    case kRegIcrHigh: return x2 ? std::nullopt : std::optional<uint64_t>(state_.icr_high);
    default: return std::nullopt;  // EOI and self IPI are write-only; the rest is reserved
  }
}

// false: #GP in x2APIC mode (read-only or reserved register, reserved bits); dropped in xAPIC mode.
bool LocalApic::write_reg(uint32_t offset, uint64_t value, VirtualTime now, bool x2) {
  auto v = static_cast<uint32_t>(value);
  if (offset >= kRegLvtTimer && offset <= kRegLvtError) return write_lvt((offset - kRegLvtTimer) >> 4, v, now, x2);
  switch (offset) {
    case kRegTpr:
      if (x2 && v > 0xFF) return false;
      store(state_.tpr, v & 0xFF, "tpr", now);
      return true;
    case kRegEoi:
      if (x2 && v != 0) return false;
      eoi(now);
      return true;
    case kRegLdr:
      if (x2) return false;  // read-only in x2APIC mode
      store(state_.ldr, v & kLdrWritable, "ldr", now);
      return true;
    case kRegDfr:
      if (x2) return false;
      store(state_.dfr, v | ~kDfrWritable, "dfr", now);
      return true;
    case kRegSvr:
      if (x2 && (v & ~kSvrWritable)) return false;
      store(state_.svr, v & kSvrWritable, "svr", now);
      if (!software_enabled()) {
        for (uint32_t& lvt : state_.lvt) lvt |= kLvtMasked;
      }
      return true;
    case kRegEsr: {
      if (x2 && v != 0) return false;
      bool changed = state_.esr != state_.esr_pending || state_.esr_pending != 0;
      state_.esr = state_.esr_pending;  // latch the errors seen since the last write
      state_.esr_pending = 0;
      if (changed) trace_write("esr", state_.esr, now);
      return true;
    }
    case kRegIcrLow:
      if (x2) return write_icr(value, now, true);
      return write_icr((uint64_t{state_.icr_high} << 32) | (v & kIcrLowWritable), now, false);
    case kRegIcrHigh:
      if (x2) return false;
      store(state_.icr_high, v & kIcrHighWritable, "icr_high", now);
      return true;
    case kRegInitialCount: {
      unsigned m = timer_mode();
      if (m == kTimerTscDeadline) return true;  // ignored in TSC-deadline mode
      state_.initial_count = v;  // (re)starts the count even when unchanged
      state_.timer = v != 0 && m != kTimerReserved ? Timer{true, now, v, 0} : Timer{};
      trace_write("initial_count", v, now);
      return true;
    }
    case kRegDivideConfig:
      if (x2 && (v & ~kDivideWritable)) return false;
      if ((v & kDivideWritable) == state_.divide_config) return true;
      rebase_timer(now);  // the count so far ran at the old rate
      store(state_.divide_config, v & kDivideWritable, "divide_config", now);
      return true;
    case kRegSelfIpi:
      if (!x2 || v > 0xFF) return false;
      trace_write("self_ipi", v, now);
      if (v < 16) {
        set_error(kEsrSendIllegalVector);
        return true;
      }
      ipis_.deliver_fixed(vp_, vp_, static_cast<uint8_t>(v));
      return true;
    default:
      return false;
  }
}

bool LocalApic::write_lvt(unsigned index, uint64_t value, VirtualTime now, bool x2) {
  const LvtLayout& layout = kLvtLayout[index];
  auto v = static_cast<uint32_t>(value);
  if (x2 && (v & ~(layout.writable | layout.read_only))) return false;
  uint32_t next = v & layout.writable;
  if (!software_enabled()) next |= kLvtMasked;  // masks cannot be cleared while software-disabled
  if (index == kLvtTimer) {
    unsigned from = timer_mode(), to = (next >> 17) & 3;
    if ((from == kTimerTscDeadline) != (to == kTimerTscDeadline)) {
      // Entering or leaving TSC-deadline mode disarms the timer (SDM §10.5.4.1).
      state_.timer = Timer{};
      state_.initial_count = 0;
      state_.tsc_deadline = 0;
    } else if (from != to) {
      if (to == kTimerReserved) state_.timer = Timer{};  // reserved mode: no timer
      else rebase_timer(now);  // one-shot <-> periodic: keep the current count
    }
  }
  store(state_.lvt[index], next, layout.name, now);
  return true;
}

void LocalApic::store(uint32_t& field, uint32_t value, const char* reg, VirtualTime now) {
  if (field == value) return;
  field = value;
  trace_write(reg, value, now);
}

void LocalApic::trace_write(const char* reg, uint64_t value, VirtualTime now) {
  tracer_.emit(TracePoint::kApicWrite, now, static_cast<int>(vp_),
               {TraceField::str_("reg", reg), TraceField::hex("value", value)});
}

// ---- IPIs ----

void LocalApic::send_ipi(uint32_t low, uint32_t dest, bool x2) {
  auto vector = static_cast<uint8_t>(low);
  unsigned delivery = (low >> 8) & 7, shorthand = (low >> 18) & 3;
  // INIT level de-assert (level-triggered, level 0) only resynchronises arbitration IDs.
  if (delivery == kDeliveryInit && (low & kIcrLevelTrigger) && !(low & kIcrLevelAssert)) return;
  if ((delivery == kDeliveryFixed || delivery == kDeliveryLowest) && vector < 16) {
    set_error(kEsrSendIllegalVector);
    return;
  }
  // SDM Table 10-3: the self and all-including-self shorthands are valid only with fixed delivery.
  if (shorthand != kShorthandNone && shorthand != kShorthandAllExcludingSelf && delivery != kDeliveryFixed) return;
  const uint32_t from = vp_;  // copies: an INIT to this VP may reset our state mid-loop
  const uint32_t count = ipis_.vp_count();
  for (uint32_t to = 0; to < count; ++to) {
    bool hit = shorthand == kShorthandNone               ? is_destination(to, dest, low & kIcrLogical, x2)
               : shorthand == kShorthandSelf             ? to == from
               : shorthand == kShorthandAllIncludingSelf ? true
                                                         : to != from;
    if (!hit) continue;
    switch (delivery) {
      case kDeliveryFixed: ipis_.deliver_fixed(from, to, vector); break;
      // DEVNOTE: lowest-priority arbitration picks the lowest-numbered target (deterministic).
      case kDeliveryLowest: ipis_.deliver_fixed(from, to, vector); return;
      case kDeliveryNmi: ipis_.deliver_nmi(from, to); break;
      case kDeliveryInit: ipis_.deliver_init(from, to); break;
      case kDeliveryStartup: ipis_.deliver_startup(from, to, vector); break;
      default: return;  // SMI and the reserved modes are not modelled
    }
  }
}

bool LocalApic::is_destination(uint32_t to, uint32_t dest, bool logical, bool x2) const {
  if (x2) {
    if (dest == kX2ApicBroadcast) return true;
    if (!logical) return dest == to;  // the x2APIC ID is the VP index
    return (dest >> 16) == (to >> 4) && ((dest >> (to & 15)) & 1);  // cluster ID, member bit
  }
  if (!logical) return dest == kXApicBroadcast || (to < kXApicBroadcast && dest == to);
  const LocalApic* peer = ipis_.apic(to);
  return peer != nullptr && peer->accepts_xapic_logical(static_cast<uint8_t>(dest));
}

bool LocalApic::accepts_xapic_logical(uint8_t mda) const {
  if (mode() != ApicMode::kXApic) return false;
  if (mda == kXApicBroadcast) return true;
  uint32_t id = state_.ldr >> 24;
  uint32_t model = state_.dfr >> 28;
  if (model == 0xF) return (id & mda) != 0;  // flat: one bit per APIC
  if (model == 0x0) return (id >> 4) == (mda >> 4u) && (id & mda & 0xF) != 0;  // cluster
  return false;
}

// ---- timer ----

uint32_t LocalApic::divisor() const {
  uint32_t code = (state_.divide_config & 3) | ((state_.divide_config >> 1) & 4);
  return code == 7 ? 1 : 2u << code;
}

uint32_t LocalApic::current_count(VirtualTime now) const {
  const Timer& t = state_.timer;
  unsigned m = timer_mode();
  if (!t.armed || (m != kTimerOneShot && m != kTimerPeriodic)) return 0;
  uint64_t elapsed = now > t.start ? apic_clock_.ticks_at(now - t.start) / divisor() : 0;
  if (elapsed < t.first) return static_cast<uint32_t>(t.first - elapsed);
  if (m == kTimerOneShot || state_.initial_count == 0) return 0;
  return state_.initial_count - static_cast<uint32_t>((elapsed - t.first) % state_.initial_count);
}

// The time of expiry `index`: the count at start reaching 0, then each reload running out.
std::optional<VirtualTime> LocalApic::count_expiry(uint64_t index) const {
  const Timer& t = state_.timer;
  uint128 counts = uint128{t.first} + uint128{index} * state_.initial_count;
  return time_after(t.start, counts * divisor(), apic_clock_.hz());
}

std::optional<VirtualTime> LocalApic::next_deadline(VirtualTime now) const {
  if (timer_mode() == kTimerTscDeadline) {
    if (state_.tsc_deadline == 0) return std::nullopt;
    uint64_t tsc = guest_tsc(now);
    if (tsc >= state_.tsc_deadline) return now;
    VirtualTime since = now > tsc_base_time_ ? now - tsc_base_time_ : VirtualTime{};
    uint128 target = uint128{tsc_clock_.ticks_at(since)} + (state_.tsc_deadline - tsc);
    return time_after(tsc_base_time_, target, tsc_clock_.hz());
  }
  if (!state_.timer.armed) return std::nullopt;
  return count_expiry(state_.timer.next);
}

void LocalApic::set_tsc_clock(uint64_t hz, VirtualTime base_time, uint64_t base_ticks) {
  tsc_clock_ = ClockRate(checked_hz(hz));
  tsc_base_time_ = base_time;
  tsc_base_ticks_ = base_ticks;
}

std::optional<VirtualTime> LocalApic::poll(VirtualTime now) {
  fire_due(now);
  return next_deadline(now);
}

void LocalApic::fire_due(VirtualTime now) {
  unsigned m = timer_mode();
  if (m == kTimerTscDeadline) {
    if (state_.tsc_deadline == 0 || guest_tsc(now) < state_.tsc_deadline) return;
    state_.tsc_deadline = 0;  // the timer disarms itself and clears IA32_TSC_DEADLINE
    fire_timer(now);
    return;
  }
  Timer& t = state_.timer;
  if (!t.armed) return;
  std::optional<VirtualTime> due = count_expiry(t.next);
  if (!due || *due > now) return;
  if (m == kTimerPeriodic && state_.initial_count != 0) {
    // Expiries missed since the last poll coalesce into one interrupt (IRR holds one bit).
    uint64_t elapsed = apic_clock_.ticks_at(now - t.start) / divisor();
    t.next = (elapsed - t.first) / state_.initial_count + 1;
  } else {
    t.armed = false;
  }
  fire_timer(now);
}

void LocalApic::fire_timer(VirtualTime now) {
  uint32_t lvt = state_.lvt[kLvtTimer];
  bool masked = lvt & kLvtMasked;
  tracer_.emit(TracePoint::kApicTimer, now, static_cast<int>(vp_),
               {TraceField::u64("vector", lvt & 0xFF), TraceField::boolean("masked", masked)});
  if (!masked) accept(static_cast<uint8_t>(lvt), false);
}

void LocalApic::rebase_timer(VirtualTime now) {
  if (!state_.timer.armed) return;
  uint32_t count = current_count(now);
  state_.timer = count == 0 ? Timer{} : Timer{true, now, count, 0};
}

}  // namespace hvsim::apic
