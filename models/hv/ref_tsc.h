// The partition reference TSC page (HV_REFERENCE_TSC_PAGE) and its exact integer arithmetic.
//
// PROTOCOL.md §2.4, TLFS timers.md: reference time = ((tsc * tsc_scale) >> 64) + tsc_offset in
// 100 ns units (128-bit product). The page is an overlay the machine owns and maps; this model
// writes its content into the attached 4096-byte host buffer. Sequence protocol: 0 = invalid (the
// guest falls back to TIME_REF_COUNT); a valid page carries 1..0xFFFFFFFE, a new number per update.
// Omits: openvmm's timeline_bias / tsc_multiplier fields, reenlightenment and TSC emulation.
#pragma once

#include <cstdint>

#include "sim/core/trace.h"
#include "sim/core/virtual_time.h"

namespace hvsim::hv {

struct HvReferenceTscPage {
  uint32_t tsc_sequence;  // 0 = invalid
  uint32_t reserved1;
  uint64_t tsc_scale;     // unsigned 64.64 fixed point
  int64_t tsc_offset;     // 100 ns units
  uint64_t reserved2[509];
};
static_assert(sizeof(HvReferenceTscPage) == 4096);

constexpr uint32_t kHvRefTscSequenceInvalid = 0;

// Exact relation with TIME_REF_COUNT = reference_time_at(t) (scale rounded down, as openvmm and
// Hyper-V publish it). With a TSC at hz counting ClockRate(hz).ticks_at(t) from 0 at t = 0 and
// offset 0, page(t) is never ahead of reference_time_at(t) and at most 1 behind; for
// hz = k * 10^7 (2, 2.5, 3 GHz...) exactly
//   page(t) = floor((ticks - 1) / k) = reference_time_at(t) - (ticks % k == 0 && ticks > 0)
// while ticks * (2^64 mod k) < 2^64 (the whole VirtualTime range up to 3.16 GHz). Equality at
// every instant is impossible with a rounded-down scale unless k is a power of two. After a
// republish with offset_for_continuity(tsc_now, scale, ref_now), page == TIME_REF_COUNT at that
// instant, never decreases, and stays within 1 of it.

// floor((10^7 << 64) / tsc_hz); 0 when tsc_hz <= 10^7 (the scale would not fit in 64 bits).
uint64_t tsc_scale_for(uint64_t tsc_hz);
// What a guest computes from the page: ((tsc * scale) >> 64) + offset (unsigned wrap-around).
uint64_t reference_time_from_tsc(uint64_t tsc, uint64_t scale, int64_t offset);
// The offset making reference_time_from_tsc(tsc_now, scale, offset) == ref_now exactly.
int64_t offset_for_continuity(uint64_t tsc_now, uint64_t scale, uint64_t ref_now);

class ReferenceTscPage {
 public:
  explicit ReferenceTscPage(Tracer& tracer) : tracer_(tracer) {}
  ReferenceTscPage(const ReferenceTscPage&) = delete;
  ReferenceTscPage& operator=(const ReferenceTscPage&) = delete;

  // Attaches the 4096-byte overlay buffer (nullptr detaches) and writes the whole current page
  // into it (reserved bytes 0).
  void attach(uint8_t* page);
  // Invalidate, write scale = tsc_scale_for(tsc_hz) and `offset`, then a new valid sequence.
  // Returns false (and leaves the page invalid) when tsc_hz <= 10^7.
  bool publish(uint64_t tsc_hz, int64_t offset, VirtualTime now);
  // Sequence 0: the guest must use TIME_REF_COUNT (e.g. while the TSC frequency changes).
  void invalidate(VirtualTime now);

  uint32_t sequence() const { return state_.sequence; }
  uint64_t scale() const { return state_.scale; }
  int64_t offset() const { return state_.offset; }
  // Power-on state (REFERENCE_TSC = 0): invalid page, sequence numbering restarts, detached.
  void reset();

 private:
  struct State {
    uint32_t sequence = kHvRefTscSequenceInvalid;  // as written in the page
    uint32_t last_valid = kHvRefTscSequenceInvalid;  // the last non-zero sequence published
    uint64_t scale = 0;
    int64_t offset = 0;
  };

  void write_page();
  void trace(VirtualTime now, uint64_t tsc_hz);

  Tracer& tracer_;
  State state_;
  uint8_t* page_ = nullptr;
};

}  // namespace hvsim::hv
