// VmbusHost fault injection (vmbus_host.h "fault injection"; docs/vmbus.md "Fault injection"):
// raw and field-built messages, ring injection, TOCTOU rewrites, seeded fault points, and the
// poll-time work they need (delayed messages, armed rewrites). Every entry point validates its
// arguments and reports failure by return value; nothing here can make the host touch memory
// outside a ring or a message.
#include <algorithm>
#include <cstring>

#include "models/vmbus/message_fields.h"
#include "models/vmbus/vmbus_host.h"

namespace hvsim::vmbus {

namespace {

uint32_t type_of(std::span<const uint8_t> msg) {
  uint32_t type = 0;
  std::memcpy(&type, msg.data(), std::min(msg.size(), sizeof type));
  return type;
}

// Writes `fields` into `m`, then truncates or pads it to `size`.
VmbusHost::BuiltMessage finish(std::vector<uint8_t> m, MsgType type, const std::map<std::string, uint64_t>& fields,
                               std::optional<size_t> size) {
  VmbusHost::BuiltMessage out;
  if (size && (*size == 0 || *size > kMaxMessageSize)) {
    out.error = "message size " + std::to_string(*size) + " is not in 1.." + std::to_string(kMaxMessageSize);
    return out;
  }
  if (!apply_message_fields(m, type, fields, out.error)) return out;
  if (size) m.resize(*size, 0);
  out.bytes = std::move(m);
  return out;
}

template <typename T>
std::vector<uint8_t> bytes_of(const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  return {p, p + sizeof v};
}

}  // namespace

bool VmbusHost::send_raw(std::span<const uint8_t> msg, VirtualTime now, std::optional<VpIndex> vp) {
  now_ = now;
  if (msg.empty() || msg.size() > kMaxMessageSize) return false;
  if (vp && *vp >= platform_.vp_count()) return false;
  const VpIndex target = vp.value_or(reply_to_.value_or(ReplyTarget{}).vp);
  tracer_.emit(TracePoint::kVmbusMsgOut, now, static_cast<int>(target),
               {TraceField::str_("type", msg_type_name(type_of(msg))), TraceField::u64("size", msg.size()),
                TraceField::boolean("injected", true)});
  return enqueue(msg, now, vp);
}

VmbusHost::BuiltMessage VmbusHost::build_message(MsgType type, const std::map<std::string, uint64_t>& fields,
                                                 std::optional<size_t> size) const {
  const auto t = static_cast<uint32_t>(type);
  std::vector<uint8_t> m = bytes_of(MsgHeader{t, 0});
  m.resize(message_layout_size(type), 0);
  if (type == MsgType::kVersionResponse) {
    // What on_initiate_contact answers for the connected version (supported, success).
    VersionResponse r{};
    r.hdr.msgtype = t;
    r.version_supported = 1;
    const uint32_t v = version();
    r.msg_conn_id = v >= kVersionWin10V5 ? kMessageConnectionId : v;
    m = bytes_of(r);
    if (v >= kVersionCopper) m.resize(sizeof r + 4, 0);  // VERSION_RESPONSE2: no features
  }
  return finish(std::move(m), type, fields, size);
}

VmbusHost::BuiltMessage VmbusHost::build_offer(std::string_view device, const std::map<std::string, uint64_t>& fields,
                                               std::optional<size_t> size) const {
  for (const DeviceSlot& d : devices_) {
    if (d.device->desc().name != device) continue;
    const Channel* c = d.relid ? channel(*d.relid) : nullptr;
    OfferChannel m = offer_message(d.device->desc(), 0, c ? c->relid() : allocate_relid(),
                                   c ? c->monitor_id : std::nullopt, version());
    return finish(bytes_of(m), MsgType::kOfferChannel, fields, size);
  }
  BuiltMessage out;
  out.error = "no VMBus device '" + std::string(device) + "'";
  return out;
}

bool VmbusHost::inject_packet(uint32_t relid, std::span<const uint8_t> packet, VirtualTime now) {
  now_ = now;
  Channel* c = find_channel(relid);
  const Channel::OpenState* o = c ? c->open_state() : nullptr;
  if (!o || o->broken) return false;
  // A packet that can never fit is the injector's mistake, not the guest's: refuse it here
  // rather than let the ring report a violation.
  const uint64_t total = (uint64_t{packet.size()} + 7) / 8 * 8 + kPacketTrailerSize;
  bool ok = total < o->in.data_size() && c->send_raw(packet);
  c->trace(now, "inject_packet", {TraceField::boolean("injected", true), TraceField::u64("size", packet.size()),
                                  TraceField::boolean("written", ok)});
  return ok;
}

bool VmbusHost::inject_inband(uint32_t relid, std::span<const uint8_t> payload, uint64_t trans_id, uint16_t flags,
                              VirtualTime now) {
  now_ = now;
  Channel* c = find_channel(relid);
  const Channel::OpenState* o = c ? c->open_state() : nullptr;
  if (!o || o->broken) return false;
  const uint64_t total = sizeof(PacketDescriptor) + (uint64_t{payload.size()} + 7) / 8 * 8 + kPacketTrailerSize;
  bool ok = total < o->in.data_size() && c->send(kPktDataInband, flags, trans_id, payload);
  c->trace(now, "inject_inband", {TraceField::boolean("injected", true), TraceField::u64("size", payload.size()),
                                  TraceField::u64("trans_id", trans_id), TraceField::boolean("written", ok)});
  return ok;
}

bool VmbusHost::rewrite_last_packet(uint32_t relid, uint32_t offset, std::span<const uint8_t> bytes, VirtualTime now) {
  now_ = now;
  Channel* c = find_channel(relid);
  if (!c || !c->arm_rewrite(offset, {bytes.begin(), bytes.end()}, now)) return false;
  rewriting_.insert(relid);
  return true;
}

bool VmbusHost::rewrite_last_message(uint32_t offset, std::span<const uint8_t> bytes, VirtualTime after,
                                     VirtualTime now) {
  now_ = now;
  if (!last_posted_ || bytes.empty() || offset > last_posted_->msg.size() ||
      bytes.size() > last_posted_->msg.size() - offset) {
    return false;
  }
  VirtualTime due = after.ps() > VirtualTime::max().ps() - now.ps() ? VirtualTime::max() : now + after;
  message_rewrite_ = MessageRewrite{due, *last_posted_, offset, {bytes.begin(), bytes.end()}};
  return true;
}

bool VmbusHost::set_fault(std::string_view point, uint32_t num, uint32_t den, uint64_t seed, std::string* error) {
  std::string why;
  bool ok = faults_.set(point, num, den, seed, why);
  if (!ok && error) *error = why;
  return ok;
}

// --- poll-time work ---

void VmbusHost::release_delayed(VirtualTime now) {
  if (responses_.held() == 0 && !message_rewrite_) return;  // the common case, polled every round
  for (std::vector<uint8_t>& m : responses_.release(now)) {
    tracer_.emit(TracePoint::kVmbusMsgOut, now, reply_to_ ? static_cast<int>(reply_to_->vp) : kNoVp,
                 {TraceField::str_("type", msg_type_name(type_of(m))), TraceField::u64("size", m.size()),
                  TraceField::str_("fault", "released")});
    enqueue(m, now);
  }
  if (message_rewrite_ && message_rewrite_->due <= now) {
    MessageRewrite r = std::move(*message_rewrite_);
    message_rewrite_.reset();
    bool ok = platform_.rewrite_message(r.target.vp, r.target.sint, r.target.msg, r.offset, r.bytes, now);
    tracer_.emit(TracePoint::kVmbusMsgOut, now, static_cast<int>(r.target.vp),
                 {TraceField::str_("type", msg_type_name(type_of(r.target.msg))),
                  TraceField::str_("fault", "rewrite_message"), TraceField::u64("offset", r.offset),
                  TraceField::u64("size", r.bytes.size()), TraceField::str_("result", ok ? "rewritten" : "not_in_slot")});
  }
}

void VmbusHost::check_rewrites(VirtualTime now) {
  for (auto it = rewriting_.begin(); it != rewriting_.end();) {
    Channel* c = find_channel(*it);
    it = c && c->check_rewrite(now) ? std::next(it) : rewriting_.erase(it);
  }
}

std::optional<VirtualTime> VmbusHost::fault_deadline(VirtualTime now) const {
  std::optional<VirtualTime> next = responses_.next_release();
  if (message_rewrite_ && (!next || message_rewrite_->due < *next)) next = message_rewrite_->due;
  if (!rewriting_.empty()) {
    VirtualTime check = now + params_.latency;  // watching the guest's read_index
    if (!next || check < *next) next = check;
  }
  return next;
}

}  // namespace hvsim::vmbus
