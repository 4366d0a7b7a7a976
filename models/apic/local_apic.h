// The local APIC of one virtual processor (Intel SDM vol. 3A chapter 10 "APIC"; x2APIC §10.12),
// sans-IO: register access through MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE, the x2APIC range
// 0x800-0x8FF, Hyper-V's HV_X64_MSR_EOI/ICR/TPR, PROTOCOL.md §2.1) and xAPIC MMIO offsets; IRR/ISR
// priority logic (TPR/PPR, EOI, auto-EOI for SynIC SINTs, PROTOCOL.md §2.6); the timer in one-shot,
// periodic and TSC-deadline modes, driven by poll(now); IPIs sent through an IpiTarget.
// Omitted: TMR/level-triggered interrupts (every interrupt is edge; TMR reads 0), CMCI, thermal,
// performance and LINT sources (their LVTs are storage only), SMI, EOI-broadcast suppression, APIC
// base relocation (a write moving the base is #GP), writable xAPIC IDs (the ID is the VP index),
// the ESR "illegal register address" bit (reads are pure).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "sim/core/trace.h"
#include "sim/core/virtual_time.h"

namespace hvsim::apic {

class LocalApic;

// Implemented by the machine: carries IPIs between the local APICs of a partition.
class IpiTarget {
 public:
  virtual ~IpiTarget() = default;
  virtual uint32_t vp_count() const = 0;
  virtual void deliver_fixed(uint32_t from_vp, uint32_t to_vp, uint8_t vector) = 0;  // into the target's IRR
  virtual void deliver_init(uint32_t from_vp, uint32_t to_vp) = 0;
  virtual void deliver_startup(uint32_t from_vp, uint32_t to_vp, uint8_t vector) = 0;
  virtual void deliver_nmi(uint32_t from_vp, uint32_t to_vp) = 0;
  // The local APIC of another VP (nullptr if none). Needed only for xAPIC logical destinations,
  // which depend on each target's own LDR and DFR.
  virtual const LocalApic* apic(uint32_t vp) const = 0;
};

struct ApicParams {
  uint64_t apic_hz = 200000000;   // timer input clock (before the divide configuration); non-zero
  uint64_t tsc_hz = 2000000000;   // guest TSC rate, for IA32_TSC_DEADLINE; non-zero
};

// Result of an MSR read the APIC claims: gp = raise #GP(0), else value.
struct MsrAccess {
  bool gp = false;
  uint64_t value = 0;
};

enum class ApicMode : uint8_t { kDisabled, kXApic, kX2Apic };

constexpr uint32_t kMsrIa32ApicBase = 0x1B;
constexpr uint32_t kMsrIa32TscDeadline = 0x6E0;
constexpr uint32_t kMsrX2ApicFirst = 0x800, kMsrX2ApicLast = 0x8FF;  // 0x800 + (xAPIC offset >> 4)
constexpr uint32_t HV_X64_MSR_EOI = 0x40000070;
constexpr uint32_t HV_X64_MSR_ICR = 0x40000071;
constexpr uint32_t HV_X64_MSR_TPR = 0x40000072;

constexpr uint64_t kApicBaseAddress = 0xFEE00000;  // the MMIO page the machine routes to mmio_*
constexpr uint64_t kApicBaseBsp = 1u << 8, kApicBaseExtd = 1u << 10, kApicBaseEnable = 1u << 11;
constexpr uint32_t kApicVersion = 0x00050014;  // version 0x14, max LVT entry 5 (six LVTs)

// xAPIC register offsets (SDM Table 10-1); x2APIC MSR = 0x800 + (offset >> 4).
constexpr uint32_t kRegId = 0x020, kRegVersion = 0x030, kRegTpr = 0x080, kRegApr = 0x090, kRegPpr = 0x0A0,
                   kRegEoi = 0x0B0, kRegRrd = 0x0C0, kRegLdr = 0x0D0, kRegDfr = 0x0E0, kRegSvr = 0x0F0,
                   kRegIsr0 = 0x100, kRegTmr0 = 0x180, kRegIrr0 = 0x200, kRegEsr = 0x280, kRegIcrLow = 0x300,
                   kRegIcrHigh = 0x310, kRegLvtTimer = 0x320, kRegLvtError = 0x370, kRegInitialCount = 0x380,
                   kRegCurrentCount = 0x390, kRegDivideConfig = 0x3E0, kRegSelfIpi = 0x3F0;

// ESR bits (SDM Figure 10-9) this model raises.
constexpr uint32_t kEsrSendIllegalVector = 1u << 5, kEsrReceiveIllegalVector = 1u << 6;

class LocalApic {
 public:
  // Power-up state: enabled, xAPIC mode, base 0xFEE00000, BSP flag from `bsp`, registers per SDM
  // §10.4.7.1. The APIC ID is `vp` (x2APIC: 32 bits; xAPIC: its low 8 bits in ID[31:24]).
  LocalApic(uint32_t vp, bool bsp, const ApicParams& params, IpiTarget& ipis, Tracer& tracer);

