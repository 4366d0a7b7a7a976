// A recording vmbus::ChannelIo for unit tests of device models: it stands in for the host's side
// of one open channel and keeps everything the device does with it.
//
// - send() records each accepted packet in `sent` (type, flags, trans_id, payload bytes), in order.
//   `room` is how many more packets the ring accepts; each accepted packet takes one. At 0, send()
//   returns false and records nothing (a full ring). The default is effectively unlimited.
// - vmbus_version(), relid() and sub_channel_index() return the fields `version`, `channel_relid`
//   and `sub_index`; reference_time(now) is reference_time_at(now) + `ref_offset`.
// - trace() records each call in `traces` with its time, event name and fields as text: strings as
//   given, booleans "true"/"false", hex numbers "0x…", other numbers in decimal (kI64 signed).
//   named(event) returns the records of one event in order; count(event) says how many there are.
// guest_packet() builds what the guest would have written to the guest->host ring: a 16-byte
// descriptor (offset8 2) and the payload zero-padded to 8 bytes.
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/vmbus/vmbus_device.h"

namespace hvsim::test {

struct SentPacket {
  uint16_t type, flags;
  uint64_t trans_id;
  std::vector<uint8_t> payload;
};

struct TraceRecord {
  VirtualTime t;
  std::string event;
  std::map<std::string, std::string> fields;
};

class RecordingChannelIo final : public vmbus::ChannelIo {
 public:
  static constexpr size_t kUnlimited = std::numeric_limits<size_t>::max();

  bool send(uint16_t type, uint16_t flags, uint64_t trans_id, std::span<const uint8_t> payload) override {
    if (room == 0) return false;
    --room;
    sent.push_back({type, flags, trans_id, std::vector<uint8_t>(payload.begin(), payload.end())});
    return true;
  }
  uint32_t vmbus_version() const override { return version; }
  uint32_t relid() const override { return channel_relid; }
  uint16_t sub_channel_index() const override { return sub_index; }
  uint64_t reference_time(VirtualTime now) const override { return reference_time_at(now) + ref_offset; }
  void trace(VirtualTime now, std::string_view event, std::initializer_list<TraceField> fields) override {
    TraceRecord r{now, std::string(event), {}};
    for (const TraceField& f : fields) r.fields[f.key] = text_of(f);
    traces.push_back(std::move(r));
  }

  std::vector<TraceRecord> named(std::string_view event) const {
    std::vector<TraceRecord> out;
    for (const TraceRecord& r : traces)
      if (r.event == event) out.push_back(r);
    return out;
  }
  size_t count(std::string_view event) const {
    size_t n = 0;
    for (const TraceRecord& r : traces) n += r.event == event ? 1 : 0;
    return n;
  }

  size_t room = kUnlimited;
  uint32_t version = vmbus::kVersionWin10V53;
  uint32_t channel_relid = 1;
  uint16_t sub_index = 0;
  uint64_t ref_offset = 0;
  std::vector<SentPacket> sent;
  std::vector<TraceRecord> traces;

 private:
  static std::string text_of(const TraceField& f) {
    switch (f.kind) {
      case TraceField::Kind::kStr: return std::string(f.str);
      case TraceField::Kind::kBool: return f.num ? "true" : "false";
      case TraceField::Kind::kHex: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(f.num));
        return buf;
      }
      case TraceField::Kind::kI64: return std::to_string(static_cast<int64_t>(f.num));
      case TraceField::Kind::kU64: break;
    }
    return std::to_string(f.num);
  }
};

inline vmbus::RingPacket guest_packet(uint16_t type, uint16_t flags, uint64_t trans_id, const std::vector<uint8_t>& payload) {
  vmbus::RingPacket p;
  const size_t padded = (payload.size() + 7) / 8 * 8;
  p.desc = {type, 2, static_cast<uint16_t>((16 + padded) / 8), flags, trans_id};
  p.bytes.resize(16 + padded);
  std::memcpy(p.bytes.data(), &p.desc, 16);
  std::copy(payload.begin(), payload.end(), p.bytes.begin() + 16);
  return p;
}

}  // namespace hvsim::test
