// The integration-component framework shared by heartbeat, shutdown, timesync and kvp
// (PROTOCOL.md §7.2-7.4): pipe + IC message framing, version negotiation, request/reply matching.
//
// The host side of an IC sends requests; the guest answers each in place (same packet trans_id
// and ictransaction_id, icflags TRANSACTION|RESPONSE, VM_PKT_DATA_INBAND). On opened() the
// framework sends NEGOTIATE (trans_id 1, then increasing per channel open) offering framework
// versions {3.0, 1.0} and the service's message versions. A reply with counts 1/1, S_OK and
// offered versions completes it ("ic.negotiated"); counts 0/0 or a failure status ends it
// ("ic.negotiate_failed": the service sends nothing more on this channel). Only then may the
// service send requests (send_request), stamped with the negotiated versions.
// Every guest packet is validated before use: packet type, length, icflags, trans_id (a sent,
// unanswered request), ictransaction_id, icmsgtype, icmsgsize (fits the packet, at least the
// service's minimum), negotiate counts and versions. A malformed packet is traced "ic.bad_reply"
// (reason, trans_id) and ignored: the request it claimed to answer stays outstanding.
// A request the ring cannot take stays queued ("ic.ring_full") and is sent, in order, on
// space_available(). At most kMaxOutstanding requests are kept: the oldest is forgotten
// ("ic.dropped") to make room. The host calls poll() after opened/packet/space_available to learn
// a new deadline; poll() does nothing while the channel is closed or not negotiated.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/devices/ic/protocol.h"
#include "models/vmbus/vmbus_device.h"

namespace hvsim::devices::ic {

// What a service declares to the framework.
struct IcService {
  uint16_t msgtype = 0;                    // its icmsgtype (kMsgType*)
  std::vector<IcVersion> message_versions;  // offered, highest first (non-empty)
  uint16_t min_reply_body = 0;             // smallest icmsgsize a reply may carry
};

// A validated guest reply to one of the service's requests.
struct IcReply {
  uint64_t trans_id = 0;
  uint32_t status = 0;
  std::span<const uint8_t> body;  // exactly icmsgsize bytes
};

// "3.0"
std::string version_string(IcVersion v);

class IcDevice : public vmbus::VmbusDevice {
 public:
  enum class Phase { kClosed, kNegotiating, kReady, kFailed };
  static constexpr size_t kMaxOutstanding = 16;

  const vmbus::DeviceDesc& desc() const final { return desc_; }
  void opened(vmbus::ChannelIo& io, VirtualTime now) final;
  void closed(VirtualTime now) final;
  void packet(const vmbus::RingPacket& p, VirtualTime now) final;
  std::optional<VirtualTime> poll(VirtualTime now) final;
  void space_available(VirtualTime now) final;

  Phase phase() const { return phase_; }
  // The negotiated versions; meaningful in kReady.
  IcVersion framework_version() const { return framework_version_; }
  IcVersion message_version() const { return message_version_; }
  // Requests sent (or queued) and not yet answered.
  size_t outstanding_requests() const { return outstanding_.size(); }

 protected:
  IcDevice(vmbus::DeviceDesc desc, IcService service);

  // Negotiation succeeded; the service may send.
  virtual void on_negotiated(VirtualTime /*now*/) {}
  // A valid reply to a request the service sent (already removed from the outstanding set).
  virtual void on_reply(const IcReply& /*reply*/, VirtualTime /*now*/) {}
  // Timed work in kReady; returns the next deadline.
  virtual std::optional<VirtualTime> on_poll(VirtualTime /*now*/) { return std::nullopt; }
  // The channel closed: drop per-channel state.
  virtual void on_closed() {}

  // Sends a request of the service's msgtype carrying `body` (<= 0xFFFF bytes); returns its
  // trans_id, or nullopt when not in kReady or the body is too large.
  std::optional<uint64_t> send_request(std::span<const uint8_t> body, VirtualTime now);
  // Stops waiting for a reply to `trans_id` (a later reply is then a bad reply). False if unknown.
  bool forget(uint64_t trans_id);
  // Partition reference time at `now`; only while the channel is open.
  uint64_t reference_time(VirtualTime now) const { return io_ ? io_->reference_time(now) : 0; }
  // A device trace record; dropped while the channel is closed.
  void trace(VirtualTime now, std::string_view event, std::initializer_list<TraceField> fields);

 private:
  struct Request {
    uint16_t msgtype = 0;
    std::vector<uint8_t> bytes;  // the whole payload
    bool sent = false;
  };

  uint64_t queue_request(uint16_t msgtype, IcVersion framework, IcVersion message, std::span<const uint8_t> body,
                         VirtualTime now);
  void send_queued(VirtualTime now);
  void bad_reply(VirtualTime now, std::string_view reason, uint64_t trans_id);
  void negotiate_reply(uint64_t trans_id, uint32_t status, std::span<const uint8_t> body, VirtualTime now);

  vmbus::DeviceDesc desc_;
  IcService service_;
  vmbus::ChannelIo* io_ = nullptr;
  Phase phase_ = Phase::kClosed;
  IcVersion framework_version_{0, 0};
  IcVersion message_version_{0, 0};
  uint64_t next_trans_id_ = 1;
  std::map<uint64_t, Request> outstanding_;  // by trans_id: send order
};

}  // namespace hvsim::devices::ic
