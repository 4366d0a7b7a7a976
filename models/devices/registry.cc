// The device registry (contract in registry.h).
#include "models/devices/registry.h"

#include "models/devices/heartbeat/device.h"
#include "models/devices/instance_id.h"
#include "models/devices/kvp/device.h"
#include "models/devices/params.h"
#include "models/devices/shutdown/device.h"
#include "models/devices/test/device.h"
#include "models/devices/timesync/device.h"
#include "sim/core/rng.h"
#include "sim/core/status.h"

namespace hvsim::devices {
namespace {

// The description every type shares: class GUID, name, and the parameters any device takes
// (registry.h: instance, ring_pages_min, ring_pages_max).
vmbus::DeviceDesc describe(std::string_view class_guid, const std::string& name, ParamReader& p, uint64_t seed) {
  vmbus::DeviceDesc d;
  d.name = name;
  d.class_id = vmbus::guid(class_guid);
  d.instance_id = p.guid("instance").value_or(derive_instance_id(seed, name));
  d.ring_pages.min = static_cast<uint32_t>(p.integer("ring_pages_min", d.ring_pages.min, 2, UINT32_MAX));
  d.ring_pages.max = static_cast<uint32_t>(p.integer("ring_pages_max", d.ring_pages.max, 2, UINT32_MAX));
  if (d.ring_pages.max < d.ring_pages.min)
    throw UsageError("device " + name + ": parameter 'ring_pages_max' (" + std::to_string(d.ring_pages.max) +
                     ") is below 'ring_pages_min' (" + std::to_string(d.ring_pages.min) + ")");
  return d;
}

std::unique_ptr<vmbus::VmbusDevice> make_heartbeat(const std::string& name, ParamReader& p, uint64_t seed) {
  vmbus::DeviceDesc desc = describe(vmbus::kHeartbeatClass, name, p, seed);
  HeartbeatParams params;
  params.period = p.duration("period", params.period);
  if (params.period == VirtualTime{}) throw UsageError("device heartbeat: parameter 'period' must be > 0");
  p.finish();
  // First seq_num: below 2^32 so traces stay readable; any u64 would do (the guest adds 1, wrapping).
  const uint64_t first_seq = RngStream(seed, "devices.heartbeat/" + name).below(1ull << 32);
  return std::make_unique<HeartbeatDevice>(std::move(desc), params, first_seq);
}

std::unique_ptr<vmbus::VmbusDevice> make_shutdown(const std::string& name, ParamReader& p, uint64_t seed) {
  vmbus::DeviceDesc desc = describe(vmbus::kShutdownClass, name, p, seed);
  ShutdownParams params;
  params.at = p.duration("at");
  params.flags = static_cast<uint32_t>(p.integer("flags", params.flags, 0, UINT32_MAX));
  p.finish();
  return std::make_unique<ShutdownDevice>(std::move(desc), params);
}

std::unique_ptr<vmbus::VmbusDevice> make_timesync(const std::string& name, ParamReader& p, uint64_t seed) {
  vmbus::DeviceDesc desc = describe(vmbus::kTimesyncClass, name, p, seed);
  TimesyncParams params;
  params.epoch = p.integer("epoch", params.epoch, 0, UINT64_MAX);
  params.period = p.duration("period", params.period);
  if (params.period == VirtualTime{}) throw UsageError("device timesync: parameter 'period' must be > 0");
  p.finish();
  return std::make_unique<TimesyncDevice>(std::move(desc), params);
}

std::unique_ptr<vmbus::VmbusDevice> make_kvp(const std::string& name, ParamReader& p, uint64_t seed) {
  vmbus::DeviceDesc desc = describe(vmbus::kKvpClass, name, p, seed);
  KvpParams params;
  params.timeout = p.duration("timeout", params.timeout);
  if (params.timeout == VirtualTime{}) throw UsageError("device kvp: parameter 'timeout' must be > 0");
  p.finish();
  return std::make_unique<KvpDevice>(std::move(desc), params);
}

std::unique_ptr<vmbus::VmbusDevice> make_test(const std::string& name, ParamReader& p, uint64_t seed) {
  vmbus::DeviceDesc desc = describe(vmbus::kTestClass, name, p, seed);
  TestParams params;
  params.queue = p.integer("queue", params.queue, 1, 1u << 20);
  desc.sub_channels = static_cast<uint16_t>(p.integer("subchannels", 0, 0, 64));
  p.finish();
  return std::make_unique<TestDevice>(std::move(desc), params);
}

using Factory = std::unique_ptr<vmbus::VmbusDevice> (*)(const std::string&, ParamReader&, uint64_t);
struct Entry {
  const char* type;
  Factory make;
};
constexpr Entry kTypes[] = {{"heartbeat", make_heartbeat}, {"shutdown", make_shutdown}, {"timesync", make_timesync},
                            {"kvp", make_kvp},             {"test", make_test}};

}  // namespace

std::unique_ptr<vmbus::VmbusDevice> make_device(const std::string& type, const std::string& instance_name,
                                                const DeviceOptions& opts, uint64_t seed) {
  for (const Entry& e : kTypes) {
    if (type != e.type) continue;
    if (instance_name.empty()) throw UsageError("device " + type + ": the instance name is empty");
    ParamReader reader(type, opts);
    return e.make(instance_name, reader, seed);
  }
  std::string valid;
  for (const Entry& e : kTypes) valid += (valid.empty() ? "" : ", ") + std::string(e.type);
  throw UsageError("unknown device type '" + type + "' (valid: " + valid + ")");
}

std::vector<std::string> device_types() {
  std::vector<std::string> out;
  for (const Entry& e : kTypes) out.emplace_back(e.type);
  return out;
}

}  // namespace hvsim::devices
