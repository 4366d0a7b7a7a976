// The IC framework: framing, negotiation and reply validation (contract in ic.h).
#include "models/devices/ic/ic.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace hvsim::devices::ic {
namespace {

template <typename T>
T read_at(std::span<const uint8_t> bytes, size_t offset) {
  T v{};
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

bool offered(std::span<const IcVersion> list, IcVersion v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

std::string version_string(IcVersion v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

IcDevice::IcDevice(vmbus::DeviceDesc desc, IcService service) : desc_(std::move(desc)), service_(std::move(service)) {}

void IcDevice::opened(vmbus::ChannelIo& io, VirtualTime now) {
  io_ = &io;
  phase_ = Phase::kNegotiating;
  framework_version_ = message_version_ = IcVersion{0, 0};
  next_trans_id_ = 1;
  outstanding_.clear();

  const size_t fw_count = std::size(kFrameworkVersions);
  const size_t msg_count = service_.message_versions.size();
  std::vector<uint8_t> body(negotiate_body_size(fw_count + msg_count));
  IcmsgNegotiate neg{static_cast<uint16_t>(fw_count), static_cast<uint16_t>(msg_count), 0};
  std::memcpy(body.data(), &neg, sizeof neg);
  size_t at = sizeof neg;
  for (const IcVersion& v : kFrameworkVersions) { std::memcpy(body.data() + at, &v, sizeof v); at += sizeof v; }
  for (const IcVersion& v : service_.message_versions) { std::memcpy(body.data() + at, &v, sizeof v); at += sizeof v; }
  queue_request(kMsgTypeNegotiate, kFrameworkVersions[0], service_.message_versions.front(), body, now);
}

void IcDevice::closed(VirtualTime /*now*/) {
  io_ = nullptr;
  phase_ = Phase::kClosed;
  outstanding_.clear();
  on_closed();
}

std::optional<VirtualTime> IcDevice::poll(VirtualTime now) {
  if (phase_ != Phase::kReady) return std::nullopt;
  return on_poll(now);
}

void IcDevice::space_available(VirtualTime now) { send_queued(now); }

std::optional<uint64_t> IcDevice::send_request(std::span<const uint8_t> body, VirtualTime now) {
  if (phase_ != Phase::kReady || body.size() > 0xFFFF) return std::nullopt;
  return queue_request(service_.msgtype, framework_version_, message_version_, body, now);
}

bool IcDevice::forget(uint64_t trans_id) { return outstanding_.erase(trans_id) != 0; }

void IcDevice::trace(VirtualTime now, std::string_view event, std::initializer_list<TraceField> fields) {
  if (io_) io_->trace(now, event, fields);
}

uint64_t IcDevice::queue_request(uint16_t msgtype, IcVersion framework, IcVersion message,
                                 std::span<const uint8_t> body, VirtualTime now) {
  const uint64_t trans_id = next_trans_id_++;
  IcmsgHdr hdr{};
  hdr.icverframe = framework;
  hdr.icmsgtype = msgtype;
  hdr.icvermsg = message;
  hdr.icmsgsize = static_cast<uint16_t>(body.size());
  hdr.status = kStatusOk;
  hdr.ictransaction_id = static_cast<uint8_t>(trans_id);
  hdr.icflags = kFlagsRequest;
  const VmbuspipeHdr pipe{kPipeData, static_cast<uint32_t>(sizeof hdr + body.size())};

  Request req;
  req.msgtype = msgtype;
  req.bytes.resize(kIcBodyOffset + body.size());
  std::memcpy(req.bytes.data(), &pipe, sizeof pipe);
  std::memcpy(req.bytes.data() + kIcmsgHdrOffset, &hdr, sizeof hdr);
  if (!body.empty()) std::memcpy(req.bytes.data() + kIcBodyOffset, body.data(), body.size());

  if (outstanding_.size() >= kMaxOutstanding) {
    const uint64_t oldest = outstanding_.begin()->first;
    outstanding_.erase(outstanding_.begin());
    trace(now, "ic.dropped", {TraceField::u64("trans_id", oldest)});
  }
  outstanding_.emplace(trans_id, std::move(req));
  send_queued(now);
  return trans_id;
}

void IcDevice::send_queued(VirtualTime now) {
  if (!io_) return;
  for (auto& [trans_id, req] : outstanding_) {
    if (req.sent) continue;
    if (!io_->send(vmbus::kPktDataInband, 0, trans_id, req.bytes)) {
      trace(now, "ic.ring_full", {TraceField::u64("trans_id", trans_id)});
      return;
    }
    req.sent = true;
  }
}

void IcDevice::bad_reply(VirtualTime now, std::string_view reason, uint64_t trans_id) {
  trace(now, "ic.bad_reply", {TraceField::str_("reason", reason), TraceField::u64("trans_id", trans_id)});
}

void IcDevice::packet(const vmbus::RingPacket& p, VirtualTime now) {
  if (!io_) return;
  const uint64_t trans_id = p.desc.trans_id;
  if (p.desc.type != vmbus::kPktDataInband) return bad_reply(now, "packet type not inband", trans_id);
  const std::span<const uint8_t> payload = p.payload();
  if (payload.size() < kIcBodyOffset) return bad_reply(now, "too short", trans_id);
  const auto hdr = read_at<IcmsgHdr>(payload, kIcmsgHdrOffset);
  if (hdr.icflags & kFlagRequest) return bad_reply(now, "unsolicited request", trans_id);
  if (hdr.icflags != kFlagsResponse) return bad_reply(now, "bad icflags", trans_id);
  auto it = outstanding_.find(trans_id);
  if (it == outstanding_.end() || !it->second.sent) return bad_reply(now, "unknown trans_id", trans_id);
  if (hdr.ictransaction_id != static_cast<uint8_t>(trans_id)) return bad_reply(now, "ictransaction_id mismatch", trans_id);
  if (hdr.icmsgtype != it->second.msgtype) return bad_reply(now, "icmsgtype mismatch", trans_id);
  if (hdr.icmsgsize > payload.size() - kIcBodyOffset) return bad_reply(now, "icmsgsize exceeds packet", trans_id);
  const std::span<const uint8_t> body = payload.subspan(kIcBodyOffset, hdr.icmsgsize);

  if (hdr.icmsgtype == kMsgTypeNegotiate) return negotiate_reply(trans_id, hdr.status, body, now);
  if (body.size() < service_.min_reply_body) return bad_reply(now, "icmsgsize too small", trans_id);
  outstanding_.erase(it);
  on_reply(IcReply{trans_id, hdr.status, body}, now);
}

void IcDevice::negotiate_reply(uint64_t trans_id, uint32_t status, std::span<const uint8_t> body, VirtualTime now) {
  if (body.size() < sizeof(IcmsgNegotiate)) return bad_reply(now, "icmsgsize too small", trans_id);
  const auto neg = read_at<IcmsgNegotiate>(body, 0);
  const bool refused = neg.icframe_vercnt == 0 && neg.icmsg_vercnt == 0;
  if (!refused && (neg.icframe_vercnt != 1 || neg.icmsg_vercnt != 1))
    return bad_reply(now, "bad version counts", trans_id);
  if (body.size() < negotiate_body_size(size_t{neg.icframe_vercnt} + neg.icmsg_vercnt))
    return bad_reply(now, "icmsgsize too small", trans_id);

  if (refused || status != kStatusOk) {
    outstanding_.erase(trans_id);
    phase_ = Phase::kFailed;
    trace(now, "ic.negotiate_failed", {TraceField::hex("status", status)});
    return;
  }
  const auto framework = read_at<IcVersion>(body, sizeof(IcmsgNegotiate));
  const auto message = read_at<IcVersion>(body, sizeof(IcmsgNegotiate) + sizeof(IcVersion));
  if (!offered(kFrameworkVersions, framework) || !offered(service_.message_versions, message))
    return bad_reply(now, "version not offered", trans_id);

  outstanding_.erase(trans_id);
  phase_ = Phase::kReady;
  framework_version_ = framework;
  message_version_ = message;
  const std::string fw = version_string(framework);
  const std::string msg = version_string(message);
  trace(now, "ic.negotiated", {TraceField::str_("framework", fw), TraceField::str_("message", msg)});
  on_negotiated(now);
}

}  // namespace hvsim::devices::ic