  // MSR access. nullopt: not an APIC MSR. Claims IA32_APIC_BASE, IA32_TSC_DEADLINE, 0x800-0x8FF and
  // HV_X64_MSR_EOI/ICR/TPR. x2APIC MSRs outside x2APIC mode, reserved registers, reserved bits,
  // reads of write-only and writes of read-only registers give #GP (read: gp; write: false).
  std::optional<MsrAccess> msr_read(uint32_t msr, VirtualTime now) const;
  std::optional<bool> msr_write(uint32_t msr, uint64_t value, VirtualTime now);

  // xAPIC MMIO at `offset` into the APIC page, 32-bit accesses at 16-byte-aligned offsets. Other
  // offsets, reserved and write-only registers read 0 and ignore writes; in x2APIC or disabled
  // mode every access reads 0 and is ignored.
  uint32_t mmio_read(uint32_t offset, VirtualTime now) const;
  void mmio_write(uint32_t offset, uint32_t value, VirtualTime now);

  // An interrupt arriving (IPI, SynIC, timer): sets IRR bit `vector`, remembering auto-EOI for
  // on_delivered. Discarded while the APIC is disabled or software-disabled; vectors 0-15 latch
  // the received-illegal-vector error instead.
  void accept(uint8_t vector, bool auto_eoi);
  // The vector the CPU should take: the highest IRR vector whose priority class (bits 7:4) is above
  // PPR's, when enabled and software-enabled. Pure.
  std::optional<uint8_t> pending_vector() const;
  // The CPU took `vector` (it was pending_vector()): IRR -> ISR, or just cleared for auto-EOI.
  void on_delivered(uint8_t vector);

  // Fires the timer if it is due at `now` (its vector is accepted unless the LVT is masked) and
  // returns the next expiry. Call it at the returned deadline and after every register write,
  // reset() or set_tsc_offset() (a write may arm, move or disarm the timer).
  std::optional<VirtualTime> poll(VirtualTime now);
  // Guest TSC = ticks of tsc_hz since time 0 + offset (mod 2^64); the machine keeps it equal to
  // the vCPU's IA32_TSC offset so TSC-deadline expiries match RDTSC.
  void set_tsc_offset(uint64_t offset) { tsc_offset_ = offset; }
  // A TSC frequency change (live migration): from `base_time` the TSC counts `hz` from
  // `base_ticks` (offset excluded), so an armed TSC deadline fires at the new rate.
  void set_tsc_clock(uint64_t hz, VirtualTime base_time, uint64_t base_ticks);

  // INIT (SDM §10.12.5.1): every register returns to its power-up value except IA32_APIC_BASE
  // (mode, enable, BSP) and the APIC ID; pending IRR/ISR bits, ESR, the timer and
  // IA32_TSC_DEADLINE are cleared. A full RESET is a freshly constructed LocalApic.
  void reset();

  // Inspection (tests, debugger): pure, no permission checks.
  uint32_t vp() const { return vp_; }
  uint64_t apic_base() const { return apic_base_; }
  ApicMode mode() const;
  bool software_enabled() const;
  bool irr(uint8_t vector) const { return test(state_.irr, vector); }
  bool isr(uint8_t vector) const { return test(state_.isr, vector); }
  uint8_t tpr() const { return static_cast<uint8_t>(state_.tpr); }
  uint8_t ppr() const;
  uint32_t pending_errors() const { return state_.esr_pending; }
  uint32_t current_count(VirtualTime now) const;

