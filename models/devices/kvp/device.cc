// The KVP IC: request encoding, one-at-a-time sending, reply validation (contract in device.h).
#include "models/devices/kvp/device.h"

#include <cstring>
#include <iterator>
#include <span>
#include <vector>

namespace hvsim::devices {
namespace kvp {

std::optional<std::u16string> to_utf16(std::string_view utf8) {
  static constexpr uint32_t kMinOfLength[] = {0, 0, 0x80, 0x800, 0x10000};  // shortest form rule
  std::u16string out;
  for (size_t i = 0; i < utf8.size();) {
    const auto lead = static_cast<uint8_t>(utf8[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (lead < 0x80) n = 1, cp = lead;
    else if ((lead & 0xE0) == 0xC0) n = 2, cp = lead & 0x1Fu;
    else if ((lead & 0xF0) == 0xE0) n = 3, cp = lead & 0x0Fu;
    else if ((lead & 0xF8) == 0xF0) n = 4, cp = lead & 0x07u;
    else return std::nullopt;
    if (n > utf8.size() - i) return std::nullopt;
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<uint8_t>(utf8[i + k]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      cp = cp << 6 | (b & 0x3Fu);
    }
    if (cp < kMinOfLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += n;
  }
  return out;
}

std::optional<std::string> to_utf8(std::u16string_view utf16) {
  std::string out;
  for (size_t i = 0; i < utf16.size(); ++i) {
    uint32_t cp = utf16[i];
    if (cp >= 0xDC00 && cp <= 0xDFFF) return std::nullopt;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (i + 1 == utf16.size() || utf16[i + 1] < 0xDC00 || utf16[i + 1] > 0xDFFF) return std::nullopt;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (utf16[i + 1] - 0xDC00u);
      ++i;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | cp >> 6));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | cp >> 12));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | cp >> 18));
      out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

const char* op_name(uint8_t op) {
  static constexpr const char* kNames[] = {"get", "set", "delete", "enumerate", "get_ip_info"};
  return op < std::size(kNames) ? kNames[op] : "?";
}

const char* pool_name(uint8_t pool) {
  static constexpr const char* kNames[] = {"external", "guest", "auto", "auto_external", "auto_internal"};
  return pool < std::size(kNames) ? kNames[pool] : "?";
}

const char* value_type_name(uint32_t type) {
  switch (type) {
    case kRegSz: return "string";
    case kRegU32: return "u32";
    case kRegU64: return "u64";
  }
  return "?";
}

}  // namespace kvp

