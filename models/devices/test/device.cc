// The scriptable test device (contract in device.h).
#include "models/devices/test/device.h"

#include <algorithm>

#include "models/devices/test/protocol.h"

namespace hvsim::devices {

TestDevice::TestDevice(vmbus::DeviceDesc desc, TestParams params) : desc_(std::move(desc)), params_(params) {}

void TestDevice::opened(vmbus::ChannelIo& io, VirtualTime now) {
  io_ = &io;
  stalled_ = false;
  flush(now);
}

void TestDevice::closed(VirtualTime /*now*/) {
  io_ = nullptr;
  std::erase_if(queue_, [](const Outgoing& o) { return o.echo; });
}

void TestDevice::packet(const vmbus::RingPacket& p, VirtualTime now) {
  if (!io_) return;
  if (p.desc.type != vmbus::kPktDataInband) {
    io_->trace(now, "test.ignored", {TraceField::u64("type", p.desc.type), TraceField::u64("trans_id", p.desc.trans_id)});
    return;
  }
  const auto payload = p.payload();
  const bool completion = (p.desc.flags & vmbus::kPacketFlagCompletionRequested) != 0;
  enqueue(Outgoing{completion ? test::kCompletionType : test::kEchoType, p.desc.trans_id,
                   std::vector<uint8_t>(payload.begin(), payload.end()), true},
          now);
}

void TestDevice::sub_channel_packet(vmbus::ChannelIo& io, const vmbus::RingPacket& p, VirtualTime now) {
  if (p.desc.type != vmbus::kPktDataInband) {
    io.trace(now, "test.ignored", {TraceField::u64("type", p.desc.type), TraceField::u64("trans_id", p.desc.trans_id)});
    return;
  }
  const bool completion = (p.desc.flags & vmbus::kPacketFlagCompletionRequested) != 0;
  if (io.send(completion ? test::kCompletionType : test::kEchoType, test::kSendFlags, p.desc.trans_id, p.payload()))
    ++echoed_;
  else
    io.trace(now, "test.sub_ring_full", {TraceField::u64("trans_id", p.desc.trans_id)});
}

bool TestDevice::push(std::vector<uint8_t> payload, VirtualTime now) {
  return enqueue(Outgoing{test::kEchoType, test::kUnsolicitedTransId, std::move(payload), false}, now);
}

bool TestDevice::enqueue(Outgoing out, VirtualTime now) {
  if (queue_.size() >= params_.queue) {
    if (io_)
      io_->trace(now, "test.queue_full", {TraceField::u64("trans_id", out.trans_id), TraceField::u64("queued", queue_.size())});
    return false;
  }
  queue_.push_back(std::move(out));
  flush(now);
  return true;
}

void TestDevice::flush(VirtualTime now) {
  if (!io_) return;
  while (!queue_.empty()) {
    const Outgoing& out = queue_.front();
    if (!io_->send(out.type, test::kSendFlags, out.trans_id, out.payload)) {
      if (!stalled_) io_->trace(now, "test.ring_full", {TraceField::u64("queued", queue_.size())});
      stalled_ = true;
      return;
    }
    stalled_ = false;
    ++(out.echo ? echoed_ : pushed_);
    queue_.pop_front();
  }
}

}  // namespace hvsim::devices
