// One VMBus channel as the host sees it: its offer (relid, event connection id, device), its
// state, and while open its two rings, its interrupt target (with the retarget lag) and the
// signalling bookkeeping Hyper-V's rules need (PROTOCOL.md §6, §8.3, §9).
//
// The Channel is the device's ChannelIo: send() writes the host->guest ring and interrupts the
// guest only when the ring rules say so. guest_signal() takes a guest->host signal and decides
// whether it was necessary (the guest->host ring went from empty to non-empty as far as the host
// knows, i.e. no drain was already due, or a pending_send_sz wait of the host ended); drain()
// consumes the guest->host ring with interrupt_mask set, hands each packet to the device and
// signals the guest per the pending_send_sz rule. A ring violation marks the channel broken: the
// host stops touching its rings and traces why.
//
// Fault injection (VmbusHost's API): send_raw() writes forged packet bytes with the same rules;
// the seeded points drop_signal (signal_guest skips the SIEF flag or interrupt-page bit) and delay_drain (a guest
// signal's drain starts later) are rolled here; and an armed rewrite changes the bytes of the
// last host->guest packet once the guest has read past its start (check_rewrite, below).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/vmbus/fault_points.h"
#include "models/vmbus/interrupt_page.h"
#include "models/vmbus/ring.h"
#include "models/vmbus/vmbus_device.h"
#include "models/vmbus/vmbus_platform.h"

namespace hvsim::vmbus {

enum class ChannelState : uint8_t {
  kOffered,    // offered (or waiting for REQUESTOFFERS), not open
  kOpen,
  kRescinded,  // RESCIND_CHANNELOFFER sent; waiting for RELID_RELEASED
};
const char* channel_state_name(ChannelState s);

class Channel final : public ChannelIo {
 public:
  // `device_touched` and `any_touched` are set whenever the channel calls into the device (the
  // host then polls it).
  // `host_now` is the time of the host call in progress: send() (which has no time argument)
  // happens then.
  Channel(uint32_t relid, uint16_t sub_index, VmbusDevice& device, bool& device_touched, bool& any_touched,
          VmbusPlatform& platform, Tracer& tracer, const VirtualTime& host_now, FaultPoints& faults);

  // A pending TOCTOU rewrite of the host->guest packet at data-area offset `start` (`size` bytes
  // with padding and trailer): `bytes` go to packet offset `offset`.
  struct Rewrite {
    uint32_t start = 0;
    uint32_t size = 0;
    uint32_t offset = 0;
    std::vector<uint8_t> bytes;
  };

  struct OpenState {
    uint32_t gpadl = 0;
    uint32_t openid = 0;
    VpIndex target_vp = 0;
    std::optional<VpIndex> old_vp;  // retarget lag: interrupts still go here until lag_until
    VirtualTime lag_until;
    HostRing out;  // guest->host (host consumes)
    HostRing in;   // host->guest (host produces)
    std::optional<VirtualTime> drain_due;
    bool space_wait = false;  // the host->guest ring was full: device waits for space
    bool broken = false;
    std::optional<Rewrite> rewrite;
    // 6.0 OpenChannel2 with guest-specified signal parameters: the connection id the guest
    // signals the channel on (instead of connection_id()) and the SIEF flag the host sets for it
    // (instead of the relid's).
    std::optional<uint32_t> guest_connection_id;
    std::optional<uint16_t> event_flag;
  };

  // --- ChannelIo (the device's side) ---
  bool send(uint16_t type, uint16_t flags, uint64_t trans_id, std::span<const uint8_t> payload) override;
  uint32_t vmbus_version() const override { return version_; }
  void set_version(uint32_t v) { version_ = v; }
  // Below VMBus 2.4 host->guest interrupts go through the connection's shared interrupt page
  // (the channel's bit there, then SIEF flag 0); nullopt: the channel's own SIEF flag (relid).
  void set_interrupt_page(std::optional<InterruptPage> page) { legacy_page_ = page; }
  uint32_t relid() const override { return relid_; }
  uint16_t sub_channel_index() const override { return sub_index_; }
  uint64_t reference_time(VirtualTime now) const override { return platform_.reference_time(now); }
  void trace(VirtualTime now, std::string_view event, std::initializer_list<TraceField> fields) override;

  // --- the host's side ---
  // Opens with rings over the GPADL's pages [0, downstream) (guest->host) and [downstream, end).
  void open(OpenState&& s, VirtualTime now);
  // Drops the rings; the device is told (closed()).
  void close(VirtualTime now);
  // A guest->host signal at `now`; returns whether it was necessary. Schedules a drain.
  bool guest_signal(VirtualTime now, VirtualTime latency);
  // Consumes the guest->host ring (if a drain is due at `now`).
  void drain(VirtualTime now);
  // Consumes whatever the guest published, due or not (before a guest-requested close: data the
  // guest wrote before CLOSECHANNEL is not lost to the monitor-scan or drain latency).
  void drain_all(VirtualTime now);
  // MODIFYCHANNEL: later interrupts go to `vp`; the old target keeps getting them until now + lag.
  void retarget(VpIndex vp, VirtualTime now, VirtualTime lag);
  // The VP a host->guest interrupt goes to at `now`.
  VpIndex interrupt_vp(VirtualTime now) const;
  std::optional<VirtualTime> next_deadline() const;

  // --- fault injection ---
  // Writes `packet` (any bytes, forged descriptors included) into the host->guest ring like
  // send(): false if the channel is not open, broken, or the ring is full.
  bool send_raw(std::span<const uint8_t> packet);
  // Arms a rewrite of bytes [offset, offset + bytes.size()) of the last packet the host wrote
  // since the open (replacing an armed one). False if there is none or the range is not inside it.
  bool arm_rewrite(uint32_t offset, std::vector<uint8_t> bytes, VirtualTime now);
  // Performs the armed rewrite if the guest's read_index has passed the packet's start (the host
  // checks before each host->guest write on this channel and at its polls). Returns whether a
  // rewrite is still armed.
  bool check_rewrite(VirtualTime now);

  // The event connection id the offer names (the channel's port unless OpenChannel2 chose one).
  uint32_t connection_id() const { return kEventConnectionBase + relid_; }
  // The connection id the guest signals this channel on now.
  uint32_t signal_connection_id() const {
    return open_ && open_->guest_connection_id ? *open_->guest_connection_id : connection_id();
  }
  VmbusDevice& device() { return device_; }
  const VmbusDevice& device() const { return device_; }
  const OpenState* open_state() const { return open_ ? &*open_ : nullptr; }

  ChannelState state = ChannelState::kOffered;
  bool offer_sent = false;
  std::optional<uint8_t> monitor_id;  // allocated when offered over a connection with monitor pages
  std::vector<uint32_t> deferred_teardowns;  // ring GPADL teardown asked while open
  uint64_t packets_in = 0, packets_out = 0, signals_in = 0, signals_out = 0;

 private:
  void signal_guest(VirtualTime now);
  bool finish_write(HostRing::WriteStatus status, bool signal, const std::string& why);
  void broken(VirtualTime now, std::string_view ring, const std::string& why);

  uint32_t relid_;
  uint16_t sub_index_;
  VmbusDevice& device_;
  bool& device_touched_;
  bool& any_touched_;
  void touch() { device_touched_ = any_touched_ = true; }
  VmbusPlatform& platform_;
  Tracer& tracer_;
  uint32_t version_ = 0;
  std::optional<InterruptPage> legacy_page_;
  std::optional<OpenState> open_;
  const VirtualTime& now_;  // the host's: the time of the host call in progress
  FaultPoints& faults_;
};

}  // namespace hvsim::vmbus
