// The scenario parser (contract in scenario_spec.h; the format in scenarios/README.md).
#include "sim/scenario/scenario_spec.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <tuple>
#include <utility>

#include "models/devices/registry.h"
#include "models/vmbus/message_fields.h"
#include "models/vmbus/vmbus_host.h"
#include "sim/cli/cli_options.h"
#include "sim/core/status.h"
#include "sim/scenario/json_reader.h"
#include "sim/scenario/time_text.h"

namespace hvsim::scenario {
namespace {

constexpr uint64_t kMaxPushBytes = 65536;

// Checks one machine field with the machine's own validation; its message, without the
// "--option: " prefix the command line uses, goes to the field's pointer.
template <typename Set>
void check_with_machine(const Value& v, Set set) {
  MachineParams p;
  set(p);
  try {
    validate(p);
  } catch (const UsageError& e) {
    std::string m = e.what();
    if (m.rfind("--", 0) == 0) {
      if (size_t colon = m.find(": "); colon != std::string::npos) m = m.substr(colon + 2);
    }
    v.fail_message(m);
  }
}

void parse_machine(const Value& v, Scenario& s) {
  Object o(v, {"guest", "vcpus", "memory", "host", "hv", "seed", "quantum", "tsc_hz", "apic_hz", "max_time", "ap_start"});
  MachineParams& m = s.machine;
  Value guest = o.required("guest");
  s.guest = guest.string();
  if (s.guest.empty()) guest.fail("a path to the guest ELF");
  if (auto x = o.optional("vcpus")) m.vcpus = static_cast<unsigned>(x->integer(1, 64));
  if (auto x = o.optional("memory")) {
    const char* expected = "a size like \"64M\" or \"1G\" (4M to 3G, a multiple of 2M)";
    if (!x->json().is_string()) x->fail(expected);
    try {
      m.memory = parse_size("memory", x->string());
    } catch (const UsageError&) {
      x->fail(expected);
    }
    check_with_machine(*x, [&](MachineParams& p) { p.memory = m.memory; });
  }
  if (auto x = o.optional("host")) {
    m.host = x->string();
    check_with_machine(*x, [&](MachineParams& p) { p.host = m.host; });
  }
  if (auto x = o.optional("hv")) {
    m.hv = x->string();
    check_with_machine(*x, [&](MachineParams& p) { p.hv = m.hv; });
  }
  if (auto x = o.optional("seed")) m.seed = x->integer(0, UINT64_MAX);
  if (auto x = o.optional("quantum")) m.quantum = x->integer(1, 100000000);
  if (auto x = o.optional("tsc_hz")) m.tsc_hz = x->integer(1000000, 100000000000ull);
  if (auto x = o.optional("apic_hz")) m.apic_hz = x->integer(1000000, 10000000000ull);
  if (auto x = o.optional("max_time")) {
    m.max_time = x->duration();
    if (m.max_time == VirtualTime{}) m.max_time = VirtualTime::max();  // "0": no limit, as --max-time 0
  }
  if (auto x = o.optional("ap_start")) {
    m.aps_parked = x->string_of({"all", "parked"}) == "parked";
    if (m.aps_parked && m.vcpus < 2) x->fail_message("\"parked\" needs vcpus 2 or more");
  }
}

vmbus::ThrottlePolicy parse_throttle_fields(const Object& o) {
  vmbus::ThrottlePolicy p;
  if (auto x = o.optional("threshold")) p.threshold = static_cast<uint32_t>(x->integer(0, UINT32_MAX));
  for (auto [key, field] : {std::pair{"window", &p.window}, std::pair{"suspend", &p.suspend}}) {
    if (auto x = o.optional(key)) {
      *field = x->duration();
      if (*field == VirtualTime{}) x->fail("a non-zero duration");
    }
  }
  return p;
}

void parse_vmbus(const Value& v, Scenario& s) {
  Object o(v, {"retarget_lag", "monitor_latency", "throttle"});
  if (auto x = o.optional("retarget_lag")) s.machine.retarget_lag = x->duration();
  if (auto x = o.optional("monitor_latency")) s.machine.monitor_latency = x->duration();
  if (auto x = o.optional("throttle")) s.machine.throttle = parse_throttle_fields(Object(*x, {"threshold", "window", "suspend"}));
}

bool valid_device_name(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

// Device parameters that have their own device key in a scenario (one spelling only).
constexpr std::pair<std::string_view, std::string_view> kKeyedParams[] = {
    {"instance", "\"instance\": \"GUID\""},
    {"ring_pages_min", "\"ring_pages\": {\"min\": N}"},
    {"ring_pages_max", "\"ring_pages\": {\"max\": N}"}};

// `instance` and `ring_pages` as the device parameters the registry reads (registry.h).
void parse_keyed_params(const Object& o, DeviceSpec& d) {
  if (auto x = o.optional("instance")) {
    vmbus::Guid g;
    if (!x->json().is_string() || !vmbus::parse_guid(x->string(), g))
      x->fail("an instance GUID \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\" (hex digits)");
    d.params["instance"] = x->string();
  }
  if (auto x = o.optional("ring_pages")) {
    Object r(*x, {"min", "max"});
    uint64_t min = 2;
    if (auto m = r.optional("min")) {
      min = m->integer(2, UINT32_MAX);
      d.params["ring_pages_min"] = std::to_string(min);
    }
    if (auto m = r.optional("max")) {
      const uint64_t max = m->integer(2, UINT32_MAX);
      if (max < min) m->fail("a maximum at least min (" + std::to_string(min) + ")");
      d.params["ring_pages_max"] = std::to_string(max);
    }
  }
}

void parse_devices(const Value& v, Scenario& s) {
  const std::vector<std::string> types = devices::device_types();
  std::string type_list;
  for (const std::string& t : types) type_list += (type_list.empty() ? "" : ", ") + t;
  std::vector<std::pair<vmbus::Guid, std::string>> instances;  // (instance GUID, device pointer)
  for (const Value& e : v.array()) {
    Object o(e, {"name", "type", "params", "offered", "instance", "ring_pages"});
    DeviceSpec d;
    d.pointer = e.pointer();
    Value type = o.required("type");
    d.type = type.string();
    if (std::find(types.begin(), types.end(), d.type) == types.end()) type.fail("a device type: one of " + type_list);
    d.name = d.type;
    if (auto x = o.optional("name")) {
      d.name = x->string();
      if (!valid_device_name(d.name)) x->fail("a device name of letters, digits, '_' and '-'");
    }
    for (const DeviceSpec& other : s.devices)
      if (other.name == d.name)
        o.optional("name").value_or(type).fail_message("device name \"" + d.name + "\" is already used by " + other.pointer +
                                                        " (give each device of one type its own name)");
    if (auto x = o.optional("offered")) d.offered = x->boolean();
    std::optional<Value> params = o.optional("params");
    if (params) {
      for (const auto& [key, value] : params->members()) {
        for (const auto& [keyed, spelling] : kKeyedParams)
          if (key == keyed) value.fail_message("write this as the device's own key: " + std::string(spelling));
        if (value.json().is_string()) d.params[key] = value.string();
        else if (value.json().is_number_unsigned()) d.params[key] = std::to_string(value.integer(0, UINT64_MAX));
        else value.fail("a string or a non-negative integer");
      }
    }
    parse_keyed_params(o, d);
    std::unique_ptr<vmbus::VmbusDevice> built;
    try {  // the model checks its parameters when it is built; build one to check them now
      built = devices::make_device(d.type, d.name, devices::DeviceOptions{d.params}, s.machine.seed);
    } catch (const UsageError& err) {
      params.value_or(e).fail_message(err.what());
    }
    const vmbus::Guid& instance = built->desc().instance_id;
    for (const auto& [other, pointer] : instances)
      if (other == instance)
        o.optional("instance").value_or(e).fail_message("instance GUID " + vmbus::guid_string(instance) +
                                                         " is already the instance GUID of " + pointer);
    instances.emplace_back(instance, d.pointer);
    s.devices.push_back(std::move(d));
  }
}

const DeviceSpec& device_field(const Object& o, const Scenario& s, const char* required_type) {
  Value v = o.required("device");
  std::string name = v.string();
  std::string names;
  for (const DeviceSpec& d : s.devices) {
    if (d.name == name) {
      if (required_type && d.type != required_type)
        v.fail_message("device \"" + name + "\" (" + d.pointer + ") has type " + d.type + "; this action needs a " +
                       required_type + " device");
      return d;
    }
    names += (names.empty() ? "" : ", ") + d.name;
  }
  v.fail("the name of a device in /devices (" + (names.empty() ? std::string("there are none") : names) + ")");
}

// `min`..`max` bytes as an even number of hex digits.
std::vector<uint8_t> parse_hex(const Value& v, size_t min = 0, size_t max = kMaxPushBytes) {
  const std::string range = min == 0 ? "at most " + std::to_string(max) : std::to_string(min) + " to " + std::to_string(max);
  const std::string expected = "an even number of hex digits (" + range + " bytes), e.g. \"0a1b\"";
  std::string hex = v.string();
  if (hex.size() % 2 != 0 || hex.size() / 2 < min || hex.size() / 2 > max) v.fail(expected);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto nibble = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      v.fail(expected);
    };
    out.push_back(static_cast<uint8_t>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

// --- fault-injection actions (fault_actions.h) ---

constexpr std::string_view kFaultKinds[] = {"send_message", "send_offer", "send_raw", "withhold", "delay",
                                            "clear_response_control", "inject_packet", "inject_inband",
                                            "rewrite_packet", "rewrite_message", "set_fault"};

bool is_fault_kind(std::string_view kind) {
  return std::find(std::begin(kFaultKinds), std::end(kFaultKinds), kind) != std::end(kFaultKinds);
}

// A message type by its protocol.h name ("OPENCHANNEL_RESULT").
vmbus::MsgType parse_msg_type(const Value& v) {
  std::string names;
  const std::string name = v.json().is_string() ? v.string() : std::string();
  for (uint32_t t = 0; t < static_cast<uint32_t>(vmbus::MsgType::kCount); ++t) {
    if (name == vmbus::msg_type_name(t)) return static_cast<vmbus::MsgType>(t);
    names += (names.empty() ? "" : ", ") + std::string(vmbus::msg_type_name(t));
  }
  v.fail("a message type name: one of " + names);
}

// `fields`: {name: integer} checked against `type`'s layout (message_fields.h), one by one so an
// error points at the faulty member.
std::map<std::string, uint64_t> parse_message_fields(const std::optional<Value>& v, vmbus::MsgType type) {
  std::map<std::string, uint64_t> fields;
  if (!v) return fields;
  if (!v->json().is_object()) v->fail("an object of message fields {\"name\": integer}");
  for (const auto& [name, value] : v->members()) {
    const uint64_t n = value.integer(0, UINT64_MAX);
    std::vector<uint8_t> scratch;
    std::string error;
    if (!vmbus::apply_message_fields(scratch, type, {{name, n}}, error)) value.fail_message(error);
    fields[name] = n;
  }
  return fields;
}

std::optional<size_t> parse_message_size(const Object& o) {
  if (auto x = o.optional("size")) return static_cast<size_t>(x->integer(1, vmbus::kMaxMessageSize));
  return std::nullopt;
}

// The VP an injected message goes to instead of the connection's (0 .. vcpus - 1).
std::optional<uint32_t> parse_target_vp(const Object& o, const Scenario& s) {
  if (auto x = o.optional("vp")) return static_cast<uint32_t>(x->integer(0, s.machine.vcpus - 1));
  return std::nullopt;
}

// A response-control count: N >= 1, or "all" (until cleared).
uint32_t parse_response_count(const Object& o) {
  auto x = o.optional("count");
  if (!x) return 1;
  if (x->json().is_string()) {
    if (x->string() != "all") x->fail("an integer from 1 to 4294967294, or \"all\"");
    return vmbus::VmbusHost::kUntilCleared;
  }
  if (!x->json().is_number_unsigned() || x->json().get<uint64_t>() == 0 ||
      x->json().get<uint64_t>() >= vmbus::VmbusHost::kUntilCleared)
    x->fail("an integer from 1 to 4294967294, or \"all\"");
  return static_cast<uint32_t>(x->json().get<uint64_t>());
}

// "NUM/DEN" with 1 <= DEN, NUM <= DEN (both 32-bit); "0/1" disarms.
std::pair<uint32_t, uint32_t> parse_probability(const Value& v) {
  const char* expected = "a probability \"NUM/DEN\" (integers, 0 <= NUM <= DEN, DEN >= 1), e.g. \"1/10\"";
  if (!v.json().is_string()) v.fail(expected);
  const std::string text = v.string();
  const size_t slash = text.find('/');
  auto number = [&](const std::string& digits) -> uint64_t {
    if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos) v.fail(expected);
    const uint64_t n = std::stoull(digits);
    if (n > UINT32_MAX) v.fail(expected);
    return n;
  };
  if (slash == std::string::npos) v.fail(expected);
  const uint64_t num = number(text.substr(0, slash)), den = number(text.substr(slash + 1));
  if (den == 0 || num > den) v.fail(expected);
  return {static_cast<uint32_t>(num), static_cast<uint32_t>(den)};
}

FaultAction parse_fault_action(const std::string& kind, const Object& o, const Scenario& s) {
  auto device = [&] { return device_field(o, s, nullptr).name; };
  if (kind == "send_message") {
    Value type_value = o.required("type");
    const vmbus::MsgType type = parse_msg_type(type_value);
    return SendMessageAction{type, parse_message_fields(o.optional("fields"), type), parse_message_size(o),
                             parse_target_vp(o, s)};
  }
  if (kind == "send_offer")
    return SendOfferAction{device(), parse_message_fields(o.optional("fields"), vmbus::MsgType::kOfferChannel),
                           parse_message_size(o)};
  if (kind == "send_raw") return SendRawAction{parse_hex(o.required("hex"), 1, vmbus::kMaxMessageSize), parse_target_vp(o, s)};
  if (kind == "withhold") return WithholdAction{parse_msg_type(o.required("response")), parse_response_count(o)};
  if (kind == "delay") {
    const vmbus::MsgType type = parse_msg_type(o.required("response"));
    Value by = o.required("by");
    if (by.duration() == VirtualTime{}) by.fail("a non-zero duration");
    return DelayAction{type, by.duration(), parse_response_count(o)};
  }
  if (kind == "clear_response_control") {
    ClearResponseControlAction a;
    if (auto x = o.optional("response")) a.response = parse_msg_type(*x);
    return a;
  }
  if (kind == "inject_packet") return InjectPacketAction{device(), parse_hex(o.required("hex"), 1)};
  if (kind == "inject_inband") {
    InjectInbandAction a{device(), {}, 0, 0};
    if (auto x = o.optional("payload_hex")) a.payload = parse_hex(*x);
    if (auto x = o.optional("trans_id")) a.trans_id = x->integer(0, UINT64_MAX);
    if (auto x = o.optional("flags")) a.flags = static_cast<uint16_t>(x->integer(0, UINT16_MAX));
    return a;
  }
  if (kind == "rewrite_packet")
    return RewritePacketAction{device(), static_cast<uint32_t>(o.required("offset").integer(0, UINT32_MAX)),
                               parse_hex(o.required("hex"), 1)};
  if (kind == "rewrite_message") {
    RewriteMessageAction a{static_cast<uint32_t>(o.required("offset").integer(0, vmbus::kMaxMessageSize - 1)),
                           parse_hex(o.required("hex"), 1, vmbus::kMaxMessageSize), VirtualTime{}};
    if (auto x = o.optional("rewrite_after")) a.after = x->duration();
    return a;
  }
  SetFaultAction a;
  a.point = o.required("point").string_of({"drop_signal", "delay_drain", "busy_outbox"});
  std::tie(a.num, a.den) = parse_probability(o.required("probability"));
  if (auto x = o.optional("seed")) a.seed = x->integer(0, UINT64_MAX);
  return a;
}

std::vector<std::string_view> fault_action_keys(const std::string& kind) {
  if (kind == "send_message") return {"type", "fields", "size", "vp"};
  if (kind == "send_offer") return {"device", "fields", "size"};
  if (kind == "send_raw") return {"hex", "vp"};
  if (kind == "withhold") return {"response", "count"};
  if (kind == "delay") return {"response", "by", "count"};
  if (kind == "clear_response_control") return {"response"};
  if (kind == "inject_packet") return {"device", "hex"};
  if (kind == "inject_inband") return {"device", "payload_hex", "trans_id", "flags"};
  if (kind == "rewrite_packet") return {"device", "offset", "hex"};
  if (kind == "rewrite_message") return {"offset", "hex", "rewrite_after"};  // "after" is a trigger
  return {"point", "probability", "seed"};  // set_fault
}

// --- the kvp action ---

constexpr std::string_view kKvpFields[] = {"pool", "key", "value", "value_type", "index", "adapter_id"};

// The fields a kvp op takes besides device and op.
std::vector<std::string_view> kvp_op_fields(uint8_t op) {
  switch (op) {
    case devices::kvp::kOpSet: return {"pool", "key", "value", "value_type"};
    case devices::kvp::kOpEnumerate: return {"pool", "index"};
    case devices::kvp::kOpGetIpInfo: return {"adapter_id"};
  }
  return {"pool", "key"};  // get, delete
}

// A pool by number (0-4) or name.
uint8_t parse_kvp_pool(const Value& v) {
  std::string names;
  for (uint8_t p = 0; p < devices::kvp::kPoolCount; ++p) {
    if (v.json().is_string() && v.string() == devices::kvp::pool_name(p)) return p;
    names += std::string(", \"") + devices::kvp::pool_name(p) + "\"";
  }
  if (v.json().is_number_unsigned() && v.json().get<uint64_t>() < devices::kvp::kPoolCount)
    return static_cast<uint8_t>(v.json().get<uint64_t>());
  v.fail("a pool: 0 to 4, or one of" + names.substr(1));
}

// UTF-8 text of `min`..`max` UTF-16 code units (what it becomes on the wire).
std::string parse_kvp_text(const Value& v, const std::string& what, size_t min, size_t max) {
  const std::string text = v.json().is_string() ? v.string() : std::string();
  const std::optional<std::u16string> units = devices::kvp::to_utf16(text);
  if (!v.json().is_string() || !units || units->size() < min || units->size() > max)
    v.fail(what + " of " + std::to_string(min) + " to " + std::to_string(max) + " UTF-16 code units (a string)");
  return text;
}

KvpAction parse_kvp_action(const Object& o, const Scenario& s) {
  namespace kvp = devices::kvp;
  KvpAction a{device_field(o, s, "kvp").name, {}};
  devices::KvpRequest& r = a.request;
  const std::string op = o.required("op").string_of({"get", "set", "delete", "enumerate", "get_ip_info"});
  while (op != kvp::op_name(r.op)) ++r.op;
  const std::vector<std::string_view> fields = kvp_op_fields(r.op);
  std::string list;
  for (std::string_view f : fields) list += (list.empty() ? "" : ", ") + std::string(f);
  for (std::string_view f : kKvpFields)
    if (auto x = o.optional(f); x && std::find(fields.begin(), fields.end(), f) == fields.end())
      x->fail_message("op \"" + op + "\" takes no " + std::string(f) + " (its fields: " + list + ")");
  if (r.op != kvp::kOpGetIpInfo) r.pool = parse_kvp_pool(o.required("pool"));
  if (r.op == kvp::kOpGet || r.op == kvp::kOpSet || r.op == kvp::kOpDelete)
    r.key = parse_kvp_text(o.required("key"), "a key", 1, kvp::kMaxKeyUnits);
  if (r.op == kvp::kOpSet) {
    std::string type = "string";
    if (auto x = o.optional("value_type")) type = x->string_of({"string", "u32", "u64"});
    Value value = o.required("value");
    if (type == "string") {
      r.value = parse_kvp_text(value, "a string value", 0, kvp::kMaxValueUnits);
    } else {
      r.value_type = type == "u32" ? kvp::kRegU32 : kvp::kRegU64;
      r.number = value.integer(0, type == "u32" ? UINT32_MAX : UINT64_MAX);
    }
  }
  if (auto x = o.optional("index")) r.index = static_cast<uint32_t>(x->integer(0, UINT32_MAX));
  if (auto x = o.optional("adapter_id")) r.adapter_id = parse_kvp_text(*x, "an adapter id", 0, kvp::kMaxAdapterIdUnits);
  return a;
}

Action parse_action(const std::string& kind, const Object& o, const Scenario& s) {
  if (kind == "offer") return OfferAction{device_field(o, s, nullptr).name};
  if (kind == "rescind") return RescindAction{device_field(o, s, nullptr).name};
  if (kind == "rescind_relid") return RescindRelidAction{static_cast<uint32_t>(o.required("relid").integer(1, UINT32_MAX))};
  if (kind == "push") return PushAction{device_field(o, s, "test").name, parse_hex(o.required("payload_hex"))};
  if (kind == "change_tsc_frequency") return ChangeTscFrequencyAction{o.required("hz").integer(1000000, 100000000000ull)};
  if (kind == "set_retarget_lag") return SetRetargetLagAction{o.required("lag").duration()};
  if (kind == "set_throttle") return SetThrottleAction{parse_throttle_fields(o)};
  if (is_fault_kind(kind)) return parse_fault_action(kind, o, s);
  if (kind == "kvp") return parse_kvp_action(o, s);
  uint32_t flags = 0;
  if (auto x = o.optional("flags")) flags = static_cast<uint32_t>(x->integer(0, UINT32_MAX));
  return ShutdownAction{device_field(o, s, "shutdown").name, flags};
}

std::vector<std::string_view> action_keys(const std::string& kind) {
  std::vector<std::string_view> keys(std::begin(kWhenKeys), std::end(kWhenKeys));
  keys.push_back("do");
  if (kind == "offer" || kind == "rescind") keys.push_back("device");
  else if (kind == "rescind_relid") keys.push_back("relid");
  else if (kind == "push") keys.insert(keys.end(), {"device", "payload_hex"});
  else if (kind == "change_tsc_frequency") keys.push_back("hz");
  else if (kind == "set_retarget_lag") keys.push_back("lag");
  else if (kind == "set_throttle") keys.insert(keys.end(), {"threshold", "window", "suspend"});
  else if (kind == "shutdown") keys.insert(keys.end(), {"device", "flags"});
  else if (kind == "kvp") {
    keys.insert(keys.end(), {"device", "op"});
    keys.insert(keys.end(), std::begin(kKvpFields), std::end(kKvpFields));
  }
  else if (is_fault_kind(kind)) {
    std::vector<std::string_view> own = fault_action_keys(kind);
    keys.insert(keys.end(), own.begin(), own.end());
  }
  return keys;
}

void parse_timeline(const Value& v, Scenario& s) {
  std::optional<VirtualTime> previous;  // the last `at` entry's time
  for (const Value& e : v.array()) {
    // Read "do" first: it decides which other keys the entry may have.
    if (!e.json().is_object()) e.fail("an object");
    std::optional<Value> kind_value = e.find("do");
    if (!kind_value) e.fail_message("missing key \"do\"");
    std::string kind = kind_value->string_of({"offer", "rescind", "rescind_relid", "push", "change_tsc_frequency",
                                             "set_retarget_lag", "set_throttle", "shutdown", "kvp", "send_message",
                                             "send_offer", "send_raw", "withhold", "delay", "clear_response_control",
                                             "inject_packet", "inject_inband", "rewrite_packet", "rewrite_message",
                                             "set_fault"});
    Object o(e, action_keys(kind));
    TimelineEntry t{e.pointer(), parse_entry_id(e), parse_when(e, s.machine.vcpus), parse_action(kind, o, s)};
    if (const auto* at = std::get_if<AtTrigger>(&t.when.trigger)) {
      if (previous && at->at < *previous)
        o.required("at").fail("a time at or after the previous at entry's (" + format_time(*previous) +
                              "); at entries are in time order");
      previous = at->at;
    }
    s.timeline.push_back(std::move(t));
  }
  std::vector<When*> whens;
  std::vector<std::string> ids, pointers;
  for (TimelineEntry& t : s.timeline) {
    whens.push_back(&t.when);
    ids.push_back(t.id);
    pointers.push_back(t.pointer);
  }
  check_after_references(whens, ids, pointers, s.file);
}

TraceExpectation parse_trace_expectation(const Object& o, bool never) {
  TraceExpectation t;
  t.never = never;
  t.select = parse_selector(o.required(never ? "never" : "trace"), o.optional("where"));
  if (never) t.min = 0, t.max = 0;
  if (auto c = o.optional("count")) {
    if (o.has("min") || o.has("max")) c->fail_message("count cannot be combined with min or max");
    t.min = t.max = c->integer(0, UINT64_MAX);
  }
  if (auto x = o.optional("min")) {
    t.min = x->integer(0, UINT64_MAX);
    if (!o.has("max")) t.max = UINT64_MAX;
  }
  if (auto x = o.optional("max")) {
    t.max = x->integer(0, UINT64_MAX);
    if (!o.has("min")) t.min = 0;
    if (t.max < t.min) x->fail("a maximum at least min (" + std::to_string(t.min) + ")");
  }
  if (auto x = o.optional("before")) t.before = x->duration();
  if (auto x = o.optional("after")) t.after = x->duration();
  if (auto x = o.optional("after_trace")) {
    Object a(*x, {"trace", "where"});
    t.after_trace = parse_selector(a.required("trace"), a.optional("where"));
  }
  return t;
}

void parse_expectations(const Value& v, Scenario& s) {
  static constexpr std::string_view kKinds[] = {"exit_code", "trace", "never", "no_crash", "ends_before"};
  for (const Value& e : v.array()) {
    if (!e.json().is_object()) e.fail("an object");
    std::string_view kind;
    for (std::string_view k : kKinds) {
      if (!e.json().contains(k)) continue;
      if (!kind.empty())
        e.fail_message("an expectation has exactly one of exit_code, trace, never, no_crash, ends_before; this one has " +
                       std::string(kind) + " and " + std::string(k));
      kind = k;
    }
    if (kind.empty()) e.fail("an expectation with one of exit_code, trace, never, no_crash, ends_before");
    std::vector<std::string_view> keys = {kind, "name"};
    if (kind == "trace" || kind == "never") keys.insert(keys.end(), {"where", "before", "after", "after_trace"});
    if (kind == "trace") keys.insert(keys.end(), {"count", "min", "max"});
    Object o(e, keys);
    Expectation x;
    x.pointer = e.pointer();
    if (auto n = o.optional("name")) x.name = n->string();
    if (kind == "exit_code") {
      x.what = ExitCodeExpectation{static_cast<uint32_t>(o.required("exit_code").integer(0, UINT32_MAX))};
    } else if (kind == "trace" || kind == "never") {
      x.what = parse_trace_expectation(o, kind == "never");
    } else if (kind == "no_crash") {
      Value b = o.required("no_crash");
      if (!b.boolean()) b.fail("true (to expect a crash, use trace run.verdict with where {\"verdict\": \"crash\"})");
      x.what = NoCrashExpectation{};
    } else {
      x.what = EndsBeforeExpectation{o.required("ends_before").duration()};
    }
    s.expectations.push_back(std::move(x));
  }
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& file, const std::vector<FieldPatch>& patches) {
  nlohmann::json doc = parse_json_document(text, file);
  for (const FieldPatch& p : patches) apply_patch(doc, p, file);
  Value root(doc, "", file);
  if (!doc.is_object()) root.fail("a scenario object");
  Object top(root, {"schema", "description", "machine", "devices", "vmbus", "timeline", "expect"});
  Scenario s;
  s.file = file;
  Value schema = top.required("schema");
  if (!schema.json().is_number_unsigned() || schema.json().get<uint64_t>() != kSchemaVersion)
    schema.fail("1 (the scenario format version this hvsim reads)");
  if (auto x = top.optional("description")) s.description = x->string();
  parse_machine(top.required("machine"), s);
  if (auto x = top.optional("vmbus")) parse_vmbus(*x, s);
  if (auto x = top.optional("devices")) {
    parse_devices(*x, s);
  } else {  // hvsim run's default devices
    for (const char* type : {"heartbeat", "shutdown", "timesync"}) s.devices.push_back(DeviceSpec{"/devices", type, type, {}, true});
  }
  if (auto x = top.optional("timeline")) parse_timeline(*x, s);
  if (auto x = top.optional("expect")) parse_expectations(*x, s);
  return s;
}

Scenario load_scenario(const std::string& path, const std::vector<FieldPatch>& patches) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read the scenario file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_scenario(text.str(), path, patches);
}

namespace {

std::string type_name(vmbus::MsgType t) { return vmbus::msg_type_name(static_cast<uint32_t>(t)); }
std::string count_text(uint32_t n) { return n == vmbus::VmbusHost::kUntilCleared ? "all" : std::to_string(n); }
std::string bytes_text(size_t n) { return std::to_string(n) + " bytes"; }

struct DescribeFault {
  std::string operator()(const SendMessageAction& x) const {
    return "send_message " + type_name(x.type) + " (" + std::to_string(x.fields.size()) + " fields set)";
  }
  std::string operator()(const SendOfferAction& x) const {
    return "send_offer " + x.device + " (" + std::to_string(x.fields.size()) + " fields set)";
  }
  std::string operator()(const SendRawAction& x) const { return "send_raw (" + bytes_text(x.bytes.size()) + ")"; }
  std::string operator()(const WithholdAction& x) const { return "withhold " + type_name(x.response) + " " + count_text(x.count); }
  std::string operator()(const DelayAction& x) const {
    return "delay " + type_name(x.response) + " by " + format_time(x.by) + " " + count_text(x.count);
  }
  std::string operator()(const ClearResponseControlAction& x) const {
    return "clear_response_control " + (x.response ? type_name(*x.response) : std::string("all"));
  }
  std::string operator()(const InjectPacketAction& x) const {
    return "inject_packet " + x.device + " (" + bytes_text(x.bytes.size()) + ")";
  }
  std::string operator()(const InjectInbandAction& x) const {
    return "inject_inband " + x.device + " (" + bytes_text(x.payload.size()) + ")";
  }
  std::string operator()(const RewritePacketAction& x) const {
    return "rewrite_packet " + x.device + " at " + std::to_string(x.offset) + " (" + bytes_text(x.bytes.size()) + ")";
  }
  std::string operator()(const RewriteMessageAction& x) const {
    return "rewrite_message at " + std::to_string(x.offset) + " (" + bytes_text(x.bytes.size()) + ") after " +
           format_time(x.after);
  }
  std::string operator()(const SetFaultAction& x) const {
    return "set_fault " + x.point + " " + std::to_string(x.num) + "/" + std::to_string(x.den);
  }
};

}  // namespace

std::string describe(const Action& a) {
  struct Describe {
    std::string operator()(const OfferAction& x) const { return "offer " + x.device; }
    std::string operator()(const RescindAction& x) const { return "rescind " + x.device; }
    std::string operator()(const RescindRelidAction& x) const { return "rescind_relid " + std::to_string(x.relid); }
    std::string operator()(const PushAction& x) const {
      return "push " + x.device + " (" + std::to_string(x.payload.size()) + " bytes)";
    }
    std::string operator()(const ChangeTscFrequencyAction& x) const { return "change_tsc_frequency " + std::to_string(x.hz); }
    std::string operator()(const SetRetargetLagAction& x) const { return "set_retarget_lag " + format_time(x.lag); }
    std::string operator()(const SetThrottleAction& x) const {
      if (x.policy.threshold == 0) return "set_throttle off";
      return "set_throttle " + std::to_string(x.policy.threshold) + "/" + format_time(x.policy.window) + "/" +
             format_time(x.policy.suspend);
    }
    std::string operator()(const ShutdownAction& x) const { return "shutdown " + x.device + " flags " + std::to_string(x.flags); }
    std::string operator()(const KvpAction& x) const {
      const devices::KvpRequest& r = x.request;
      std::string out = "kvp " + x.device + " " + devices::kvp::op_name(r.op);
      if (r.op == devices::kvp::kOpGetIpInfo) return out + " \"" + r.adapter_id + "\"";
      out += std::string(" ") + devices::kvp::pool_name(r.pool);
      if (r.op != devices::kvp::kOpEnumerate) return out + " \"" + r.key + "\"";
      return out + (r.index ? " index " + std::to_string(*r.index) : std::string(" (all)"));
    }
    std::string operator()(const FaultAction& x) const { return std::visit(DescribeFault{}, x); }
  };
  return std::visit(Describe{}, a);
}

}  // namespace hvsim::scenario
