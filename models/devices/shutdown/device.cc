// The shutdown IC (contract in device.h).
#include "models/devices/shutdown/device.h"

#include <cstring>
#include <iterator>
#include <vector>

#include "models/devices/shutdown/protocol.h"

namespace hvsim::devices {

ShutdownDevice::ShutdownDevice(vmbus::DeviceDesc desc, ShutdownParams params)
    : IcDevice(std::move(desc), ic::IcService{ic::kMsgTypeShutdown,
                                              {std::begin(shutdown::kMessageVersions),
                                               std::end(shutdown::kMessageVersions)},
                                              0}) {
  if (params.at) scheduled_ = Scheduled{*params.at, params.flags};
}

void ShutdownDevice::request_shutdown(VirtualTime at, uint32_t flags) { scheduled_ = Scheduled{at, flags}; }

std::optional<VirtualTime> ShutdownDevice::on_poll(VirtualTime now) {
  send_if_due(now);
  if (!scheduled_) return std::nullopt;
  return scheduled_->at;
}

void ShutdownDevice::send_if_due(VirtualTime now) {
  if (!scheduled_ || now < scheduled_->at) return;
  shutdown::ShutdownMsgData msg{};
  msg.flags = scheduled_->flags;
  std::vector<uint8_t> body(sizeof msg);
  std::memcpy(body.data(), &msg, sizeof msg);
  const auto trans_id = send_request(body, now);
  if (!trans_id) return;
  trace(now, "shutdown.request", {TraceField::hex("flags", msg.flags), TraceField::u64("trans_id", *trans_id)});
  scheduled_.reset();
}

void ShutdownDevice::on_reply(const ic::IcReply& reply, VirtualTime now) {
  last_reply_status_ = reply.status;
  trace(now, "shutdown.reply",
        {TraceField::hex("status", reply.status), TraceField::boolean("ok", reply.status == ic::kStatusOk)});
}

}  // namespace hvsim::devices
