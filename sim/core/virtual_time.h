// Virtual time: the single notion of time in hvsim.
//
// VirtualTime counts picoseconds since the machine was reset, as an unsigned 64-bit integer
// (about 213 days). Nothing here reads a host clock. Conversions to TSC cycles and to Hyper-V
// reference time (100 ns units) are exact integer arithmetic (128-bit intermediates, rounding
// down), so a given virtual time maps to the same guest-visible counters on every machine.
#pragma once

#include <compare>
#include <cstdint>

namespace hvsim {

// 128-bit intermediates for exact rate conversions (a GCC/Clang extension).
__extension__ typedef unsigned __int128 uint128;

class VirtualTime {
 public:
  constexpr VirtualTime() = default;
  static constexpr VirtualTime from_ps(uint64_t ps) { return VirtualTime(ps); }
  static constexpr VirtualTime from_ns(uint64_t ns) { return VirtualTime(ns * 1000); }
  static constexpr VirtualTime from_us(uint64_t us) { return VirtualTime(us * 1000000); }
  static constexpr VirtualTime from_ms(uint64_t ms) { return VirtualTime(ms * 1000000000); }
  static constexpr VirtualTime max() { return VirtualTime(UINT64_MAX); }

  constexpr uint64_t ps() const { return ps_; }
  constexpr uint64_t ns() const { return ps_ / 1000; }

  constexpr auto operator<=>(const VirtualTime&) const = default;
  constexpr VirtualTime operator+(VirtualTime d) const { return VirtualTime(ps_ + d.ps_); }
  constexpr VirtualTime operator-(VirtualTime d) const { return VirtualTime(ps_ - d.ps_); }
  constexpr VirtualTime& operator+=(VirtualTime d) { ps_ += d.ps_; return *this; }

 private:
  constexpr explicit VirtualTime(uint64_t ps) : ps_(ps) {}
  uint64_t ps_ = 0;
};

// Converts between virtual time and a clock of `hz` ticks per second (a TSC, an APIC timer).
class ClockRate {
 public:
  constexpr explicit ClockRate(uint64_t hz)
      : hz_(hz), ps_per_tick_(kPsPerSecond % hz == 0 ? kPsPerSecond / hz : 0) {}
  constexpr uint64_t hz() const { return hz_; }
  // Whole ticks elapsed at virtual time t (rounded down).
  constexpr uint64_t ticks_at(VirtualTime t) const {
    if (ps_per_tick_) return t.ps() / ps_per_tick_;  // exact fast path (2 GHz: 500 ps per tick)
    return static_cast<uint64_t>(static_cast<uint128>(t.ps()) * hz_ / kPsPerSecond);
  }
  // The earliest virtual time at which `ticks` whole ticks have elapsed.
  constexpr VirtualTime time_of(uint64_t ticks) const {
    if (ps_per_tick_) return VirtualTime::from_ps(ticks * ps_per_tick_);
    uint128 num = static_cast<uint128>(ticks) * kPsPerSecond;
    return VirtualTime::from_ps(static_cast<uint64_t>((num + hz_ - 1) / hz_));
  }

 private:
  static constexpr uint64_t kPsPerSecond = 1000000000000ull;
  uint64_t hz_;
  uint64_t ps_per_tick_;  // 0 when a tick is not a whole number of picoseconds
};

// Hyper-V reference time: 100 ns units.
constexpr uint64_t reference_time_at(VirtualTime t) { return t.ps() / 100000; }

}  // namespace hvsim
