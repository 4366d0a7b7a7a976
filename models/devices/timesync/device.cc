// The timesync IC (contract in device.h).
#include "models/devices/timesync/device.h"

#include <cstring>
#include <iterator>
#include <vector>

#include "models/devices/timesync/protocol.h"

namespace hvsim::devices {

TimesyncDevice::TimesyncDevice(vmbus::DeviceDesc desc, TimesyncParams params)
    : IcDevice(std::move(desc), ic::IcService{ic::kMsgTypeTimesync,
                                              {std::begin(timesync::kMessageVersions),
                                               std::end(timesync::kMessageVersions)},
                                              0}),
      params_(params) {
  if (params_.period == VirtualTime{}) params_.period = VirtualTime::from_ps(1);  // never divide by 0
}

void TimesyncDevice::on_negotiated(VirtualTime now) {
  send_time(timesync::kFlagSync, now);
  next_due_ = now + params_.period;
}

std::optional<VirtualTime> TimesyncDevice::on_poll(VirtualTime now) {
  if (now < next_due_) return next_due_;
  send_time(timesync::kFlagSample, now);
  ++samples_sent_;
  // The next point of the grid after `now`.
  const uint64_t period = params_.period.ps();
  const uint64_t behind = (now.ps() - next_due_.ps()) / period;
  next_due_ = VirtualTime::from_ps(next_due_.ps() + (behind + 1) * period);
  return next_due_;
}

void TimesyncDevice::send_time(uint8_t flags, VirtualTime now) {
  const uint64_t parenttime = params_.epoch + reference_time_at(now);
  const char* kind = flags == timesync::kFlagSync ? "sync" : "sample";
  if (message_version().major >= timesync::kRefDataMajor) {
    timesync::IctimesyncRefData msg{};
    msg.parenttime = parenttime;
    msg.vmreferencetime = reference_time(now);
    msg.flags = flags;
    std::vector<uint8_t> body(sizeof msg);
    std::memcpy(body.data(), &msg, sizeof msg);
    send_request(body, now);
    trace(now, "timesync.sent",
          {TraceField::str_("kind", kind), TraceField::str_("layout", "ref"), TraceField::u64("parenttime", parenttime),
           TraceField::u64("vmreferencetime", msg.vmreferencetime)});
    return;
  }
  timesync::IctimesyncData msg{};
  msg.parenttime = parenttime;
  msg.flags = flags;
  std::vector<uint8_t> body(sizeof msg);
  std::memcpy(body.data(), &msg, sizeof msg);
  send_request(body, now);
  trace(now, "timesync.sent",
        {TraceField::str_("kind", kind), TraceField::str_("layout", "legacy"), TraceField::u64("parenttime", parenttime)});
}

void TimesyncDevice::on_reply(const ic::IcReply& reply, VirtualTime now) {
  trace(now, "timesync.reply", {TraceField::hex("status", reply.status)});
}

}  // namespace hvsim::devices
