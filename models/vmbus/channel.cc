// Channel (channel.h): open/close, host->guest writes and signals, guest signals and drains,
// retargeting, and the fault-injection hooks of one channel.
#include "models/vmbus/channel.h"

namespace hvsim::vmbus {

const char* channel_state_name(ChannelState s) {
  switch (s) {
    case ChannelState::kOffered: return "offered";
    case ChannelState::kOpen: return "open";
    case ChannelState::kRescinded: return "rescinded";
  }
  return "?";
}

Channel::Channel(uint32_t relid, uint16_t sub_index, VmbusDevice& device, bool& device_touched, bool& any_touched,
                 VmbusPlatform& platform, Tracer& tracer, const VirtualTime& host_now, FaultPoints& faults)
    : relid_(relid),
      sub_index_(sub_index),
      device_(device),
      device_touched_(device_touched),
      any_touched_(any_touched),
      platform_(platform),
      tracer_(tracer),
      now_(host_now),
      faults_(faults) {}

void Channel::trace(VirtualTime now, std::string_view event, std::initializer_list<TraceField> fields) {
  // The record carries the device, the channel and the event, then the device's own fields.
  std::vector<TraceField> all;
  all.reserve(fields.size() + 3);
  all.push_back(TraceField::str_("device", device_.desc().name));
  all.push_back(TraceField::u64("relid", relid_));
  all.push_back(TraceField::str_("event", event));
  all.insert(all.end(), fields.begin(), fields.end());
  tracer_.emit(TracePoint::kVmbusDevice, now, kNoVp, all);
}

void Channel::open(OpenState&& s, VirtualTime now) {
  open_.emplace(std::move(s));
  open_->in.attach_as_producer();
  state = ChannelState::kOpen;
  touch();
  if (sub_index_ == 0) device_.opened(*this, now);
  else device_.sub_channel_opened(*this, now);
}

void Channel::close(VirtualTime now) {
  if (!open_) return;
  if (open_->rewrite) trace(now, "rewrite_packet", {TraceField::boolean("injected", true), TraceField::str_("result", "dropped")});
  open_.reset();
  touch();
  if (sub_index_ == 0) device_.closed(now);
  else device_.sub_channel_closed(*this, now);
}

bool Channel::send(uint16_t type, uint16_t flags, uint64_t trans_id, std::span<const uint8_t> payload) {
  if (!open_ || open_->broken) return false;
  if (open_->rewrite) check_rewrite(now_);  // the rewrite happens before the ring space is reused
  bool signal = false;
  std::string why;
  HostRing::WriteStatus status = open_->in.write_packet(type, flags, trans_id, payload, signal, why);
  return finish_write(status, signal, why);
}

bool Channel::send_raw(std::span<const uint8_t> packet) {
  if (!open_ || open_->broken) return false;
  if (open_->rewrite) check_rewrite(now_);
  bool signal = false;
  std::string why;
  HostRing::WriteStatus status = open_->in.write_raw(packet, signal, why);
  return finish_write(status, signal, why);
}

bool Channel::finish_write(HostRing::WriteStatus status, bool signal, const std::string& why) {
  switch (status) {
    case HostRing::WriteStatus::kWritten:
      ++packets_out;
      if (signal) signal_guest(now_);
      return true;
    case HostRing::WriteStatus::kFull:
      open_->space_wait = true;
      return false;
    case HostRing::WriteStatus::kViolation:
      broken(now_, "host->guest", why);
      return false;
  }
  return false;
}

VpIndex Channel::interrupt_vp(VirtualTime now) const {
  if (open_->old_vp && now < open_->lag_until) return *open_->old_vp;
  return open_->target_vp;
}

void Channel::signal_guest(VirtualTime now) {
  VpIndex vp = interrupt_vp(now);
  if (faults_.fires(FaultPoint::kDropSignal)) {
    tracer_.emit(TracePoint::kVmbusSignal, now, static_cast<int>(vp),
                 {TraceField::str_("dir", "host->guest"), TraceField::u64("relid", relid_),
                  TraceField::str_("fault", fault_point_name(FaultPoint::kDropSignal))});
    return;
  }
  ++signals_out;
  // Below 2.4 (§5.9) the channel's bit goes into the shared page and the guest finds it through
  // flag 0; with 6.0 guest-specified signal parameters the flag is the guest's choice. Either way
  // the record says so in a last field.
  uint16_t flag = legacy_page_ ? 0 : open_->event_flag.value_or(static_cast<uint16_t>(relid_));
  TraceField fields[] = {TraceField::str_("dir", "host->guest"), TraceField::u64("relid", relid_),
                         TraceField::boolean("old_target", vp != open_->target_vp),
                         TraceField::str_("via", "interrupt_page")};
  if (open_->event_flag) fields[3] = TraceField::u64("event_flag", flag);
  tracer_.emit(TracePoint::kVmbusSignal, now, static_cast<int>(vp),
               std::span<const TraceField>(fields, legacy_page_ || open_->event_flag ? 4 : 3));
  if (legacy_page_) legacy_page_->raise(relid_);
  platform_.signal_event(vp, kVmbusSint, flag, now);
}

bool Channel::guest_signal(VirtualTime now, VirtualTime latency) {
  ++signals_in;
  if (!open_ || open_->broken) return false;
  bool necessary = false;
  // A signal is necessary when the guest->host ring holds data the host did not know of (no
  // drain already due), or when it ends the host's wait for space on the host->guest ring.
  if (!open_->drain_due && open_->out.bytes_to_read() > 0) {
    necessary = true;
    open_->out.set_interrupt_mask(true);  // the host is now draining: the guest need not signal
    open_->drain_due = now + latency;
    if (faults_.fires(FaultPoint::kDelayDrain)) {
      VirtualTime extra = VirtualTime::from_ps(latency.ps() * faults_.draw(FaultPoint::kDelayDrain, 1, 100));
      *open_->drain_due += extra;
      tracer_.emit(TracePoint::kVmbusSignal, now, kNoVp,
                   {TraceField::str_("dir", "guest->host"), TraceField::u64("relid", relid_),
                    TraceField::str_("fault", fault_point_name(FaultPoint::kDelayDrain)),
                    TraceField::u64("extra_ns", extra.ns())});
    }
  }
  if (open_->space_wait && open_->in.space_became_available()) {
    necessary = true;
    open_->space_wait = false;
    touch();
    if (sub_index_ == 0) device_.space_available(now);
  }
  return necessary;
}

void Channel::drain(VirtualTime now) {
  if (!open_ || !open_->drain_due || *open_->drain_due > now) return;
  open_->drain_due.reset();
  // Bounded: a ring holds at most data_size / 16 packets; the re-check loop runs at most twice.
  for (int pass = 0; pass < 2 && open_ && !open_->broken; ++pass) {
    open_->out.set_interrupt_mask(true);
    RingPacket p;
    std::string why;
    for (;;) {
      HostRing::ReadStatus r = open_->out.read_packet(p, why);
      if (r == HostRing::ReadStatus::kEmpty) break;
      if (r == HostRing::ReadStatus::kViolation) {
        broken(now, "guest->host", why);
        return;
      }
      ++packets_in;
      touch();
      if (sub_index_ == 0) device_.packet(p, now);
      else device_.sub_channel_packet(*this, p, now);
      if (!open_ || open_->broken) return;  // the device closed or broke the channel
    }
    if (open_->out.commit_read()) signal_guest(now);
    open_->out.set_interrupt_mask(false);
    if (open_->out.bytes_to_read() == 0) return;
  }
  if (open_ && !open_->broken && open_->out.bytes_to_read() > 0) open_->drain_due = now;  // keep going next poll
}

void Channel::drain_all(VirtualTime now) {
  if (!open_ || open_->broken || open_->out.bytes_to_read() == 0) return;
  open_->drain_due = now;
  drain(now);
}

void Channel::retarget(VpIndex vp, VirtualTime now, VirtualTime lag) {
  if (!open_) return;
  if (lag.ps() > 0 && vp != open_->target_vp) {
    open_->old_vp = open_->target_vp;
    open_->lag_until = now + lag;
  } else {
    open_->old_vp.reset();
  }
  open_->target_vp = vp;
}

std::optional<VirtualTime> Channel::next_deadline() const {
  if (!open_ || open_->broken) return std::nullopt;
  return open_->drain_due;
}

bool Channel::arm_rewrite(uint32_t offset, std::vector<uint8_t> bytes, VirtualTime now) {
  if (!open_ || open_->broken || bytes.empty()) return false;
  HostRing::Written last = open_->in.last_written();
  if (last.size == 0 || offset > last.size || bytes.size() > last.size - offset) return false;
  open_->rewrite = Rewrite{last.offset, last.size, offset, std::move(bytes)};
  trace(now, "rewrite_packet", {TraceField::boolean("injected", true), TraceField::str_("result", "armed"),
                                TraceField::u64("start", last.offset), TraceField::u64("offset", offset),
                                TraceField::u64("size", open_->rewrite->bytes.size())});
  return true;
}

bool Channel::check_rewrite(VirtualTime now) {
  if (!open_ || !open_->rewrite) return false;
  if (open_->broken) {
    open_->rewrite.reset();
    return false;
  }
  HostRing::Indices x;
  const uint32_t size = open_->in.data_size();
  if (!open_->in.indices(x) || x.read_index >= size) return true;  // a bad index is caught by the next write
  // Passed: fewer bytes lie between read_index and the host's write position than between the
  // packet's start and it (the packet's bytes cannot have been reused: they were unread).
  HostRing::Written last = open_->in.last_written();
  const uint32_t write = static_cast<uint32_t>((uint64_t{last.offset} + last.size) % size);
  auto distance = [size](uint32_t from, uint32_t to) { return to >= from ? to - from : size - from + to; };
  if (distance(x.read_index, write) >= distance(open_->rewrite->start, write)) return true;
  Rewrite r = std::move(*open_->rewrite);
  open_->rewrite.reset();
  const auto at = static_cast<uint32_t>((uint64_t{r.start} + r.offset) % size);
  bool ok = open_->in.overwrite(at, r.bytes);
  trace(now, "rewrite_packet", {TraceField::boolean("injected", true), TraceField::str_("result", ok ? "rewritten" : "failed"),
                                TraceField::u64("start", r.start), TraceField::u64("offset", r.offset),
                                TraceField::u64("size", r.bytes.size()), TraceField::u64("read_index", x.read_index)});
  return false;
}

void Channel::broken(VirtualTime now, std::string_view ring, const std::string& why) {
  open_->broken = true;
  tracer_.emit(TracePoint::kVmbusProtocol, now, kNoVp,
               {TraceField::u64("relid", relid_), TraceField::str_("ring", ring),
                TraceField::str_("error", why), TraceField::str_("action", "channel ring abandoned")});
}

}  // namespace hvsim::vmbus
