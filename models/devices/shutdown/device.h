// The shutdown integration component (PROTOCOL.md §7.4, class GUID kShutdownClass).
//
// Negotiates framework {3.0, 1.0} and message {3.2, 3.1, 3.0, 1.0}. One shutdown request can be
// scheduled at a time (the `at`/`flags` params or request_shutdown(); a new call replaces one not
// yet sent). It is sent at the first poll at or after `at` once negotiated (or at negotiation if
// `at` has passed), with reason_code 0, timeout_seconds 0, the flags as given (0 power off,
// 1 force, 2 restart, 4 hibernate; not filtered, scenarios may send anything) and an empty
// display message (2048 zero bytes: Linux drops shorter requests). Traces
// "shutdown.request" {flags, trans_id} and "shutdown.reply" {status, ok}.
#pragma once

#include <cstdint>
#include <optional>

#include "models/devices/ic/ic.h"

namespace hvsim::devices {

struct ShutdownParams {
  std::optional<VirtualTime> at;  // `at`: virtual time of the request (none: never)
  uint32_t flags = 0;             // `flags`
};

class ShutdownDevice final : public ic::IcDevice {
 public:
  ShutdownDevice(vmbus::DeviceDesc desc, ShutdownParams params);

  // Schedules the request (replacing one not yet sent). The host polls afterwards for the deadline.
  void request_shutdown(VirtualTime at, uint32_t flags);
  bool scheduled() const { return scheduled_.has_value(); }
  // Status of the guest's last reply (nullopt: none yet).
  std::optional<uint32_t> last_reply_status() const { return last_reply_status_; }

 private:
  void on_negotiated(VirtualTime now) override { send_if_due(now); }
  void on_reply(const ic::IcReply& reply, VirtualTime now) override;
  std::optional<VirtualTime> on_poll(VirtualTime now) override;
  void send_if_due(VirtualTime now);

  struct Scheduled {
    VirtualTime at;
    uint32_t flags = 0;
  };
  std::optional<Scheduled> scheduled_;
  std::optional<uint32_t> last_reply_status_;
};

}  // namespace hvsim::devices
