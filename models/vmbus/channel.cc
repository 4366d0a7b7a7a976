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
                 VmbusPlatform& platform, Tracer& tracer, const VirtualTime& host_now)
    : relid_(relid),
      sub_index_(sub_index),
      device_(device),
      device_touched_(device_touched),
      any_touched_(any_touched),
      platform_(platform),
      tracer_(tracer),
      now_(host_now) {}

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
  open_.reset();
  touch();
  if (sub_index_ == 0) device_.closed(now);
  else device_.sub_channel_closed(*this, now);
}

bool Channel::send(uint16_t type, uint16_t flags, uint64_t trans_id, std::span<const uint8_t> payload) {
  if (!open_ || open_->broken) return false;
  bool signal = false;
  std::string why;
  switch (open_->in.write_packet(type, flags, trans_id, payload, signal, why)) {
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
  ++signals_out;
  tracer_.emit(TracePoint::kVmbusSignal, now, static_cast<int>(vp),
               {TraceField::str_("dir", "host->guest"), TraceField::u64("relid", relid_),
                TraceField::boolean("old_target", vp != open_->target_vp)});
  platform_.signal_event(vp, kVmbusSint, relid_, now);
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

void Channel::broken(VirtualTime now, std::string_view ring, const std::string& why) {
  open_->broken = true;
  tracer_.emit(TracePoint::kVmbusProtocol, now, kNoVp,
               {TraceField::u64("relid", relid_), TraceField::str_("ring", ring),
                TraceField::str_("error", why), TraceField::str_("action", "channel ring abandoned")});
}

}  // namespace hvsim::vmbus
