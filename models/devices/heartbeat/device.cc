// The heartbeat IC (contract in device.h).
#include "models/devices/heartbeat/device.h"

#include <cstring>
#include <iterator>

#include "models/devices/heartbeat/protocol.h"

namespace hvsim::devices {

HeartbeatDevice::HeartbeatDevice(vmbus::DeviceDesc desc, HeartbeatParams params, uint64_t first_seq)
    : IcDevice(std::move(desc),
               ic::IcService{ic::kMsgTypeHeartbeat,
                             {std::begin(heartbeat::kMessageVersions), std::end(heartbeat::kMessageVersions)},
                             sizeof(uint64_t)}),
      params_(params),
      next_seq_(first_seq) {
  if (params_.period == VirtualTime{}) params_.period = VirtualTime::from_ps(1);  // never divide by 0
}

void HeartbeatDevice::on_negotiated(VirtualTime now) {
  next_due_ = now;
  send_heartbeat(now);
}

std::optional<VirtualTime> HeartbeatDevice::on_poll(VirtualTime now) {
  if (now >= next_due_) send_heartbeat(now);
  return next_due_;
}

void HeartbeatDevice::send_heartbeat(VirtualTime now) {
  if (pending_) {
    ++stats_.missed;
    trace(now, "heartbeat.missed", {TraceField::u64("seq", pending_->seq)});
    forget(pending_->trans_id);
    pending_.reset();
  }
  heartbeat::HeartbeatMsgData msg{};
  msg.seq_num = next_seq_;
  uint8_t body[sizeof msg];
  std::memcpy(body, &msg, sizeof msg);
  if (auto trans_id = send_request(body, now)) {
    pending_ = Pending{*trans_id, next_seq_};
    ++stats_.requests;
    trace(now, "heartbeat.request", {TraceField::u64("seq", next_seq_)});
  }
  ++next_seq_;
  // The next point of the grid after `now`.
  const uint64_t period = params_.period.ps();
  const uint64_t behind = (now.ps() - next_due_.ps()) / period;
  next_due_ = VirtualTime::from_ps(next_due_.ps() + (behind + 1) * period);
}

void HeartbeatDevice::on_reply(const ic::IcReply& reply, VirtualTime now) {
  if (!pending_ || pending_->trans_id != reply.trans_id) return;
  uint64_t got = 0;
  std::memcpy(&got, reply.body.data(), sizeof got);  // min_reply_body guarantees 8 bytes
  const uint64_t expected = pending_->seq + 1;
  pending_.reset();
  if (got == expected) {
    ++stats_.ok;
    trace(now, "heartbeat.ok", {TraceField::u64("seq", got)});
    return;
  }
  ++stats_.bad_seq;
  trace(now, "heartbeat.bad_seq", {TraceField::u64("expected", expected), TraceField::u64("got", got)});
}

}  // namespace hvsim::devices