  // Whether this APIC (in xAPIC mode) is a target of the 8-bit logical destination `mda` under
  // its LDR and DFR (flat or cluster model; 0xFF is a broadcast).
  bool accepts_xapic_logical(uint8_t mda) const;

 private:
  using Bits256 = std::array<uint64_t, 4>;
  static constexpr unsigned kLvtCount = 6;  // timer, thermal, perf, LINT0, LINT1, error
  static constexpr uint32_t kLvtMasked = 1u << 16;

  struct Timer {  // the count-down timer (one-shot / periodic)
    bool armed = false;
    VirtualTime start;   // when counting began (a write of the initial count, or a rebase)
    uint32_t first = 0;  // count at `start`; the first expiry is when it reaches 0
    uint64_t next = 0;   // index of the next expiry: 0 = first, k = k-th reload after it
  };

  struct State {  // everything INIT resets
    uint32_t tpr = 0;
    uint32_t ldr = 0;
    uint32_t dfr = 0xFFFFFFFF;
    uint32_t svr = 0xFF;
    Bits256 irr{}, isr{}, auto_eoi{};
    uint32_t esr = 0;          // the readable ESR (latched by an ESR write)
    uint32_t esr_pending = 0;  // errors detected since the last ESR write
    uint32_t icr_low = 0, icr_high = 0;  // icr_high: xAPIC 0x310 layout, or the x2APIC destination
    std::array<uint32_t, kLvtCount> lvt{kLvtMasked, kLvtMasked, kLvtMasked, kLvtMasked, kLvtMasked, kLvtMasked};
    uint32_t initial_count = 0;
    uint32_t divide_config = 0;
    uint64_t tsc_deadline = 0;
    Timer timer{};
  };

  static bool test(const Bits256& b, uint8_t v) { return (b[v >> 6] >> (v & 63)) & 1; }
  static void assign(Bits256& b, uint8_t v, bool on);
  static int highest(const Bits256& b);  // -1 when empty

  std::optional<uint64_t> read_reg(uint32_t offset, VirtualTime now, bool x2) const;
  bool write_reg(uint32_t offset, uint64_t value, VirtualTime now, bool x2);
  bool write_lvt(unsigned index, uint64_t value, VirtualTime now, bool x2);
  bool write_apic_base(uint64_t value, VirtualTime now);
  std::optional<bool> write_hv(uint32_t msr, uint64_t value, VirtualTime now);
  bool write_icr(uint64_t value, VirtualTime now, bool x2);
  void store(uint32_t& field, uint32_t value, const char* reg, VirtualTime now);
  void trace_write(const char* reg, uint64_t value, VirtualTime now);

  uint8_t apr() const;
  uint32_t x2apic_ldr() const { return ((vp_ >> 4) << 16) | (1u << (vp_ & 15)); }
  void eoi(VirtualTime now);
  void set_error(uint32_t bit);
  void send_ipi(uint32_t low, uint32_t dest, bool x2);
  bool is_destination(uint32_t to, uint32_t dest, bool logical, bool x2) const;

  unsigned timer_mode() const { return (state_.lvt[0] >> 17) & 3; }
  uint32_t divisor() const;
  uint64_t guest_tsc(VirtualTime now) const {
    return tsc_base_ticks_ + (now > tsc_base_time_ ? tsc_clock_.ticks_at(now - tsc_base_time_) : 0) + tsc_offset_;
  }
  std::optional<VirtualTime> count_expiry(uint64_t index) const;
  std::optional<VirtualTime> next_deadline(VirtualTime now) const;
  void fire_due(VirtualTime now);
  void fire_timer(VirtualTime now);
  void rebase_timer(VirtualTime now);

  uint32_t vp_;
  ClockRate apic_clock_;
  ClockRate tsc_clock_;
  IpiTarget& ipis_;
  Tracer& tracer_;
  uint64_t apic_base_;
  uint64_t tsc_offset_ = 0;
  VirtualTime tsc_base_time_;   // the TSC counted tsc_base_ticks_ (offset excluded) at this time
  uint64_t tsc_base_ticks_ = 0;
  State state_{};
};

}  // namespace hvsim::apic
