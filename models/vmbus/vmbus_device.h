// The narrow interface between the VMBus host and a device model (heartbeat, shutdown, timesync,
// kvp, test, later netvsc/storvsc). Each device lives in models/devices/<name>/ with the same
// file set: device.h, device.cc, protocol.h (its wire format, definitions only), README.md.
//
// The host owns channels, rings and signalling; a device sees only its open channel through
// ChannelIo. Devices are sans-IO: time comes in as arguments, timed work is asked for by
// returning a deadline from poll(), and nothing reads a clock or unseeded randomness.
// Call order per channel: opened → (packet | poll | space_available)* → closed; a channel may be
// opened again after closed (a new ChannelIo each time). Sub-channels have their own calls. poll() is also called while closed (the
// device may keep state, but must not send).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "models/vmbus/protocol.h"
#include "models/vmbus/ring.h"
#include "sim/core/trace.h"
#include "sim/core/virtual_time.h"

namespace hvsim::vmbus {

// Ring sizes the host accepts at OPENCHANNEL, in pages per direction as the guest lays them out
// (ring header page included): the guest->host ring is the ring GPADL's first
// downstream_ringbuffer_pageoffset pages, the host->guest ring the rest. The host always refuses a
// ring under 2 pages; these limits refuse more (OPENCHANNEL_RESULT with a failure status).
struct RingPageLimits {
  uint32_t min = 2;
  uint32_t max = UINT32_MAX;
  bool allows(uint32_t pages) const { return pages >= min && pages <= max; }
};

// What the host offers for a device (OFFERCHANNEL fields the device chooses) and the host's
// limits on its channels.
struct DeviceDesc {
  std::string name;         // "heartbeat": instance name in traces, CLI and scenarios
  Guid class_id;            // if_type
  Guid instance_id;         // if_instance
  uint16_t chn_flags = 0;
  uint16_t mmio_megabytes = 0;
  uint8_t user_def[120] = {};
  // Sub-channels (§5.6 step 6) the host offers once the primary channel is open (sub_channel_index
  // 1..n, same class and instance GUIDs). They come and go with the primary's open.
  uint16_t sub_channels = 0;
  RingPageLimits ring_pages;  // for the primary channel and every sub-channel
};

// The device's handle on its open channel.
class ChannelIo {
 public:
  virtual ~ChannelIo() = default;
  // Writes one packet into the host->guest ring (signalling per the ring rules). false: the ring
  // is full (space_available() follows once the guest frees room) or unusable.
  virtual bool send(uint16_t type, uint16_t flags, uint64_t trans_id, std::span<const uint8_t> payload) = 0;
  // The negotiated VMBus version (protocol.h kVersion*).
  virtual uint32_t vmbus_version() const = 0;
  virtual uint32_t relid() const = 0;
  // 0 for the primary channel, n for sub-channel n.
  virtual uint16_t sub_channel_index() const = 0;
  // Partition reference time (100 ns units) at `now`: what TIME_REF_COUNT reads.
  virtual uint64_t reference_time(VirtualTime now) const = 0;
  // Emits a device trace record (TracePoint::kVmbusDevice) tagged with the device and channel.
  virtual void trace(VirtualTime now, std::string_view event, std::initializer_list<TraceField> fields) = 0;
};

class VmbusDevice {
 public:
  virtual ~VmbusDevice() = default;
  virtual const DeviceDesc& desc() const = 0;
  // The guest opened the channel; `io` stays valid until closed().
  virtual void opened(ChannelIo& io, VirtualTime now) = 0;
  // The channel closed (guest CLOSECHANNEL, rescind, UNLOAD). Drop `io`.
  virtual void closed(VirtualTime now) = 0;
  // One packet the guest wrote to the guest->host ring.
  virtual void packet(const RingPacket& p, VirtualTime now) = 0;
  // Timed work due at or before `now`; returns the next deadline (nullopt: none).
  virtual std::optional<VirtualTime> poll(VirtualTime now) = 0;
  // The host->guest ring had been full and now has room.
  virtual void space_available(VirtualTime /*now*/) {}

  // Sub-channels (DeviceDesc::sub_channels > 0): the same events for each open sub-channel, with
  // its ChannelIo (valid until sub_channel_closed). A device without sub-channels ignores them.
  virtual void sub_channel_opened(ChannelIo& /*io*/, VirtualTime /*now*/) {}
  virtual void sub_channel_closed(ChannelIo& /*io*/, VirtualTime /*now*/) {}
  virtual void sub_channel_packet(ChannelIo& /*io*/, const RingPacket& /*p*/, VirtualTime /*now*/) {}
};

}  // namespace hvsim::vmbus