namespace {

using namespace kvp;
using Bytes = std::vector<uint8_t>;

template <typename T>
T read_at(std::span<const uint8_t> bytes, size_t offset) {
  T v{};
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

template <typename T>
void put(Bytes& b, size_t offset, T v) {
  std::memcpy(b.data() + offset, &v, sizeof v);
}

// `units` as UTF-16LE at `offset`; the terminator is the zero byte pair after them. Returns the
// byte size, terminator included.
uint32_t put_string(Bytes& b, size_t offset, const std::u16string& units) {
  for (size_t i = 0; i < units.size(); ++i) put<uint16_t>(b, offset + 2 * i, units[i]);
  return static_cast<uint32_t>(2 * (units.size() + 1));
}

// The pool a request goes out with.
uint8_t wire_pool(const KvpRequest& r) { return r.op == kOpGetIpInfo ? kPoolGuest : r.pool; }

// The request body (validated by check_kvp_request, so every conversion succeeds).
Bytes encode(const KvpRequest& r, uint32_t index) {
  if (r.op == kOpGetIpInfo) {
    Bytes body(kIpMsgSize);
    body[0] = kOpGetIpInfo;
    body[1] = wire_pool(r);
    put_string(body, offsetof(KvpIpMsg, value) + offsetof(KvpIpAddrValue, adapter_id), to_utf16(r.adapter_id).value_or(u""));
    return body;
  }
  Bytes body(kExchangeMsgSize);
  body[0] = r.op;
  body[1] = r.pool;
  const std::u16string key = to_utf16(r.key).value_or(u"");
  constexpr size_t kData = offsetof(KvpMsgGetSet, data);
  switch (r.op) {
    case kOpDelete:
      put(body, offsetof(KvpMsgDelete, key_size), put_string(body, offsetof(KvpMsgDelete, key), key));
      break;
    case kOpEnumerate:
      put(body, offsetof(KvpMsgEnumerate, index), index);
      break;
    case kOpSet:
      put(body, kData + offsetof(KvpValue, value_type), r.value_type);
      if (r.value_type == kRegSz) {
        const uint32_t size = put_string(body, kData + offsetof(KvpValue, value), to_utf16(r.value).value_or(u""));
        put(body, kData + offsetof(KvpValue, value_size), size);
      } else if (r.value_type == kRegU32) {
        put(body, kData + offsetof(KvpValue, value), static_cast<uint32_t>(r.number));
        put(body, kData + offsetof(KvpValue, value_size), uint32_t{4});
      } else {
        put(body, kData + offsetof(KvpValue, value), r.number);
        put(body, kData + offsetof(KvpValue, value_size), uint32_t{8});
      }
      [[fallthrough]];
    case kOpGet:
      put(body, kData + offsetof(KvpValue, key_size), put_string(body, kData + offsetof(KvpValue, key), key));
      break;
  }
  return body;
}

// A string of `size` bytes, NUL included, at the start of `field`: "" and `out`, or the reason
// it is malformed.
std::string read_sized_string(std::span<const uint8_t> field, uint32_t size, const std::string& what, std::string& out) {
  if (size < 2 || size % 2 != 0 || size > field.size()) return "bad " + what + " size";
  std::u16string units;
  for (size_t i = 0; i < size; i += 2) units.push_back(static_cast<char16_t>(field[i] | field[i + 1] << 8));
  if (units.back() != 0) return what + " not NUL-terminated";
  units.pop_back();
  if (units.find(u'\0') != std::u16string::npos) return what + " has an embedded NUL";
  std::optional<std::string> text = to_utf8(units);
  if (!text) return what + " not UTF-16";
  out = std::move(*text);
  return "";
}

// A NUL-terminated string filling at most `field` (the IP info strings).
std::string read_bounded_string(std::span<const uint8_t> field, const std::string& what, std::string& out) {
  std::u16string units;
  for (size_t i = 0; i + 1 < field.size(); i += 2) {
    const auto u = static_cast<char16_t>(field[i] | field[i + 1] << 8);
    if (u == 0) {
      std::optional<std::string> text = to_utf8(units);
      if (!text) return what + " not UTF-16";
      out = std::move(*text);
      return "";
    }
    units.push_back(u);
  }
  return what + " not NUL-terminated";
}

struct ReadValue {
  uint32_t type = 0;
  std::string text;  // kRegSz
  uint64_t number = 0;  // kRegU32 / kRegU64
};

std::string read_value(const KvpValue& v, ReadValue& out) {
  out.type = v.value_type;
  switch (v.value_type) {
    case kRegSz: return read_sized_string(std::span<const uint8_t>(v.value), v.value_size, "value", out.text);
    case kRegU32:
      if (v.value_size != sizeof(uint32_t)) return "bad value size";
      out.number = read_at<uint32_t>(std::span<const uint8_t>(v.value), 0);
      return "";
    case kRegU64:
      if (v.value_size != sizeof(uint64_t)) return "bad value size";
      out.number = read_at<uint64_t>(std::span<const uint8_t>(v.value), 0);
      return "";
  }
  return "bad value type";
}

std::string check_text(const std::string& text, const char* field, size_t min_units, size_t max_units) {
  std::optional<std::u16string> units = to_utf16(text);
  if (!units) return std::string(field) + ": not valid UTF-8";
  if (units->size() < min_units || units->size() > max_units)
    return std::string(field) + ": " + std::to_string(units->size()) + " UTF-16 code units; expected " +
           std::to_string(min_units) + " to " + std::to_string(max_units);
  return "";
}

}  // namespace

std::string check_kvp_request(const KvpRequest& r) {
  if (r.op > kOpGetIpInfo) return "op: unknown operation " + std::to_string(r.op);
  if (r.op == kOpGetIpInfo) return check_text(r.adapter_id, "adapter_id", 0, kMaxAdapterIdUnits);
  if (r.pool >= kPoolCount) return "pool: unknown pool " + std::to_string(r.pool);
  if (r.op == kOpEnumerate) return "";
  if (std::string e = check_text(r.key, "key", 1, kMaxKeyUnits); !e.empty()) return e;
  if (r.op != kOpSet) return "";
  switch (r.value_type) {
    case kRegSz: return check_text(r.value, "value", 0, kMaxValueUnits);
    case kRegU32: return r.number > UINT32_MAX ? "value: " + std::to_string(r.number) + " does not fit REG_U32" : "";
    case kRegU64: return "";
  }
  return "value_type: unknown type " + std::to_string(r.value_type);
}

KvpDevice::KvpDevice(vmbus::DeviceDesc desc, KvpParams params)
    : IcDevice(std::move(desc), ic::IcService{kMsgType, {std::begin(kMessageVersions), std::end(kMessageVersions)}, 0}),
      params_(params) {}

bool KvpDevice::request(const KvpRequest& r) {
  if (!check_kvp_request(r).empty() || pending_.size() >= kMaxPending) return false;
  pending_.push_back(Queued{r, 0});
  return true;
}

std::optional<VirtualTime> KvpDevice::on_poll(VirtualTime now) {
  if (in_flight_ && now >= in_flight_->deadline) {
    const InFlight f = std::move(*in_flight_);
    in_flight_.reset();
    forget(f.trans_id);
    trace(now, "kvp.timeout", {TraceField::str_("op", op_name(f.q.req.op)), TraceField::u64("trans_id", f.trans_id)});
    if (f.q.req.op == kOpEnumerate && !f.q.req.index) continue_walk(f, false, "timeout", now);
  }
  send_next(now);
  if (in_flight_) return in_flight_->deadline;
  return std::nullopt;
}

void KvpDevice::send_next(VirtualTime now) {
  while (!in_flight_ && !pending_.empty() && phase() == Phase::kReady) {
    Queued q = std::move(pending_.front());
    pending_.pop_front();
    if (q.req.op == kOpGetIpInfo && message_version().major < kIpInfoMajor) {
      const std::string version = ic::version_string(message_version());
      trace(now, "kvp.refused", {TraceField::str_("op", op_name(q.req.op)),
                                 TraceField::str_("reason", "needs message version 4.0"),
                                 TraceField::str_("message_version", version)});
      continue;
    }
    const uint32_t index = q.req.index.value_or(q.walk_index);
    const Bytes body = encode(q.req, index);
    const std::optional<uint64_t> trans_id = send_request(body, now);
    if (!trans_id) {  // not negotiated (checked above): keep it for later
      pending_.push_front(std::move(q));
      return;
    }
    in_flight_ = InFlight{std::move(q), index, *trans_id, body.size(), now + params_.timeout};
    trace_request(*in_flight_, now);
  }
}

void KvpDevice::trace_request(const InFlight& f, VirtualTime now) {
  const KvpRequest& r = f.q.req;
  const TraceField op = TraceField::str_("op", op_name(r.op));
  const TraceField pool = TraceField::str_("pool", pool_name(r.pool));
  const TraceField trans_id = TraceField::u64("trans_id", f.trans_id);
  switch (r.op) {
    case kOpGetIpInfo:
      trace(now, "kvp.request", {op, TraceField::str_("adapter_id", r.adapter_id), trans_id});
      return;
    case kOpEnumerate:
      trace(now, "kvp.request", {op, pool, TraceField::u64("index", f.index), trans_id});
      return;
    case kOpSet: {
      const TraceField type = TraceField::str_("type", value_type_name(r.value_type));
      const TraceField value =
          r.value_type == kRegSz ? TraceField::str_("value", r.value) : TraceField::u64("value", r.number);
      trace(now, "kvp.request", {op, pool, TraceField::str_("key", r.key), type, value, trans_id});
      return;
    }
  }
  trace(now, "kvp.request", {op, pool, TraceField::str_("key", r.key), trans_id});
}

void KvpDevice::on_reply(const ic::IcReply& reply, VirtualTime now) {
  if (!in_flight_ || in_flight_->trans_id != reply.trans_id) return;
  const InFlight f = std::move(*in_flight_);
  in_flight_.reset();
  const KvpRequest& r = f.q.req;
  std::string reason;
  if (reply.body.size() != f.size) reason = "size mismatch";
  else if (reply.body[0] != r.op) reason = "operation not echoed";
  else if (reply.body[1] != wire_pool(r)) reason = "pool not echoed";
  else if (reply.status == ic::kStatusOk) reason = read_ok_reply(f, reply, now);
  else trace_failed_reply(f, reply.status, now);

  if (!reason.empty())
    trace(now, "kvp.bad_reply", {TraceField::str_("op", op_name(r.op)), TraceField::u64("trans_id", f.trans_id),
                                 TraceField::str_("reason", reason)});
  if (r.op == kOpEnumerate && !r.index) {
    if (!reason.empty()) continue_walk(f, false, "bad_reply", now);
    else if (reply.status == ic::kStatusOk) continue_walk(f, true, "", now);
    else continue_walk(f, false, reply.status == kStatusNoMoreItems ? "no_more_items" : "failed", now);
  }
  send_next(now);
}

std::string KvpDevice::read_ok_reply(const InFlight& f, const ic::IcReply& reply, VirtualTime now) {
  const KvpRequest& r = f.q.req;
  const TraceField op = TraceField::str_("op", op_name(r.op));
  const TraceField pool = TraceField::str_("pool", pool_name(r.pool));
  const TraceField status = TraceField::hex("status", reply.status);
  const TraceField ok = TraceField::boolean("ok", true);
  const TraceField trans_id = TraceField::u64("trans_id", f.trans_id);

  if (r.op == kOpSet || r.op == kOpDelete) {
    trace(now, "kvp.reply", {op, pool, TraceField::str_("key", r.key), status, ok, trans_id});
    return "";
  }
  if (r.op == kOpGetIpInfo) {
    constexpr size_t kBase = offsetof(KvpIpMsg, value);
    auto field = [&](size_t offset, size_t units) { return reply.body.subspan(kBase + offset, 2 * units); };
    std::string adapter, ip, subnet, gateway, dns, e;
    if ((e = read_bounded_string(field(offsetof(KvpIpAddrValue, adapter_id), kAdapterIdUnits), "adapter_id", adapter)).empty() &&
        (e = read_bounded_string(field(offsetof(KvpIpAddrValue, ip_addr), kIpAddrUnits), "ip", ip)).empty() &&
        (e = read_bounded_string(field(offsetof(KvpIpAddrValue, sub_net), kIpAddrUnits), "subnet", subnet)).empty() &&
        (e = read_bounded_string(field(offsetof(KvpIpAddrValue, gate_way), kGatewayUnits), "gateway", gateway)).empty() &&
        (e = read_bounded_string(field(offsetof(KvpIpAddrValue, dns_addr), kIpAddrUnits), "dns", dns)).empty()) {
      const auto family = reply.body[kBase + offsetof(KvpIpAddrValue, addr_family)];
      const auto dhcp = reply.body[kBase + offsetof(KvpIpAddrValue, dhcp_enabled)];
      trace(now, "kvp.reply",
            {op, TraceField::str_("adapter_id", adapter), TraceField::u64("addr_family", family),
             TraceField::boolean("dhcp", dhcp != 0), TraceField::str_("ip", ip), TraceField::str_("subnet", subnet),
             TraceField::str_("gateway", gateway), TraceField::str_("dns", dns), status, ok, trans_id});
    }
    return e;
  }

  // GET or ENUMERATE: a value; ENUMERATE also names the key at its index.
  const bool get = r.op == kOpGet;
  if (!get && read_at<uint32_t>(reply.body, offsetof(KvpMsgEnumerate, index)) != f.index) return "index not echoed";
  const auto value = read_at<KvpValue>(reply.body, get ? offsetof(KvpMsgGetSet, data) : offsetof(KvpMsgEnumerate, data));
  std::string key = r.key;
  if (!get) {
    if (std::string e = read_sized_string(std::span<const uint8_t>(value.key), value.key_size, "key", key); !e.empty())
      return e;
  }
  ReadValue v;
  if (std::string e = read_value(value, v); !e.empty()) return e;
  const TraceField type = TraceField::str_("type", value_type_name(v.type));
  const TraceField shown = v.type == kRegSz ? TraceField::str_("value", v.text) : TraceField::u64("value", v.number);
  if (get) trace(now, "kvp.reply", {op, pool, TraceField::str_("key", key), type, shown, status, ok, trans_id});
  else
    trace(now, "kvp.reply",
          {op, pool, TraceField::u64("index", f.index), TraceField::str_("key", key), type, shown, status, ok, trans_id});
  return "";
}

void KvpDevice::trace_failed_reply(const InFlight& f, uint32_t status_value, VirtualTime now) {
  const KvpRequest& r = f.q.req;
  const TraceField op = TraceField::str_("op", op_name(r.op));
  const TraceField pool = TraceField::str_("pool", pool_name(r.pool));
  const TraceField status = TraceField::hex("status", status_value);
  const TraceField ok = TraceField::boolean("ok", false);
  const TraceField trans_id = TraceField::u64("trans_id", f.trans_id);
  if (r.op == kOpGetIpInfo)
    trace(now, "kvp.reply", {op, TraceField::str_("adapter_id", r.adapter_id), status, ok, trans_id});
  else if (r.op == kOpEnumerate)
    trace(now, "kvp.reply", {op, pool, TraceField::u64("index", f.index), status, ok, trans_id});
  else
    trace(now, "kvp.reply", {op, pool, TraceField::str_("key", r.key), status, ok, trans_id});
}

void KvpDevice::continue_walk(const InFlight& f, bool ok, std::string_view end, VirtualTime now) {
  uint32_t count = f.index;  // entries the walk received before this step
  if (ok) {
    count = f.index + 1;
    if (count < kMaxWalk) {
      pending_.push_front(Queued{f.q.req, count});
      return;
    }
    end = "limit";
  }
  trace(now, "kvp.enumerated", {TraceField::str_("pool", pool_name(f.q.req.pool)), TraceField::u64("count", count),
                                TraceField::str_("end", end)});
}

}  // namespace hvsim::devices
