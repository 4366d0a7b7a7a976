#include "sim/machine/vmbus_bridge.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "models/devices/registry.h"
#include "sim/core/status.h"
#include "sim/core/text.h"

namespace hvsim {

VmbusBridge::VmbusBridge(const VmbusConfig& config, const hv::HostProfile& host, uint64_t seed, GuestMemory& mem,
                         HvHost& hv, VmbusMachine& machine, Tracer& tracer)
    : hv_(hv), machine_(machine), ram_(mem), vp_count_(hv.partition().params().vcpu_count) {
  vmbus::VmbusHostParams p;
  p.versions.assign(host.vmbus_versions.begin(), host.vmbus_versions.end());
  p.gpadl_cap_bytes = host.gpadl_aggregate_cap_bytes;
  p.features = host.vmbus_features;
  p.seed = seed;
  p.retarget_lag = config.retarget_lag;
  p.throttle = config.throttle;
  p.monitor_latency = config.monitor_latency;
  host_ = std::make_unique<vmbus::VmbusHost>(std::move(p), ram_, static_cast<vmbus::VmbusPlatform&>(*this), tracer);

  // Entries are TYPE or TYPE:NAME (several devices of one type need names: test:t1,test:t2).
  std::vector<std::pair<std::string, std::string>> entries;  // (type, name)
  for (std::string_view piece : config.devices.empty() ? std::vector<std::string_view>{} : split_list(config.devices, ',')) {
    const std::string e(piece);
    size_t colon = e.find(':');
    std::string type = e.substr(0, colon), name = colon == std::string::npos ? type : e.substr(colon + 1);
    if (type.empty() || name.empty())
      throw UsageError("--vmbus-devices: expected TYPE or TYPE:NAME entries, got '" + e + "' in '" + config.devices + "'");
    entries.emplace_back(type, name);
  }
  std::map<std::string, devices::DeviceOptions> options;  // by device name
  for (const auto& [key, value] : config.device_params) {
    size_t dot = key.find('.');
    std::string dev = key.substr(0, dot);
    bool known = std::any_of(entries.begin(), entries.end(), [&](const auto& en) { return en.second == dev; });
    if (dot == std::string::npos || dot + 1 == key.size() || !known)
      throw UsageError("--device-param " + key + "=" + value + ": expected NAME.KEY=VALUE for a device in --vmbus-devices (" +
                       config.devices + ")");
    options[dev].params[key.substr(dot + 1)] = value;
  }
  for (const auto& [type, name] : entries) host_->add_device(devices::make_device(type, name, options[name], seed));

  for (uint32_t id : host_->message_connection_ids()) {
    hv.register_message_port(id, [this, id](int vp, uint32_t, const uint8_t* payload, uint32_t size) {
      return host_->post_message(static_cast<vmbus::VpIndex>(vp), id, std::span<const uint8_t>(payload, size),
                                 machine_.vmbus_vp_now(vp));
    });
  }
  hv.set_event_fallback([this](int vp, uint32_t connection_id, uint16_t flag) {
    return host_->signal_event(static_cast<vmbus::VpIndex>(vp), connection_id, flag, machine_.vmbus_vp_now(vp));
  });
}

vmbus::MessageDelivery VmbusBridge::post_message(vmbus::VpIndex vp, unsigned sint, std::span<const uint8_t> msg,
                                                 VirtualTime now) {
  if (vp >= vp_count_ || msg.size() > hv::kHvMessagePayloadSize) return vmbus::MessageDelivery::kRejected;
  hv::HvMessage m{};
  m.header.message_type = vmbus::kVmbusMessageType;
  m.header.payload_size = static_cast<uint8_t>(msg.size());
  std::memcpy(m.payload, msg.data(), msg.size());
  switch (hv_.partition().synic(vp).post_message(sint, m, now)) {
    case hv::PostResult::kDelivered:
    case hv::PostResult::kQueued: return vmbus::MessageDelivery::kAccepted;
    case hv::PostResult::kBusy:
    case hv::PostResult::kQueueFull: return vmbus::MessageDelivery::kBusy;
    case hv::PostResult::kRejected: return vmbus::MessageDelivery::kRejected;
  }
  return vmbus::MessageDelivery::kRejected;
}

bool VmbusBridge::rewrite_message(vmbus::VpIndex vp, unsigned sint, std::span<const uint8_t> expected, size_t offset,
                                  std::span<const uint8_t> bytes, VirtualTime) {
  return vp < vp_count_ && hv_.partition().synic(vp).rewrite_slot(sint, vmbus::kVmbusMessageType, expected, offset, bytes);
}

void VmbusBridge::signal_event(vmbus::VpIndex vp, unsigned sint, uint32_t flag, VirtualTime now) {
  if (vp < vp_count_) hv_.partition().synic(vp).signal_event(sint, flag, now);
}

}  // namespace hvsim
