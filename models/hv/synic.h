// The synthetic interrupt controller (SynIC) of one virtual processor.
//
// Models SCONTROL, SVERSION, SIEFP, SIMP, EOM and SINT0-15 and host-side message and event-flag
// delivery (PROTOCOL.md §2.1, §2.6, §4; TLFS inter-partition-communication.md). The SIM and SIEF
// pages are overlays the machine owns and maps: the model is handed each page's 4096-byte host
// buffer (attach_*) and reads and writes it directly. A message whose slot is busy waits in a
// per-SINT FIFO of kMessageQueueDepth entries and is retried (§4.4 step 3) on EOM, on an APIC EOI
// of a SINT vector (poll_pending), on the next post to that SINT, on unmask and on page attach.
// Interrupts go out only through InterruptSink. The machine zeroes the page buffers at VP creation
// and reset (it owns them). Omits: VSM (AsIntercept, proxy SINTs), nested SynIC MSRs, SIRBP.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>

#include "models/hv/hvdef_synic.h"
#include "models/hv/model_support.h"

namespace hvsim::hv {

enum class PostResult : uint8_t {
  kDelivered,  // copied into the free slot; SINT interrupt requested unless masked or polling
  kQueued,     // slot busy: kept in the SINT's FIFO, msg_pending set in the slot
  kBusy,       // try_post_message only: slot busy, msg_pending set, nothing kept (caller retries)
  kQueueFull,  // slot busy and kMessageQueueDepth messages wait: not accepted
               // (the caller answers HV_STATUS_INSUFFICIENT_BUFFERS, like the TLFS port pool)
  kRejected,   // SynIC disabled, SIM page disabled or not attached, bad SINT, type NONE or
               // payload > 240: not accepted (HV_STATUS_INVALID_SYNIC_STATE; TLFS: a VP whose
               // SynIC or SIM page is disabled is not a target and the sender gets an error)
};

// What the machine must map after a SIMP/SIEFP write: the page at `gpa` if `enabled`.
struct OverlayPage {
  bool enabled = false;
  uint64_t gpa = 0;
};

class SynIc {
 public:
  // TLFS: each port owns 16 guest message buffers; QEMU's VMBus bridge queues 16 too.
  static constexpr size_t kMessageQueueDepth = 16;

  SynIc(VpIndex vp, InterruptSink& irq, Tracer& tracer);
  SynIc(const SynIc&) = delete;
  SynIc& operator=(const SynIc&) = delete;

  // --- Registers. Reads are pure; a write returning false means #GP and changes nothing. ---
  // SCONTROL (reset 0, TLFS: disabled until the guest sets b0). Bits 63:1 RsvdP: never #GP.
  // Enabling retries every queued message.
  uint64_t scontrol() const { return state_.scontrol; }
  bool set_scontrol(uint64_t value, VirtualTime now);
  // SVERSION: read-only (the decoder answers #GP to writes).
  uint64_t sversion() const { return kHvSynicVersion; }
  // SIEFP / SIMP (reset 0). Never #GP (11:1 RsvdP; a GPA outside RAM leaves the page
  // inaccessible, TLFS). Any change of enable or GPA detaches the current buffer; the machine
  // maps the returned page and calls attach_*() with its buffer (nullptr if outside RAM).
  uint64_t siefp() const { return state_.siefp; }
  OverlayPage set_siefp(uint64_t value);
  uint64_t simp() const { return state_.simp; }
  OverlayPage set_simp(uint64_t value);
  // EOM: write-only trigger (any value); reads return 0. Retries every queued message.
  uint64_t eom() const { return 0; }
  void set_eom(VirtualTime now);
  // How many times the guest has written EOM: a sender waiting on a busy slot (a timer) retries
  // only after the guest has signalled, as TLFS §4.4 says the hypervisor learns of a free slot.
  uint64_t eom_count() const { return state_.eoms; }
  // SINTn (reset 0x10000 = masked). #GP: n >= 16, or unmasked with a vector below 16 (TLFS: valid
  // vectors are 16-255; a masked write of vector 0 is allowed, as KVM does). Unmasking a SINT
  // requests its interrupt if work arrived while it was masked, then retries its queue.
  uint64_t sint(unsigned n) const { return n < kHvSintCount ? state_.sint[n] : 0; }
  bool set_sint(unsigned n, uint64_t value, VirtualTime now);

