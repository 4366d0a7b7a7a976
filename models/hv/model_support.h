// The few seams every hypervisor model shares with the machine that hosts it.
//
// Models are sans-IO state machines: time comes in as an argument (VirtualTime, reference time in
// 100 ns units via reference_time_at()), deadlines go out as return values (std::optional
// VirtualTime from a poll()), guest memory is reached only through PhysicalMemory (guest-physical
// addresses; failures are values, never crashes), interrupts are requested through an
// InterruptSink, and state changes are traced through the Tracer (sim/core/trace_points.def). No
// model reads a clock, draws unseeded randomness, or includes anything from sim/cpu or Unicorn.
#pragma once

#include <cstdint>

#include "sim/core/physical_memory.h"
#include "sim/core/trace.h"
#include "sim/core/virtual_time.h"

namespace hvsim::hv {

using VpIndex = uint32_t;

// Requests delivery of a fixed interrupt vector to a virtual processor (through its local APIC).
// Only records the request; delivery happens at the machine's next quantum boundary.
class InterruptSink {
 public:
  virtual ~InterruptSink() = default;
  virtual void request_interrupt(VpIndex vp, uint8_t vector) = 0;
};

}  // namespace hvsim::hv
