// Delivery of an exception or interrupt through a 64-bit IDT, done by the host because Unicorn
// never vectors through the guest IDT (UNICORN.md §4). Pure architecture (SDM vol. 3 §6.14):
// given the interrupted state and the event, it checks the gate and target code segment, picks
// the stack (same level, TSS.RSPn on a privilege change, or IST), pushes the 64-bit frame into
// guest memory and returns the new state. If delivery itself faults it returns that fault (the
// caller escalates: fault while delivering → #DF, fault while delivering #DF → triple fault).
// Only long mode is supported: an event outside it is reported as undeliverable.
#pragma once

#include <cstdint>
#include <string>

#include "sim/cpu/x86_paging.h"

namespace hvsim::x86 {

// A segment register as the CPU caches it; flags are the descriptor's high dword bits 8..23.
struct SegmentCache {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0;
  uint32_t flags = 0;
};

struct InterruptedState {
  uint64_t rip = 0;     // the RIP to push (faulting instruction for faults, next one for traps/ints)
  uint64_t rsp = 0, rflags = 0;
  uint16_t cs = 0, ss = 0;
  unsigned cpl = 0;
  uint64_t idtr_base = 0; uint32_t idtr_limit = 0;
  uint64_t gdtr_base = 0; uint32_t gdtr_limit = 0;
  uint64_t tr_base = 0;
  PagingMode paging;
};

enum class EventKind : uint8_t { kFault, kTrap, kSoftwareInt, kExternal };

struct Event {
  uint8_t vector = 0;
  EventKind kind = EventKind::kFault;
  bool has_error = false;
  uint32_t error = 0;
};

struct DeliveryResult {
  bool delivered = false;
  // Delivered: the state to load.
  uint64_t rip = 0, rsp = 0, rflags = 0;
  SegmentCache cs;
  bool stack_switched = false;  // CPL changed: load `ss` (a null selector at the new CPL)
  SegmentCache ss;
  unsigned cpl = 0;
  // Not delivered: the fault that delivery raised, or (undeliverable) a reason only.
  bool undeliverable = false;   // not a guest fault: outside long mode, frame outside RAM
  Event fault;
  uint64_t fault_cr2 = 0;       // for a #PF raised by delivery
  std::string why;
};

DeliveryResult deliver_event(PhysicalMemory& mem, const InterruptedState& s, const Event& e);

// Reads a GDT descriptor into a segment cache; false (with `why`) if outside the GDT or an LDT selector.
bool load_descriptor(PhysicalMemory& mem, const PagingMode& paging, uint64_t gdtr_base, uint32_t gdtr_limit,
                     uint16_t selector, SegmentCache& out, std::string& why);

}  // namespace hvsim::x86