  // --- Overlay buffers (4096 bytes, owned by the machine; nullptr = not accessible). ---
  // Ignored while the register is disabled. Attaching the message page retries the queues.
  void attach_message_page(uint8_t* page, VirtualTime now);
  void attach_event_page(uint8_t* page);

  // --- Host side. ---
  // Posts a message to slot `sint`: delivered if the slot is free and nothing waits ahead of it,
  // otherwise queued (FIFO) with msg_pending set in the occupied slot. A message copied into the
  // slot of a masked SINT raises no interrupt now (TLFS: lost); this model raises it on unmask.
  PostResult post_message(unsigned sint, const HvMessage& msg, VirtualTime now);
  // Like post_message for a sender with a dedicated buffer (synthetic timers): never queues; if
  // the slot is busy it sets msg_pending and returns kBusy, and the sender retries later.
  PostResult try_post_message(unsigned sint, const HvMessage& msg, VirtualTime now);
  // Retries delivery of every queued message (the machine calls it on an APIC EOI of a SINT
  // vector; set_eom calls it). Updates only slots that are free; requests their interrupts.
  void poll_pending(VirtualTime now);
  // Sets event flag `flag` of `sint` in the SIEF page. Returns true if it was newly set; only then
  // is the SINT interrupt requested (unless masked: raised on unmask; or polling). Returns false
  // without effect for an already-set flag, a bad SINT or flag (>= 2048), a disabled SynIC or an
  // absent SIEF page. (HvCallSignalEvent's caller answers HV_STATUS_INVALID_SYNIC_STATE itself for
  // a masked SINT or a disabled SynIC/SIEF page, from sint()/scontrol()/siefp().)
  bool signal_event(unsigned sint, uint32_t flag, VirtualTime now);

  // Fault injection (a hostile host's double-fetch race): if slot `sint` still holds a message of
  // `type` whose payload equals `expected`, overwrite payload bytes [offset, offset + len) in the
  // SIM page and return true; otherwise change nothing and return false.
  bool rewrite_slot(unsigned sint, uint32_t type, std::span<const uint8_t> expected, size_t offset,
                    std::span<const uint8_t> bytes);

  // --- For the local APIC. ---
  bool auto_eoi(unsigned sint) const;
  // The lowest unmasked, non-polling SINT programmed with `vector`.
  std::optional<unsigned> sint_for_vector(uint8_t vector) const;

  // Messages waiting in a SINT's queue (inspection).
  size_t queued(unsigned sint) const { return sint < kHvSintCount ? state_.queue[sint].size() : 0; }
  size_t queued_total() const { return state_.queued; }
  // Power-on state: registers at reset values, queues empty, both buffers detached.
  void reset();

 private:
  static constexpr std::array<uint64_t, kHvSintCount> masked_sints() {
    std::array<uint64_t, kHvSintCount> a{};
    for (auto& s : a) s = kHvSintReset;
    return a;
  }
  struct State {
    uint64_t scontrol = 0;
    uint64_t siefp = 0;
    uint64_t simp = 0;
    std::array<uint64_t, kHvSintCount> sint = masked_sints();
    std::array<std::deque<HvMessage>, kHvSintCount> queue;
    uint16_t lost_irq = 0;  // SINTs whose interrupt was suppressed by the mask
    uint64_t eoms = 0;      // EOM writes so far
    size_t queued = 0;      // messages in all queues (poll_pending has nothing to do at 0)
  };

  bool accepting() const;
  bool slot_free(unsigned n) const;
  bool set_slot_pending(unsigned n);
  void deliver(unsigned n, const HvMessage& msg, bool more, VirtualTime now);
  void deliver_queued(unsigned n, VirtualTime now);
  bool raise(unsigned n);
  void note_busy(unsigned n, const HvMessage& msg, const char* result, VirtualTime now);
  void trace(TracePoint p, VirtualTime now, std::initializer_list<TraceField> fields);

  VpIndex vp_;
  InterruptSink& irq_;
  Tracer& tracer_;
  State state_;
  uint8_t* message_page_ = nullptr;
  uint8_t* event_page_ = nullptr;
};

}  // namespace hvsim::hv
