// The VMBus host: Hyper-V's side of the channel-management protocol and of every channel's ring
// buffers (PROTOCOL.md §5-10), as a sans-IO state machine.
//
// Guest input arrives as post_message() (HvCallPostMessage on a message connection id) and
// signal_event() (HvCallSignalEvent on a channel's event connection id, or below 2.4 on connection
// id 2 with the channel's bit in the shared interrupt page). Like a real host, the
// host works asynchronously: a message is queued and handled `latency` of virtual time later, in
// poll(), strictly in arrival order (§9.3: Hyper-V processes a partition's channel messages in
// order); a signal is judged (necessary or not) when it arrives, and the ring drain it asks for
// happens `latency` later. Output goes through VmbusPlatform: messages into SINT slots (kept in an
// outbox and retried while the SynIC queue is full), channel interrupts as SIEF flags.
//
// What it models: version negotiation for the host profile's versions (connection id 1, and 4
// for >= 5.0 only when the profile has 5.0+), control-message VP and SINT per version; below 2.4
// (0.13, 1.1) the shared interrupt page of INITIATE_CONTACT carries channel signals both ways
// (§5.9: host->guest through the page and SIEF flag 0, all on the connection VP; guest->host at
// 0.13 through the page and connection id 2, at 1.1 on each channel's own id), no sub-channels,
// and at 0.13 no UNLOAD; offers in
// a seeded order then ALLOFFERS_DELIVERED, hot-add, rescind and RELID_RELEASED (a relid is reused
// only after release; GPADLs the guest left on the channel are dropped with it); GPADLs with the
// profile's aggregate cap; OPENCHANNEL (with each device's ring-size limits) / CLOSECHANNEL;
// MODIFYCHANNEL (>= 4.1) with MODIFYCHANNEL_RESPONSE (>= 5.3) and a retarget lag during which
// interrupts still go to the old VP; UNLOAD / UNLOAD_RESPONSE and reconnect; Hyper-V's ring
// signalling rules; a checker that traces guest rule violations (vmbus.ring_rule); and interrupt
// throttling of a guest that signals without need. Malformed guest input is traced
// (vmbus.protocol_error) and answered as the protocol allows — never a crash, never unbounded
// memory (inbox, outbox and device queues are bounded).
// Monitor pages (§5.8): when the guest gives both in INITIATE_CONTACT, offers carry a monitor id
// and the host scans the pending bits every monitor_latency while such a channel is open.
// 6.0 (§5.4, §5.5): VERSION_RESPONSE2 grants the features the guest asked for that the profile
// supports (`features`; unknown bits are dropped, as OpenVMM does). Guest-specified signal
// parameters: once 0x1 or 0x2 is granted every OPENCHANNEL must be the 156-byte OpenChannel2 (a
// shorter one is ignored, unanswered); with 0x1 the channel's guest->host port is the guest's
// connection id (refused if a message port or another open channel's port) and host->guest
// interrupts set the guest's event flag (refused from 2048); redirection (0x2) has no effect on
// a root host. MODIFY_CONNECTION (0x4) moves or drops the monitor pages while no monitored
// channel is open; channels keep the monitor ids their offers carried.
// Omitted: hv_sock (TL_CONNECT), reserved channels, the 6.0 features beyond the "Copper" set
// (client id, confidential channels, pause/resume, server-specified monitor pages).
//
// Fault injection (scenarios; every action is one call with plain arguments, docs/vmbus.md
// "Fault injection"; implemented in vmbus_host_faults.cc): raw and field-built channel messages,
// withheld and delayed responses, packets injected into a host->guest ring, TOCTOU rewrites of
// the last ring packet or SynIC message, and seeded fault points. Injected actions are traced on
// the existing points with "injected": true or a "fault" field; with nothing armed the host's
// behaviour and trace are exactly those of the plain host.
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
#include "models/vmbus/fault_points.h"
#include "models/vmbus/gpadl.h"
#include "models/vmbus/interrupt_page.h"
#include "models/vmbus/monitor.h"
#include "models/vmbus/protocol.h"
#include "models/vmbus/response_control.h"
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
  uint32_t features = 0;              // 6.0 feature flags it supports (HostProfile::vmbus_features)
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
  // offer() makes it appear, as a hot-add). Names and instance GUIDs must be unique (UsageError
  // otherwise).
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
  // Whether a poll has work besides its deadline: messages waiting for the guest's slot, channels
  // draining into or watching guest rings (guest stores that no exit reports can unblock them),
  // devices touched since the last poll.
  bool retries_pending() const {
    return !outbox_.empty() || !inbox_.empty() || !draining_.empty() || !rewriting_.empty() || any_touched_;
  }

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
  uint32_t features() const { return conn_ ? conn_->features : 0; }  // granted at 6.0
  const Channel* channel(uint32_t relid) const;
  const Channel* channel_of(std::string_view device) const;
  const GpadlTable& gpadls() const { return gpadls_; }
  uint64_t unnecessary_signals() const { return unnecessary_signals_; }

  // --- fault injection ---
  // Sends `msg` (1..240 bytes, anything) as a channel message to the connection's VP and SINT
  // (VP 0, SINT 2 before any INITIATE_CONTACT), bypassing every check and response control; it
  // queues behind host messages already waiting for the SynIC. False for a bad size or a full
  // outbox. Traced vmbus.msg_out with "injected": true.
  // `vp`: deliver to that VP's SINT 2 slot instead of the connection's (e.g. UNLOAD_RESPONSE on
  // another VP than the connect VP); false if no such VP.
  bool send_raw(std::span<const uint8_t> msg, VirtualTime now, std::optional<VpIndex> vp = std::nullopt);
  // A message built for send_raw (error empty) or why not (bytes empty).
  struct BuiltMessage {
    std::vector<uint8_t> bytes;
    std::string error;
  };
  // A message of `type` as the host would send it now (VERSION_RESPONSE: supported, msg_conn_id
  // and size for the connected version; other types: zero fields, status success), with `fields`
  // written by name (message_fields.h; an unknown name or an oversized value is an error naming
  // the valid fields), then truncated or zero-padded to `size` (1..240) if given.
  BuiltMessage build_message(MsgType type, const std::map<std::string, uint64_t>& fields,
                             std::optional<size_t> size = std::nullopt) const;
  // The OFFERCHANNEL the host sends for `device` (its current relid and monitor id, or the relid
  // it would get if offered now), then `fields` and `size` as build_message. Unknown device: error.
  BuiltMessage build_offer(std::string_view device, const std::map<std::string, uint64_t>& fields,
                           std::optional<size_t> size = std::nullopt) const;

  // Response control (response_control.h): the next `count` host messages of type `response`
  // are dropped (withhold) or held back by `by` (delay); kUntilCleared = every one until cleared;
  // count 0 clears that rule. clear_response_control() affects later messages only.
  static constexpr uint32_t kUntilCleared = ResponseControl::kUntilCleared;
  void withhold(MsgType response, uint32_t count) { responses_.withhold(static_cast<uint32_t>(response), count); }
  void delay(MsgType response, VirtualTime by, uint32_t count) {
    responses_.delay(static_cast<uint32_t>(response), by, count);
  }
  void clear_response_control(MsgType response) { responses_.clear(static_cast<uint32_t>(response)); }
  void clear_response_control() { responses_.clear_all(); }

  // Writes `packet` (any bytes: short, lying len8/offset8, forged trans_id) into relid's
  // host->guest ring through HostRing::write_raw, signalling per the ring rules. False if the
  // channel is not open (or its rings are abandoned), the packet can never fit the ring, or the
  // ring is full (the host then waits for space as for a device packet).
  bool inject_packet(uint32_t relid, std::span<const uint8_t> packet, VirtualTime now);
  // A valid VM_PKT_DATA_INBAND packet with `payload`, `trans_id` and `flags`; same rules.
  bool inject_inband(uint32_t relid, std::span<const uint8_t> payload, uint64_t trans_id, uint16_t flags,
                     VirtualTime now);
  // TOCTOU on a ring: arms a rewrite of bytes [offset, offset + bytes.size()) of the last packet
  // the host wrote into relid's host->guest ring (padding and trailer count as the packet). It
  // happens at the first host check after the guest's read_index has passed the packet's start:
  // checks run at every poll (the host asks for one every `latency` while a rewrite is armed)
  // and before every host write into that ring. Re-arming replaces; a close drops it (traced).
  // False if the channel is not open, no packet was written since it opened, or the range is
  // outside the packet.
  bool rewrite_last_packet(uint32_t relid, uint32_t offset, std::span<const uint8_t> bytes, VirtualTime now);
  // TOCTOU on the SynIC slot: `after` from now the host asks the platform
  // (VmbusPlatform::rewrite_message) to overwrite payload bytes [offset, offset + bytes.size())
  // of the last message it delivered, if the guest has not freed that slot yet. Replaces an
  // armed one. False if no message was delivered yet or the range is outside it. Traced
  // vmbus.msg_out with "fault": "rewrite_message" and the result.
  bool rewrite_last_message(uint32_t offset, std::span<const uint8_t> bytes, VirtualTime after, VirtualTime now);

  // Seeded fault points (fault_points.h): "drop_signal", "delay_drain", "busy_outbox" with
  // probability num/den (0 disarms) from RngStream(seed, "fault/<point>"). False (and `error`
  // naming the valid points, if given) for an unknown point or a bad probability.
  bool set_fault(std::string_view point, uint32_t num, uint32_t den, uint64_t seed, std::string* error = nullptr);
  void clear_faults() { faults_.clear(); }

 private:
  struct Connection {
    uint32_t version = 0;
    VpIndex target_vp = 0;
    unsigned sint = kVmbusSint;
    bool offers_requested = false;
    std::optional<InterruptPage> interrupt_page;  // below 2.4 (§5.9)
    uint32_t features = 0;                        // 6.0 features granted
  };
  struct ReplyTarget {  // where host messages go: the last INITIATE_CONTACT's VP and SINT
    VpIndex vp = 0;
    unsigned sint = kVmbusSint;
  };
  struct Inbound {  // a guest message waiting for the host
    VirtualTime due;
    VpIndex vp;
    uint32_t connection_id;
    std::vector<uint8_t> msg;
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
  void on_modify_connection(std::span<const uint8_t> m, VirtualTime now);
  // Why `c` may not open with guest->host port `id` (nullptr: it may).
  const char* port_conflict(uint32_t id, const Channel& c);
  void on_unload(VirtualTime now);
  void gpadl_outcome(const GpadlTable::Outcome& o, VirtualTime now);
  bool teardown_gpadl(uint32_t handle);  // forgets a created GPADL and its pages

  // vmbus_host.cc
  void guest_signalled(Channel& c, VpIndex vp, const char* via, VirtualTime now);
  uint16_t legacy_signal(VpIndex vp, VirtualTime now);
  void scan_monitor(VirtualTime now);
  void send(std::span<const uint8_t> msg, VirtualTime now);
  bool enqueue(std::span<const uint8_t> msg, VirtualTime now, std::optional<VpIndex> vp = std::nullopt);  // into the outbox, then flush
  template <typename T> void send(const T& msg, VirtualTime now) {
    send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&msg), sizeof msg), now);
  }
  void flush_outbox(VirtualTime now);
  void send_offer(Channel& c, VirtualTime now);
  // At 0.13 a channel has no dedicated interrupt: it signals on connection id 2 (§5.1, §5.9).
  static OfferChannel offer_message(const DeviceDesc& d, uint16_t sub_index, uint32_t relid,
                                    std::optional<uint8_t> monitor_id, uint32_t version);
  // vmbus_host_faults.cc: the poll-time parts of fault injection.
  void release_delayed(VirtualTime now);
  void check_rewrites(VirtualTime now);
  std::optional<VirtualTime> fault_deadline(VirtualTime now) const;
  void offer_sub_channels(DeviceSlot& d, VirtualTime now);
  void forget_channel(uint32_t relid);  // erases it and its device slot's reference
  DeviceSlot* slot_of(const Channel& c);
  uint32_t allocate_relid() const;
  Channel* find_channel(uint32_t relid);
  // The channel whose guest->host port `id` is now: an OpenChannel2 port (6.0), or the offer's
  // connection id of a channel that chose no other (nullptr: none).
  Channel* channel_on_port(uint32_t id);
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
  std::map<uint64_t, uint32_t> gpadl_pages_;  // PFN -> how many created GPADLs describe it (checker)
  std::optional<MonitorPages> monitor_;      // while connected with monitor pages
  std::optional<VirtualTime> next_scan_;     // while a channel with a monitor id is open
  std::deque<DeviceSlot> devices_;   // in add order; a deque so channels may point at a slot
  std::set<uint32_t> draining_;      // relids with a drain due (poll visits only these)
  bool any_touched_ = true;          // some DeviceSlot::touched is set
  std::optional<VirtualTime> devices_next_;  // earliest device deadline (changes only when one is polled)
  std::map<uint32_t, std::unique_ptr<Channel>> channels_;  // by relid
  std::map<uint32_t, uint32_t> guest_ports_;  // OpenChannel2 connection id -> relid, while open
  std::deque<Inbound> inbox_;
  struct Outgoing {
    std::vector<uint8_t> bytes;
    std::optional<VpIndex> vp;  // injected to another VP than the connection's (send_raw)
  };
  std::deque<Outgoing> outbox_;
  ThrottleCounter throttle_;
  VirtualTime now_;                 // of the host entry point in progress (channels read it)
  uint32_t monitored_open_ = 0;     // open channels with a monitor id (scan only while > 0)
  uint64_t unnecessary_signals_ = 0;

  // Fault injection.
  struct Posted {  // the last message the SynIC accepted
    VpIndex vp = 0;
    unsigned sint = kVmbusSint;
    std::vector<uint8_t> msg;
  };
  struct MessageRewrite {
    VirtualTime due;
    Posted target;  // the message to rewrite, where it was delivered
    uint32_t offset = 0;
    std::vector<uint8_t> bytes;
  };
  FaultPoints faults_;
  ResponseControl responses_;
  std::optional<VirtualTime> busy_retry_;   // busy_outbox delayed the outbox's front message until then
  std::optional<Posted> last_posted_;
  std::optional<MessageRewrite> message_rewrite_;
  std::set<uint32_t> rewriting_;            // relids with an armed ring rewrite
};

}  // namespace hvsim::vmbus
