// The heartbeat integration component (PROTOCOL.md §7.4, class GUID kHeartbeatClass).
//
// After negotiation (framework {3.0, 1.0}, message {3.0, 1.0}) it sends a heartbeat request at
// once and then every `period` on the grid negotiated_at + k * period (a late poll skips the grid
// points it missed: one request per poll). Request k carries seq_num = first_seq + k (first_seq is
// derived from the run seed by the registry); the guest must answer seq_num + 1. Traces:
// "heartbeat.request" {seq}, "heartbeat.ok" {seq}, "heartbeat.bad_seq" {expected, got},
// "heartbeat.missed" {seq} (still unanswered when the next request is due; it is then forgotten).
#pragma once

#include <cstdint>
#include <optional>

#include "models/devices/ic/ic.h"

namespace hvsim::devices {

struct HeartbeatParams {
  VirtualTime period = VirtualTime::from_ms(1000);  // `period`: between requests (0 acts as 1 ps)
};

class HeartbeatDevice final : public ic::IcDevice {
 public:
  HeartbeatDevice(vmbus::DeviceDesc desc, HeartbeatParams params, uint64_t first_seq);

  struct Stats {
    uint64_t requests = 0, ok = 0, bad_seq = 0, missed = 0;
  };
  const Stats& stats() const { return stats_; }
  // seq_num of the next request.
  uint64_t next_seq() const { return next_seq_; }

 private:
  void on_negotiated(VirtualTime now) override;
  void on_reply(const ic::IcReply& reply, VirtualTime now) override;
  std::optional<VirtualTime> on_poll(VirtualTime now) override;
  void on_closed() override { pending_.reset(); }
  void send_heartbeat(VirtualTime now);

  struct Pending {
    uint64_t trans_id = 0;
    uint64_t seq = 0;
  };
  HeartbeatParams params_;
  uint64_t next_seq_;
  VirtualTime next_due_{};
  std::optional<Pending> pending_;  // the unanswered request
  Stats stats_;
};

}  // namespace hvsim::devices
