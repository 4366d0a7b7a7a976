// What the VMBus host needs from the machine that hosts it: SynIC message delivery, SIEF event
// flags, partition reference time, suspending a VP (interrupt throttling), and one fault-injection
// hook (rewrite_message). Implemented by the machine over the Hyper-V model; tests use a
// recording fake.
#pragma once

#include <cstdint>
#include <span>

#include "sim/core/virtual_time.h"

namespace hvsim::vmbus {

using VpIndex = uint32_t;

enum class MessageDelivery : uint8_t {
  kAccepted,  // in the slot, or queued by the SynIC behind a busy slot
  kBusy,      // the SINT's queue is full: the host keeps the message and retries later
  kRejected,  // no such VP, SynIC or message page disabled: the message cannot be delivered
};

class VmbusPlatform {
 public:
  virtual ~VmbusPlatform() = default;
  // Posts `msg` (<= 240 bytes) as a message of type 1 into SINT `sint` of `vp`.
  virtual MessageDelivery post_message(VpIndex vp, unsigned sint, std::span<const uint8_t> msg, VirtualTime now) = 0;
  // Sets event flag `flag` of SINT `sint` on `vp` (raising the SINT if the flag was clear).
  virtual void signal_event(VpIndex vp, unsigned sint, uint32_t flag, VirtualTime now) = 0;
  // TIME_REF_COUNT at `now` (100 ns units).
  virtual uint64_t reference_time(VirtualTime now) = 0;
  // Interrupt throttling: `vp` runs no instructions until `until`.
  virtual void suspend_vp(VpIndex vp, VirtualTime until) = 0;
  virtual uint32_t vp_count() const = 0;
  // Fault injection, the control-message TOCTOU (VmbusHost::rewrite_last_message): if SINT
  // `sint`'s message slot on `vp` still holds a VMBus message whose payload is `expected` (the
  // guest has not freed the slot yet), overwrite payload bytes [offset, offset + bytes.size())
  // in the guest's SIM page and return true; otherwise change nothing and return false. The
  // default is a platform without the hook: always false.
  virtual bool rewrite_message(VpIndex /*vp*/, unsigned /*sint*/, std::span<const uint8_t> /*expected*/,
                               size_t /*offset*/, std::span<const uint8_t> /*bytes*/, VirtualTime /*now*/) {
    return false;
  }
};

}  // namespace hvsim::vmbus
