// The VMBus host as the machine hosts it: builds the VmbusHost and its devices from the machine
// parameters, connects it to the Hyper-V model (message connection ids 1 and 4 for
// HvCallPostMessage, channel event connection ids for HvCallSignalEvent) and implements the
// host's VmbusPlatform over the SynICs (messages into SINT slots, SIEF event flags), the
// partition's reference time, and VP suspension (interrupt throttling) through the machine.
#pragma once

#include <memory>
#include <string>

#include "models/vmbus/vmbus_host.h"
#include "sim/machine/hv_host.h"
#include "sim/machine/ram_access.h"

namespace hvsim {

// What the bridge needs from the machine.
class VmbusMachine {
 public:
  virtual ~VmbusMachine() = default;
  virtual void vmbus_suspend(int vp, VirtualTime until) = 0;
  virtual VirtualTime vmbus_vp_now(int vp) = 0;  // the local time of a VP inside an exit
};

struct VmbusConfig {
  std::string devices;  // "heartbeat,shutdown,timesync" (types, each once); "none" = no VMBus host
  std::vector<std::pair<std::string, std::string>> device_params;  // ("shutdown.at", "3s")
  VirtualTime retarget_lag;
  vmbus::ThrottlePolicy throttle;
  VirtualTime monitor_latency;
};

class VmbusBridge final : private vmbus::VmbusPlatform {
 public:
  // Throws UsageError for an unknown device type, a duplicate, or a bad parameter.
  VmbusBridge(const VmbusConfig& config, const hv::HostProfile& host, uint64_t seed, GuestMemory& mem, HvHost& hv,
              VmbusMachine& machine, Tracer& tracer);
  vmbus::VmbusHost& host() { return *host_; }
  std::optional<VirtualTime> poll(VirtualTime now) { return host_->poll(now); }
  bool retries_pending() const { return host_->retries_pending(); }

 private:
  vmbus::MessageDelivery post_message(vmbus::VpIndex vp, unsigned sint, std::span<const uint8_t> msg,
                                      VirtualTime now) override;
  void signal_event(vmbus::VpIndex vp, unsigned sint, uint32_t flag, VirtualTime now) override;
  uint64_t reference_time(VirtualTime now) override { return reference_time_at(now); }
  void suspend_vp(vmbus::VpIndex vp, VirtualTime until) override { machine_.vmbus_suspend(static_cast<int>(vp), until); }
  uint32_t vp_count() const override { return vp_count_; }
  bool rewrite_message(vmbus::VpIndex vp, unsigned sint, std::span<const uint8_t> expected, size_t offset,
                       std::span<const uint8_t> bytes, VirtualTime now) override;

  HvHost& hv_;
  VmbusMachine& machine_;
  RamAccess ram_;
  uint32_t vp_count_;
  std::unique_ptr<vmbus::VmbusHost> host_;
};

}  // namespace hvsim
