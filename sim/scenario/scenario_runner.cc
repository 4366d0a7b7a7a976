// Scenario runs (contract in scenario_runner.h).
#include "sim/scenario/scenario_runner.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "models/devices/kvp/device.h"
#include "models/devices/registry.h"
#include "models/devices/shutdown/device.h"
#include "models/devices/test/device.h"
#include "sim/core/status.h"

namespace hvsim::scenario {
namespace {

constexpr std::string_view kGuestDirPlaceholder = "${HVSIM_GUEST_DIR}";

bool needs_vmbus_host(const Action& a) {
  return !std::holds_alternative<ChangeTscFrequencyAction>(a);
}

void add_wanted(std::vector<bool>& wanted, const TraceSelector& s) { wanted[static_cast<size_t>(s.point)] = true; }

// The relid of the device's primary channel now (none: the device has no channel).
std::optional<uint32_t> relid_of(const vmbus::VmbusHost& host, const std::string& device) {
  const vmbus::Channel* c = host.channel_of(device);
  if (!c) return std::nullopt;
  return c->relid();
}

// One fault-injection action (fault_actions.h) on `host`; false: the host refused it.
// `machine_seed` seeds a set_fault that names none.
bool perform_fault(const FaultAction& a, vmbus::VmbusHost& host, uint64_t machine_seed, VirtualTime now) {
  if (const auto* x = std::get_if<SendMessageAction>(&a)) {
    vmbus::VmbusHost::BuiltMessage m = host.build_message(x->type, x->fields, x->size);
    return m.error.empty() && host.send_raw(m.bytes, now, x->vp);
  }
  if (const auto* x = std::get_if<SendOfferAction>(&a)) {
    vmbus::VmbusHost::BuiltMessage m = host.build_offer(x->device, x->fields, x->size);
    return m.error.empty() && host.send_raw(m.bytes, now);
  }
  if (const auto* x = std::get_if<SendRawAction>(&a)) return host.send_raw(x->bytes, now, x->vp);
  if (const auto* x = std::get_if<WithholdAction>(&a)) {
    host.withhold(x->response, x->count);
    return true;
  }
  if (const auto* x = std::get_if<DelayAction>(&a)) {
    host.delay(x->response, x->by, x->count);
    return true;
  }
  if (const auto* x = std::get_if<ClearResponseControlAction>(&a)) {
    if (x->response) host.clear_response_control(*x->response);
    else host.clear_response_control();
    return true;
  }
  if (const auto* x = std::get_if<InjectPacketAction>(&a)) {
    std::optional<uint32_t> relid = relid_of(host, x->device);
    return relid && host.inject_packet(*relid, x->bytes, now);
  }
  if (const auto* x = std::get_if<InjectInbandAction>(&a)) {
    std::optional<uint32_t> relid = relid_of(host, x->device);
    return relid && host.inject_inband(*relid, x->payload, x->trans_id, x->flags, now);
  }
  if (const auto* x = std::get_if<RewritePacketAction>(&a)) {
    std::optional<uint32_t> relid = relid_of(host, x->device);
    return relid && host.rewrite_last_packet(*relid, x->offset, x->bytes, now);
  }
  if (const auto* x = std::get_if<RewriteMessageAction>(&a)) return host.rewrite_last_message(x->offset, x->bytes, x->after, now);
  const auto& x = std::get<SetFaultAction>(a);
  return host.set_fault(x.point, x.num, x.den, x.seed.value_or(machine_seed));
}

}  // namespace

std::string default_guest_dir() {
  const char* env = std::getenv("HVSIM_GUEST_DIR");
  if (env && *env) return env;
  return HVSIM_BUILD_GUEST_DIR;
}

std::string resolve_guest_path(const std::string& guest, const std::string& scenario_file, const std::string& guest_dir) {
  if (guest.rfind(kGuestDirPlaceholder, 0) == 0) return guest_dir + guest.substr(kGuestDirPlaceholder.size());
  if (guest.find("${") != std::string::npos)
    throw UsageError(scenario_file + ": /machine/guest: expected a path, \"${HVSIM_GUEST_DIR}/NAME.elf\" being the only placeholder, got \"" +
                     guest + "\"");
  std::filesystem::path p(guest);
  if (p.is_absolute()) return guest;
  return (std::filesystem::path(scenario_file).parent_path() / p).lexically_normal().string();
}

ScenarioRunner::ScenarioRunner(const Scenario& s, const std::vector<std::pair<std::string, std::string>>& cli_options)
    : s_(s), wanted_(static_cast<size_t>(TracePoint::kCount), false) {
  options_.machine = s.machine;
  MachineParams& m = options_.machine;
  m.guest = resolve_guest_path(s.guest, s.file, default_guest_dir());
  std::string offered;
  m.device_params.clear();
  for (const DeviceSpec& d : s.devices) {
    if (!d.offered) continue;
    offered += (offered.empty() ? "" : ",") + d.type + ":" + d.name;
    for (const auto& [key, value] : d.params) m.device_params.emplace_back(d.name + "." + key, value);
  }
  m.vmbus_devices = s.devices.empty() ? "none" : offered;  // "": a host whose devices all come later
  bool guest_overridden = false;
  for (const auto& [opt, value] : cli_options) {
    apply_run_option(options_, opt, value);
    guest_overridden = guest_overridden || opt == "--guest";
  }
  if (!guest_overridden && !std::filesystem::is_regular_file(m.guest))
    throw UsageError(s.file + ": /machine/guest: no guest ELF at '" + m.guest +
                     "' (build outputs are named \"${HVSIM_GUEST_DIR}/NAME.elf\")");
  if (m.aps_parked && m.vcpus < 2) throw UsageError(s.file + ": /machine/ap_start: \"parked\" needs vcpus 2 or more");

  machine_ = std::make_unique<Machine>(m);
  vmbus::VmbusHost* host = machine_->vmbus();
  if (!host && !s.devices.empty())
    throw UsageError(s.file + ": /devices: the VMBus host needs the SynIC (machine.hv '" + m.hv + "' lacks hv-synic)");
  for (const DeviceSpec& d : s.devices)
    if (!d.offered) host->add_device(devices::make_device(d.type, d.name, devices::DeviceOptions{d.params}, m.seed), false);

  for (const TimelineEntry& e : s.timeline)
    if (!host && needs_vmbus_host(e.action))
      throw UsageError(s.file + ": " + e.pointer + ": " + describe(e.action) + " needs the VMBus host, and this machine has none");
  timeline_ = std::make_unique<TimelineScheduler>(s, *machine_, [this](const Action& a, VirtualTime now) { return perform(a, now); });

  for (const Expectation& x : s.expectations) {
    if (const auto* t = std::get_if<TraceExpectation>(&x.what)) {
      add_wanted(wanted_, t->select);
      if (t->after_trace) add_wanted(wanted_, *t->after_trace);
    }
  }
  // Observing makes the tracer format every record: only when an expectation or a trigger reads
  // the trace.
  if (std::find(wanted_.begin(), wanted_.end(), true) != wanted_.end() || timeline_->watches_any()) {
    machine_->tracer().add_observer([this](TracePoint p, VirtualTime t, int, std::string_view json) {
      ++lines_;
      if (wanted_[static_cast<size_t>(p)]) log_.add(lines_, json);
      timeline_->on_record(p, t, json);
    });
  }
  if (!options_.trace_path.empty() && !machine_->tracer().open_jsonl(options_.trace_path, options_.trace_filter))
    throw UsageError("--trace: cannot write '" + options_.trace_path + "'");
}

bool ScenarioRunner::perform(const Action& a, VirtualTime now) {
  vmbus::VmbusHost* host = machine_->vmbus();
  if (const auto* x = std::get_if<ChangeTscFrequencyAction>(&a)) {
    machine_->change_tsc_frequency(x->hz);
    return true;
  }
  if (const auto* x = std::get_if<FaultAction>(&a)) return perform_fault(*x, *host, options_.machine.seed, now);
  if (const auto* x = std::get_if<OfferAction>(&a)) return host->offer(x->device, now);
  if (const auto* x = std::get_if<RescindAction>(&a)) return host->rescind(x->device, now);
  if (const auto* x = std::get_if<RescindRelidAction>(&a)) return host->rescind_relid(x->relid, now);
  if (const auto* x = std::get_if<PushAction>(&a)) {
    auto* dev = dynamic_cast<devices::TestDevice*>(host->device(x->device));
    return dev && dev->push(x->payload, now);
  }
  if (const auto* x = std::get_if<SetRetargetLagAction>(&a)) {
    host->set_retarget_lag(x->lag);
    return true;
  }
  if (const auto* x = std::get_if<SetThrottleAction>(&a)) {
    host->set_throttle(x->policy);
    return true;
  }
  if (const auto* x = std::get_if<KvpAction>(&a)) {
    auto* dev = dynamic_cast<devices::KvpDevice*>(host->device(x->device));
    return dev && dev->request(x->request);
  }
  const auto& x = std::get<ShutdownAction>(a);
  auto* dev = dynamic_cast<devices::ShutdownDevice*>(host->device(x.device));
  if (!dev) return false;
  dev->request_shutdown(now, x.flags);
  return true;
}

ScenarioReport ScenarioRunner::run() {
  ScenarioReport r;
  r.run.verdict = machine_->run();
  r.run.end = machine_->now();
  r.actions = timeline_->results(r.run);
  for (const Expectation& x : s_.expectations) r.expectations.push_back(evaluate(x, log_, r.run));
  r.status = scenario_status(s_, r);
  return r;
}

int scenario_status(const Scenario& s, const ScenarioReport& r) {
  for (const auto* checks : {&r.actions, &r.expectations})
    for (const CheckResult& c : *checks)
      if (!c.held) return 1;
  for (const Expectation& x : s.expectations)
    if (covers_verdict(x, r.run.verdict.kind)) return 0;
  return r.run.verdict.status();
}

}  // namespace hvsim::scenario
