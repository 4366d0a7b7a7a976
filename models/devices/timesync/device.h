// The time synchronization integration component (PROTOCOL.md §7.4, class GUID kTimesyncClass).
//
// Negotiates framework {3.0, 1.0} and message {4.0, 3.0, 1.0}. Right after negotiation it sends
// one SYNC, then a SAMPLE every `period` on the grid negotiated_at + k * period (a late poll skips
// missed grid points: one sample per poll). The host clock is `epoch` at virtual time 0 and runs
// with virtual time: parenttime = epoch + reference_time_at(now) (100 ns units since
// 1601-01-01 UTC). Message version 4.0 sends IctimesyncRefData with vmreferencetime = the
// partition reference time at now (ChannelIo::reference_time), leapflags = stratum = 0; older
// versions send IctimesyncData with childtime = roundtriptime = 0. Replies are checked by the
// framework only. Traces "timesync.sent" {kind, layout, parenttime, vmreferencetime (4.0 only)}
// and "timesync.reply" {status}.
#pragma once

#include <cstdint>
#include <optional>

#include "models/devices/ic/ic.h"

namespace hvsim::devices {

// 2026-01-01T00:00:00Z in 100 ns units since 1601-01-01T00:00:00Z:
// (11644473600 s to 1970 + 1767225600 s to 2026) * 10^7.
constexpr uint64_t kDefaultTimesyncEpoch = 134116992000000000ull;  // 0x01DC7AB192810000

struct TimesyncParams {
  uint64_t epoch = kDefaultTimesyncEpoch;           // `epoch`: host wall clock at virtual time 0
  VirtualTime period = VirtualTime::from_ms(5000);  // `period`: between samples (0 acts as 1 ps)
};

class TimesyncDevice final : public ic::IcDevice {
 public:
  TimesyncDevice(vmbus::DeviceDesc desc, TimesyncParams params);
  uint64_t samples_sent() const { return samples_sent_; }

 private:
  void on_negotiated(VirtualTime now) override;
  void on_reply(const ic::IcReply& reply, VirtualTime now) override;
  std::optional<VirtualTime> on_poll(VirtualTime now) override;
  void send_time(uint8_t flags, VirtualTime now);

  TimesyncParams params_;
  VirtualTime next_due_{};
  uint64_t samples_sent_ = 0;
};

}  // namespace hvsim::devices
