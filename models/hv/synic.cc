#include "models/hv/synic.h"

#include <cstring>

namespace hvsim::hv {

namespace {

constexpr size_t kFlagsOffset = offsetof(HvMessageHeader, message_flags);

bool valid_message(const HvMessage& msg) {
  return msg.header.message_type != HVMSG_NONE &&
         msg.header.payload_size <= kHvMessagePayloadSize;
}

uint8_t vector_of(uint64_t sint) { return static_cast<uint8_t>(sint & kHvSintVectorMask); }

}  // namespace

SynIc::SynIc(VpIndex vp, InterruptSink& irq, Tracer& tracer)
    : vp_(vp), irq_(irq), tracer_(tracer) {}

// ---------------------------------------------------------------------------------------------
// Registers

bool SynIc::set_scontrol(uint64_t value, VirtualTime now) {
  const bool was_enabled = state_.scontrol & kHvScontrolEnable;
  state_.scontrol = value;
  if (!was_enabled && (value & kHvScontrolEnable)) poll_pending(now);
  return true;
}

OverlayPage SynIc::set_siefp(uint64_t value) {
  const uint64_t moved = (state_.siefp ^ value) & (kHvSynicPageGpaMask | kHvSynicPageEnable);
  state_.siefp = value;
  if (moved) event_page_ = nullptr;
  return {(value & kHvSynicPageEnable) != 0, value & kHvSynicPageGpaMask};
}

OverlayPage SynIc::set_simp(uint64_t value) {
  const uint64_t moved = (state_.simp ^ value) & (kHvSynicPageGpaMask | kHvSynicPageEnable);
  state_.simp = value;
  if (moved) message_page_ = nullptr;
  return {(value & kHvSynicPageEnable) != 0, value & kHvSynicPageGpaMask};
}

void SynIc::set_eom(VirtualTime now) {
  ++state_.eoms;
  trace(TracePoint::kSynicEom, now, {TraceField::u64("queued", state_.queued)});
  poll_pending(now);
}

bool SynIc::set_sint(unsigned n, uint64_t value, VirtualTime now) {
  if (n >= kHvSintCount) return false;
  const bool masked = value & kHvSintMasked;
  if (!masked && vector_of(value) < kHvFirstValidVector) return false;
  const bool was_masked = state_.sint[n] & kHvSintMasked;
  state_.sint[n] = value;
  if (!was_masked || masked) return true;
  // DEVNOTE: the TLFS says an interrupt for a masked SINT is lost. A guest that unmasks after the
  // host already wrote its slot or flag would then wait forever, so the model raises it here.
  const uint16_t bit = static_cast<uint16_t>(1u << n);
  if (state_.lost_irq & bit) {
    state_.lost_irq &= static_cast<uint16_t>(~bit);
    raise(n);
  }
  deliver_queued(n, now);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Overlay buffers

void SynIc::attach_message_page(uint8_t* page, VirtualTime now) {
  message_page_ = (state_.simp & kHvSynicPageEnable) ? page : nullptr;
  poll_pending(now);
}

void SynIc::attach_event_page(uint8_t* page) {
  event_page_ = (state_.siefp & kHvSynicPageEnable) ? page : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Messages

bool SynIc::accepting() const {
  return (state_.scontrol & kHvScontrolEnable) && (state_.simp & kHvSynicPageEnable) &&
         message_page_ != nullptr;
}

bool SynIc::slot_free(unsigned n) const {
  uint32_t type = 0;
  std::memcpy(&type, message_page_ + n * kHvMessageSlotSize, sizeof type);
  return type == HVMSG_NONE;
}

// Sets msg_pending in the (occupied) slot; returns whether it was clear.
bool SynIc::set_slot_pending(unsigned n) {
  uint8_t& flags = message_page_[n * kHvMessageSlotSize + kFlagsOffset];
  if (flags & kHvMessageFlagPending) return false;
  flags = static_cast<uint8_t>(flags | kHvMessageFlagPending);
  return true;
}

// Copies the whole 256-byte message into the slot (QEMU does the same); msg_pending tells the
// guest whether more messages wait behind this one.
void SynIc::deliver(unsigned n, const HvMessage& msg, bool more, VirtualTime now) {
  HvMessage copy = msg;
  copy.header.message_flags = more ? kHvMessageFlagPending : 0;
  std::memcpy(message_page_ + n * kHvMessageSlotSize, &copy, sizeof copy);
  const bool irq = raise(n);
  trace(TracePoint::kSynicPost, now,
        {TraceField::u64("sint", n), TraceField::hex("type", msg.header.message_type),
         TraceField::u64("size", msg.header.payload_size), TraceField::boolean("pending", more),
         TraceField::boolean("irq", irq)});
}

// Moves the head of SINTn's queue into its slot if the slot is free.
void SynIc::deliver_queued(unsigned n, VirtualTime now) {
  auto& q = state_.queue[n];
  if (q.empty() || !accepting() || !slot_free(n)) return;
  const HvMessage msg = q.front();
  q.pop_front();
  --state_.queued;
  deliver(n, msg, !q.empty(), now);
}

void SynIc::poll_pending(VirtualTime now) {
  if (state_.queued == 0) return;
  for (unsigned n = 0; n < kHvSintCount; ++n) deliver_queued(n, now);
}

// Requests SINTn's vector unless masked (remembered for unmask) or polling.
bool SynIc::raise(unsigned n) {
  const uint64_t s = state_.sint[n];
  if (s & kHvSintMasked) {
    state_.lost_irq = static_cast<uint16_t>(state_.lost_irq | (1u << n));
    return false;
  }
  if (s & kHvSintPolling) return false;
  irq_.request_interrupt(vp_, vector_of(s));
  return true;
}

void SynIc::note_busy(unsigned n, const HvMessage& msg, const char* result, VirtualTime now) {
  trace(TracePoint::kSynicBusy, now,
        {TraceField::u64("sint", n), TraceField::hex("type", msg.header.message_type),
         TraceField::str_("result", result), TraceField::u64("queued", state_.queue[n].size())});
}

PostResult SynIc::post_message(unsigned sint, const HvMessage& msg, VirtualTime now) {
  if (sint >= kHvSintCount || !valid_message(msg) || !accepting()) return PostResult::kRejected;
  deliver_queued(sint, now);  // TLFS: queueing another message rescans; older ones go first
  auto& q = state_.queue[sint];
  if (q.empty() && slot_free(sint)) {
    deliver(sint, msg, false, now);
    return PostResult::kDelivered;
  }
  set_slot_pending(sint);
  if (q.size() >= kMessageQueueDepth) {
    note_busy(sint, msg, "full", now);
    return PostResult::kQueueFull;
  }
  q.push_back(msg);
  ++state_.queued;
  note_busy(sint, msg, "queued", now);
  return PostResult::kQueued;
}

PostResult SynIc::try_post_message(unsigned sint, const HvMessage& msg, VirtualTime now) {
  if (sint >= kHvSintCount || !valid_message(msg) || !accepting()) return PostResult::kRejected;
  deliver_queued(sint, now);
  if (state_.queue[sint].empty() && slot_free(sint)) {
    deliver(sint, msg, false, now);
    return PostResult::kDelivered;
  }
  // Traced only when msg_pending goes from 0 to 1, so a sender retrying on every poll does not
  // flood the trace.
  if (set_slot_pending(sint)) note_busy(sint, msg, "retry", now);
  return PostResult::kBusy;
}

// ---------------------------------------------------------------------------------------------
// Events

bool SynIc::signal_event(unsigned sint, uint32_t flag, VirtualTime now) {
  if (sint >= kHvSintCount || flag >= kHvEventFlagsPerSint) return false;
  if (!(state_.scontrol & kHvScontrolEnable) || event_page_ == nullptr) return false;
  uint8_t& byte = event_page_[sint * kHvEventFlagsBytesPerSint + flag / 8];
  const auto mask = static_cast<uint8_t>(1u << (flag % 8));
  if (byte & mask) return false;  // coalesced: already pending, no new interrupt
  byte = static_cast<uint8_t>(byte | mask);
  const bool irq = raise(sint);
  trace(TracePoint::kSynicEvent, now,
        {TraceField::u64("sint", sint), TraceField::u64("flag", flag),
         TraceField::boolean("irq", irq)});
  return true;
}

// ---------------------------------------------------------------------------------------------
// APIC helpers, reset, trace

bool SynIc::auto_eoi(unsigned sint) const {
  return sint < kHvSintCount && (state_.sint[sint] & kHvSintAutoEoi);
}

std::optional<unsigned> SynIc::sint_for_vector(uint8_t vector) const {
  for (unsigned n = 0; n < kHvSintCount; ++n) {
    const uint64_t s = state_.sint[n];
    if (!(s & (kHvSintMasked | kHvSintPolling)) && vector_of(s) == vector) return n;
  }
  return std::nullopt;
}

bool SynIc::rewrite_slot(unsigned sint, uint32_t type, std::span<const uint8_t> expected, size_t offset,
                         std::span<const uint8_t> bytes) {
  if (sint >= kHvSintCount || !message_page_ || expected.size() > kHvMessagePayloadSize) return false;
  if (offset > expected.size() || bytes.size() > expected.size() - offset) return false;
  auto* slot = reinterpret_cast<HvMessage*>(message_page_ + sint * kHvMessageSlotSize);
  HvMessageHeader h;
  std::memcpy(&h, &slot->header, sizeof h);
  if (h.message_type != type || h.payload_size != expected.size() ||
      std::memcmp(slot->payload, expected.data(), expected.size()) != 0)
    return false;
  std::memcpy(slot->payload + offset, bytes.data(), bytes.size());
  return true;
}

void SynIc::reset() {
  state_ = State{};
  message_page_ = nullptr;
  event_page_ = nullptr;
}

void SynIc::trace(TracePoint p, VirtualTime now, std::initializer_list<TraceField> fields) {
  tracer_.emit(p, now, static_cast<int>(vp_), fields);
}

}  // namespace hvsim::hv
