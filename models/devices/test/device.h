// The scriptable `test` device: an echo server plus host-pushed packets, for driver tests and
// benchmarks of the ring path (class GUID kTestClass).
//
// Echo: every VM_PKT_DATA_INBAND packet the guest sends is sent back with the same trans_id and
// payload, as VM_PKT_DATA_INBAND, or as VM_PKT_COMP when the guest set COMPLETION_REQUESTED.
// Other packet types are traced "test.ignored" {type} and dropped. push() queues an unsolicited
// VM_PKT_DATA_INBAND packet (trans_id 0), sent as soon as the channel is open and the ring has
// room. Packets go out in FIFO order through one queue: when the ring is full ("test.ring_full",
// once per stall) they wait for space_available(); nothing is dropped except on overflow of the
// bounded queue (`queue` entries): the new packet is then traced "test.queue_full" and dropped.
// On closed() queued echoes are dropped (their channel is gone); pushed packets are kept for the
// next open. poll() has no timed work.
// Sub-channels (`subchannels` = n, offered once the primary is open): each echoes like the
// primary, directly on its own ring; an echo that finds that ring full is traced
// "test.sub_ring_full" and dropped (sub-channels have no queue).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "models/vmbus/vmbus_device.h"

namespace hvsim::devices {

struct TestParams {
  uint64_t queue = 256;  // `queue`: packets waiting for ring space, at most (>= 1)
};

class TestDevice final : public vmbus::VmbusDevice {
 public:
  TestDevice(vmbus::DeviceDesc desc, TestParams params);

  const vmbus::DeviceDesc& desc() const override { return desc_; }
  void opened(vmbus::ChannelIo& io, VirtualTime now) override;
  void closed(VirtualTime now) override;
  void packet(const vmbus::RingPacket& p, VirtualTime now) override;
  std::optional<VirtualTime> poll(VirtualTime) override { return std::nullopt; }
  void space_available(VirtualTime now) override { flush(now); }
  void sub_channel_packet(vmbus::ChannelIo& io, const vmbus::RingPacket& p, VirtualTime now) override;

  // Queues an unsolicited packet; sends it at once if the channel is open and the ring has room.
  // False (and "test.queue_full" while open) if the queue is full: the packet is dropped.
  bool push(std::vector<uint8_t> payload, VirtualTime now);

  uint64_t packets_echoed() const { return echoed_; }  // echoes written to the ring
  uint64_t packets_pushed() const { return pushed_; }  // pushed packets written to the ring
  size_t queued() const { return queue_.size(); }

 private:
  struct Outgoing {
    uint16_t type = 0;
    uint64_t trans_id = 0;
    std::vector<uint8_t> payload;
    bool echo = false;
  };
  bool enqueue(Outgoing out, VirtualTime now);
  void flush(VirtualTime now);

  vmbus::DeviceDesc desc_;
  TestParams params_;
  vmbus::ChannelIo* io_ = nullptr;
  std::deque<Outgoing> queue_;
  bool stalled_ = false;  // the ring was full at the last attempt
  uint64_t echoed_ = 0;
  uint64_t pushed_ = 0;
};

}  // namespace hvsim::devices
