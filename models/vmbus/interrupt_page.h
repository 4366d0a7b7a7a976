// The legacy shared interrupt page (PROTOCOL.md §5.9), the channel-signalling mechanism below
// VMBus 2.4: the guest names one page of its RAM in INITIATE_CONTACT.interrupt_page. Bytes
// 0..2047 are the host->guest bitmap and bytes 2048..4095 the guest->host bitmap, both indexed by
// child_relid (bit n of the little-endian bitmap is relid n).
//
// Host->guest: raise() sets the channel's bit in the first half; the caller then sets SIEF SINT2
// flag 0 and raises SINT2 (the guest scans the page when it finds flag 0). Guest->host: the guest
// sets its channel's bit in the second half and calls HvCallSignalEvent on connection id 2;
// take_guest_signals() reads and clears that half and returns the relids found. The page is a
// value (guest memory and a GPA); every guest-memory failure is a return value.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/core/physical_memory.h"

namespace hvsim::vmbus {

class InterruptPage {
 public:
  static constexpr uint64_t kHalfBytes = 2048;

  InterruptPage(PhysicalMemory& mem, uint64_t gpa);

  // The GPA is a page-aligned, non-zero page of RAM (checked at construction).
  bool usable() const { return usable_; }

  // Sets bit `relid` of the host->guest half; false if the page is not usable or relid is outside
  // the bitmap.
  bool raise(uint32_t relid);

  // Clears every set bit of the guest->host half. `relids`: the bits 1..kMaxRelid that were set,
  // ascending; `stray`: how many other bits were set (relid 0 or beyond kMaxRelid).
  struct GuestSignals {
    std::vector<uint32_t> relids;
    uint64_t stray = 0;
  };
  GuestSignals take_guest_signals();

 private:
  PhysicalMemory* mem_;
  uint64_t gpa_;
  bool usable_;
};

}  // namespace hvsim::vmbus
