// The VMBus host: Hyper-V's side of the channel-management protocol and of every channel's ring
// buffers (PROTOCOL.md §5-10), as a sans-IO state machine.
//
// Guest input arrives as post_message() (HvCallPostMessage on a message connection id) and
// signal_event() (HvCallSignalEvent on a channel's event connection id). Like a real host, the
// host works asynchronously: a message or signal is queued and handled `latency` of virtual time
// later, in poll(), strictly in arrival order (§9.3: Hyper-V processes a partition's channel
// messages in order). Output goes through VmbusPlatform: messages into SINT slots (kept in an
// outbox and retried while the SynIC queue is full), channel interrupts as SIEF flags.
//
// What it models: version negotiation for the host profile's versions (connection id 1, and 4
// for >= 5.0 only when the profile has 5.0+), control-message VP and SINT per version; offers in
// a seeded order then ALLOFFERS_DELIVERED, hot-add, rescind and RELID_RELEASED (a relid is reused
// only after release); GPADLs with the profile's aggregate cap; OPENCHANNEL / CLOSECHANNEL;
// MODIFYCHANNEL (>= 4.1) with MODIFYCHANNEL_RESPONSE (>= 5.3) and a retarget lag during which
// interrupts still go to the old VP; UNLOAD / UNLOAD_RESPONSE and reconnect; Hyper-V's ring
// signalling rules; a checker that traces guest rule violations (vmbus.ring_rule); and interrupt
// throttling of a guest that signals without need. Malformed guest input is traced
// (vmbus.protocol_error) and answered as the protocol allows — never a crash, never unbounded
// memory (inbox, outbox and device queues are bounded).
// Monitor pages (§5.8): when the guest gives both in INITIATE_CONTACT, offers carry a monitor id
// and the host scans the pending bits every monitor_latency while such a channel is open.
// Omitted: the < 2.4 shared interrupt page, hv_sock (TL_CONNECT), reserved channels, 6.0 feature flags.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "models/vmbus/channel.h"
#include "models/vmbus/gpadl.h"
#include "models/vmbus/monitor.h"
#include "models/vmbus/protocol.h"
#include "models/vmbus/throttle.h"
#include "models/vmbus/vmbus_device.h"
#include "models/vmbus/vmbus_platform.h"
#include "sim/core/rng.h"

namespace hvsim::vmbus {

struct VmbusHostParams {
  std::vector<uint32_t> versions;     // accepted, newest first (HostProfile::vmbus_versions)
  uint64_t gpadl_cap_bytes = 0;       // HostProfile::gpadl_aggregate_cap_bytes
  uint64_t seed = 1;                  // offer order
  VirtualTime latency = VirtualTime::from_us(5);  // guest message/signal -> host handles it
  VirtualTime retarget_lag = VirtualTime{};       // MODIFYCHANNEL -> interrupts still on the old VP
  // Monitor pages: scan period of the guest's pending bits; 0 = offers get no monitor id.
  VirtualTime monitor_latency = VirtualTime::from_us(100);
  ThrottlePolicy throttle;
};

class VmbusHost {
 public:
  // HV_STATUS values this host answers PostMessage/SignalEvent with.
  static constexpr uint16_t kHvStatusSuccess = 0x0000;
  static constexpr uint16_t kHvStatusInvalidConnectionId = 0x0012;
  static constexpr uint16_t kHvStatusInsufficientBuffers = 0x0013;
  static constexpr size_t kInboxDepth = 64;    // guest messages waiting for the host
  static constexpr size_t kOutboxDepth = 4096; // host messages waiting for a SynIC slot

  VmbusHost(VmbusHostParams params, PhysicalMemory& mem, VmbusPlatform& platform, Tracer& tracer);
  VmbusHost(const VmbusHost&) = delete;
  VmbusHost& operator=(const VmbusHost&) = delete;
  ~VmbusHost();

  // Adds a device before the run (offered on REQUESTOFFERS unless `offered` is false: then only
  // offer() makes it appear, as a hot-add). Names must be unique (UsageError otherwise).
  void add_device(std::unique_ptr<VmbusDevice> device, bool offered = true);
  // The device (nullptr if unknown). It is polled at the next poll(): callers may change it
  // (TestDevice::push, ShutdownDevice::request_shutdown).
  VmbusDevice* device(std::string_view name);
  std::vector<std::string> device_names() const;

  // Message connection ids the host listens on (1, and 4 when the profile accepts >= 5.0).
  std::vector<uint32_t> message_connection_ids() const;
  // --- guest input (returns an HV_STATUS) ---
  uint16_t post_message(VpIndex vp, uint32_t connection_id, std::span<const uint8_t> msg, VirtualTime now);
  uint16_t signal_event(VpIndex vp, uint32_t connection_id, uint16_t flag, VirtualTime now);

  // Handles everything due at `now`; returns the next deadline (host work or device timers).
  std::optional<VirtualTime> poll(VirtualTime now);

  // --- host actions (API and scenarios); false if the device is unknown or the action does not apply ---
  bool offer(std::string_view device, VirtualTime now);    // hot-add (or re-offer after release)
  // RESCIND_CHANNELOFFER for the device's sub-channels, then its primary channel.
  bool rescind(std::string_view device, VirtualTime now);
  // RESCIND_CHANNELOFFER for one channel (a sub-channel alone, before its primary, ...).
  bool rescind_relid(uint32_t relid, VirtualTime now);
  void set_retarget_lag(VirtualTime lag) { params_.retarget_lag = lag; }
  void set_throttle(const ThrottlePolicy& p) { params_.throttle = p; }

  // --- inspection ---
  bool connected() const { return conn_.has_value(); }
  uint32_t version() const { return conn_ ? conn_->version : 0; }
  const Channel* channel(uint32_t relid) const;
  const Channel* channel_of(std::string_view device) const;
  const GpadlTable& gpadls() const { return gpadls_; }
  uint64_t unnecessary_signals() const { return unnecessary_signals_; }

 private:
  struct Connection {
    uint32_t version = 0;
    VpIndex target_vp = 0;
    unsigned sint = kVmbusSint;
    bool offers_requested = false;
  };
  struct ReplyTarget {  // where host messages go: the last INITIATE_CONTACT's VP and SINT
    VpIndex vp = 0;
    unsigned sint = kVmbusSint;
  };
  struct Inbound {
    VirtualTime due;
    VpIndex vp;
    uint32_t connection_id;
    bool is_signal;
    std::vector<uint8_t> msg;  // message bytes (empty for a signal)
  };
  struct DeviceSlot {
    std::unique_ptr<VmbusDevice> device;
    bool offer_at_start = true;
    std::optional<uint32_t> relid;  // its channel while offered (until RELID_RELEASED)
    std::vector<uint32_t> sub_relids;  // its sub-channels, in sub_channel_index order
    std::optional<VirtualTime> deadline;  // device poll
    bool touched = true;                  // an event reached the device since its last poll
  };

  // vmbus_host_messages.cc: one handler per channel message type.
  void handle_message(const Inbound& in, VirtualTime now);
  void on_initiate_contact(const Inbound& in, VirtualTime now);
  void on_request_offers(VirtualTime now);
  void on_gpadl_header(std::span<const uint8_t> m, VirtualTime now);
  void on_gpadl_body(std::span<const uint8_t> m, VirtualTime now);
  void on_gpadl_teardown(std::span<const uint8_t> m, VirtualTime now);
  void on_open_channel(std::span<const uint8_t> m, VirtualTime now);
  void on_close_channel(std::span<const uint8_t> m, VirtualTime now);
  void on_relid_released(std::span<const uint8_t> m, VirtualTime now);
  void on_modify_channel(std::span<const uint8_t> m, VirtualTime now);
  void on_unload(VirtualTime now);
  void gpadl_outcome(const GpadlTable::Outcome& o, VirtualTime now);
  bool teardown_gpadl(uint32_t handle);  // forgets a created GPADL and its pages

  // vmbus_host.cc
  void guest_signalled(Channel& c, VpIndex vp, const char* via, VirtualTime now);
  void scan_monitor(VirtualTime now);
  void send(std::span<const uint8_t> msg, VirtualTime now);
  template <typename T> void send(const T& msg, VirtualTime now) {
    send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&msg), sizeof msg), now);
  }
  void flush_outbox(VirtualTime now);
  void send_offer(Channel& c, VirtualTime now);
  void offer_sub_channels(DeviceSlot& d, VirtualTime now);
  void forget_channel(uint32_t relid);  // erases it and its device slot's reference
  DeviceSlot* slot_of(const Channel& c);
  uint32_t allocate_relid() const;
  Channel* find_channel(uint32_t relid);
  void close_channel(Channel& c, VirtualTime now, const char* why);
  void finish_teardowns(Channel& c, VirtualTime now);
  void disconnect(VirtualTime now);
  void protocol_error(VirtualTime now, std::string_view what, std::initializer_list<TraceField> fields = {});
  void set_state(Channel& c, ChannelState s, VirtualTime now);
  DeviceSlot* slot_of(std::string_view name);

  VmbusHostParams params_;
  PhysicalMemory& mem_;
  VmbusPlatform& platform_;
  Tracer& tracer_;
  RngStream offer_rng_;
  std::optional<Connection> conn_;       // a version was accepted
  std::optional<ReplyTarget> reply_to_;  // outlives conn_ for VERSION_RESPONSE refusals, UNLOAD_RESPONSE
  GpadlTable gpadls_;
  std::map<uint64_t, uint32_t> gpadl_pages_;
  std::optional<MonitorPages> monitor_;      // while connected with monitor pages
  std::optional<VirtualTime> next_scan_;     // while a channel with a monitor id is open  // PFN -> how many created GPADLs describe it (checker)
  std::deque<DeviceSlot> devices_;   // in add order; a deque so channels may point at a slot
  std::set<uint32_t> draining_;      // relids with a drain due (poll visits only these)
  bool any_touched_ = true;          // some DeviceSlot::touched is set
  std::optional<VirtualTime> devices_next_;  // earliest device deadline (changes only when one is polled)
  std::map<uint32_t, std::unique_ptr<Channel>> channels_;  // by relid
  std::deque<Inbound> inbox_;
  std::deque<std::vector<uint8_t>> outbox_;
  ThrottleCounter throttle_;
  VirtualTime now_;                 // of the host entry point in progress (channels read it)
  uint32_t monitored_open_ = 0;     // open channels with a monitor id (scan only while > 0)
  uint64_t unnecessary_signals_ = 0;
};

}  // namespace hvsim::vmbus
