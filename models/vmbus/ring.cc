// The host's side of a VMBus ring buffer (ring.h; PROTOCOL.md §6.1-6.4, §8.3).
//
// Contract: every call reads the control page afresh through the GpadlView and validates the
// indices it uses (< data size, 8-aligned) before touching the data area; all data-area
// accesses go through copy_in/copy_out, which wrap at the data size and stay inside the view.
// The only state kept between calls is the consumer's private read position and the bytes
// consumed since the last commit (the host's last committed read_index is derived from them,
// so a guest that rewrites read_index of the guest->host ring is caught).
#include "models/vmbus/ring.h"

#include <algorithm>
#include <cstring>

namespace hvsim::vmbus {

namespace {

constexpr uint32_t kAlign = 8;
constexpr uint32_t kDescriptorSize = sizeof(PacketDescriptor);
constexpr uint16_t kInbandOffset8 = kDescriptorSize / kAlign;
constexpr size_t kRingWriteIndexOffset = 0;

// §6.1: bytes published by the producer and not yet consumed (w == r: empty).
uint32_t ring_bytes_to_read(uint32_t write_index, uint32_t read_index, uint32_t size) {
  return write_index >= read_index ? write_index - read_index : size - read_index + write_index;
}

uint64_t round_up8(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

std::string num(uint64_t v) { return std::to_string(v); }

bool check_index(const char* name, uint32_t value, uint32_t size, std::string& why) {
  if (value >= size) {
    why = std::string(name) + " " + num(value) + " is not below the data size " + num(size);
    return false;
  }
  if (value % kAlign != 0) {
    why = std::string(name) + " " + num(value) + " is not a multiple of 8";
    return false;
  }
  return true;
}

}  // namespace

std::span<const uint8_t> RingPacket::payload() const {
  const size_t begin = size_t{desc.offset8} * kAlign;
  const size_t end = std::min(size_t{desc.len8} * kAlign, bytes.size());
  if (begin >= end) return {};
  return {bytes.data() + begin, end - begin};
}

HostRing::HostRing(GpadlView view) : view_(std::move(view)) {
  if (!view_.valid() || view_.size() < 2 * kPageSize || view_.size() - kRingControlSize > UINT32_MAX) return;
  data_size_ = static_cast<uint32_t>(view_.size() - kRingControlSize);
  valid_ = true;
}

void HostRing::attach_as_producer() {
  Indices x;
  if (!valid_ || !load(x)) return;
  store_u32(kRingFeatureBitsOffset, x.feature_bits | kRingFeatPendingSendSz);
  std::string why;
  if (check_index("write_index", x.write_index, data_size_, why) && check_index("read_index", x.read_index, data_size_, why)) {
    producer_write_ = x.write_index;
    producer_read_seen_ = x.read_index;
    producer_attached_ = true;
  }
}

bool HostRing::check_producer(const Indices& x, std::string& why) {
  if (!producer_attached_) return true;
  if (x.write_index != producer_write_) {
    why = "guest wrote write_index of the host->guest ring: " + num(x.write_index) + ", host wrote " + num(producer_write_);
    return false;
  }
  // read_index may only move forward over bytes the host wrote and the guest had not yet read.
  uint32_t consumed = ring_bytes_to_read(x.read_index, producer_read_seen_, data_size_);
  uint32_t outstanding = ring_bytes_to_read(producer_write_, producer_read_seen_, data_size_);
  if (consumed > outstanding) {
    why = "guest read beyond the write index: read_index moved from " + num(producer_read_seen_) + " to " +
          num(x.read_index) + " but only " + num(outstanding) + " bytes were written";
    return false;
  }
  producer_read_seen_ = x.read_index;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Consumer (guest->host ring)

bool HostRing::consumer_available(uint32_t& avail, std::string& why) {
  Indices x;
  if (!load(x)) {
    why = "ring control page is not readable";
    return false;
  }
  if (!check_index("write_index", x.write_index, data_size_, why) ||
      !check_index("read_index", x.read_index, data_size_, why)) {
    return false;
  }
  if (!private_read_valid_) {
    private_read_ = x.read_index;
    consumed_since_commit_ = 0;
    private_read_valid_ = true;
  }
  const auto committed = static_cast<uint32_t>((uint64_t{private_read_} + data_size_ - consumed_since_commit_) %
                                               data_size_);
  if (x.read_index != committed) {
    why = "guest wrote read_index of the guest->host ring: " + num(x.read_index) + ", host last committed " +
          num(committed);
    return false;
  }
  const uint32_t published = ring_bytes_to_read(x.write_index, committed, data_size_);
  if (published < consumed_since_commit_) {
    why = "write_index " + num(x.write_index) + " moved back into the " + num(consumed_since_commit_) +
          " bytes the host already consumed from offset " + num(committed);
    return false;
  }
  avail = published - consumed_since_commit_;
  return true;
}

HostRing::ReadStatus HostRing::read_packet(RingPacket& out, std::string& why) {
  if (!valid_) {
    why = "ring GPADL view is unusable (needs a control page and at least one data page)";
    return ReadStatus::kViolation;
  }
  uint32_t avail = 0;
  if (!consumer_available(avail, why)) return ReadStatus::kViolation;
  if (avail == 0) return ReadStatus::kEmpty;
  // The error prefix is built only on a violation: this is the per-packet path.
  auto at = [this] { return "packet at offset " + num(private_read_) + ": "; };
  if (avail < kDescriptorSize + kPacketTrailerSize) {
    why = at() + "only " + num(avail) + " bytes published, less than a descriptor and trailer";
    return ReadStatus::kViolation;
  }
  PacketDescriptor d;
  if (!copy_out(private_read_, reinterpret_cast<uint8_t*>(&d), sizeof d)) {
    why = at() + "data area is not readable";
    return ReadStatus::kViolation;
  }
  if (d.offset8 < kInbandOffset8) {
    why = at() + "offset8 " + num(d.offset8) + " is below 2 (the descriptor is 16 bytes)";
    return ReadStatus::kViolation;
  }
  if (d.len8 < d.offset8) {
    why = at() + "len8 " + num(d.len8) + " is below offset8 " + num(d.offset8);
    return ReadStatus::kViolation;
  }
  const uint32_t total = uint32_t{d.len8} * kAlign + kPacketTrailerSize;
  if (total > avail) {
    why = at() + "len8 " + num(d.len8) + " (" + num(total) + " bytes with the trailer) exceeds the " + num(avail) +
          " bytes published";
    return ReadStatus::kViolation;
  }
  out.desc = d;
  out.offset = private_read_;
  out.bytes.resize(size_t{d.len8} * kAlign);
  if (!copy_out(private_read_, out.bytes.data(), out.bytes.size())) {
    why = at() + "data area is not readable";
    return ReadStatus::kViolation;
  }
  private_read_ = static_cast<uint32_t>((uint64_t{private_read_} + total) % data_size_);
  consumed_since_commit_ += total;
  return ReadStatus::kPacket;
}

bool HostRing::commit_read() {
  if (!valid_ || !private_read_valid_ || consumed_since_commit_ == 0) return false;
  const uint32_t consumed = consumed_since_commit_;
  if (!store_u32(kRingReadIndexOffset, private_read_)) return false;
  consumed_since_commit_ = 0;

  // §6.4 step 3: signal the guest only when free space crossed its pending_send_sz.
  Indices x;
  std::string why;
  if (!load(x) || !(x.feature_bits & kRingFeatPendingSendSz) || x.pending_send_sz == 0) return false;
  if (!check_index("write_index", x.write_index, data_size_, why)) return false;  // read_packet reports it
  const uint32_t free_now = data_size_ - ring_bytes_to_read(x.write_index, private_read_, data_size_);
  if (free_now <= x.pending_send_sz) return false;
  const int64_t free_before = int64_t{free_now} - consumed;
  return free_before <= int64_t{x.pending_send_sz};
}

void HostRing::set_interrupt_mask(bool masked) {
  if (valid_) store_u32(kRingInterruptMaskOffset, masked ? 1 : 0);
}

uint32_t HostRing::bytes_to_read() {
  uint32_t avail = 0;
  std::string why;
  return valid_ && consumer_available(avail, why) ? avail : 0;
}

// ---------------------------------------------------------------------------------------------
// Producer (host->guest ring)

HostRing::WriteStatus HostRing::write_packet(uint16_t type, uint16_t flags, uint64_t trans_id,
                                             std::span<const uint8_t> payload, bool& signal, std::string& why) {
  signal = false;
  const uint64_t len8 = round_up8(kDescriptorSize + uint64_t{payload.size()}) / kAlign;
  if (len8 > UINT16_MAX) {
    why = "payload of " + num(payload.size()) + " bytes does not fit a packet (len8 " + num(len8) + " > 65535)";
    return WriteStatus::kViolation;
  }
  PacketDescriptor d{};
  d.type = type;
  d.offset8 = kInbandOffset8;
  d.len8 = static_cast<uint16_t>(len8);
  d.flags = flags;
  d.trans_id = trans_id;
  const auto* desc_bytes = reinterpret_cast<const uint8_t*>(&d);
  std::vector<uint8_t> packet(desc_bytes, desc_bytes + sizeof d);
  packet.insert(packet.end(), payload.begin(), payload.end());
  return write_raw(packet, signal, why);
}

HostRing::WriteStatus HostRing::write_raw(std::span<const uint8_t> packet, bool& signal, std::string& why) {
  signal = false;
  if (!valid_) {
    why = "ring GPADL view is unusable (needs a control page and at least one data page)";
    return WriteStatus::kViolation;
  }
  const uint64_t padded = round_up8(packet.size());
  const uint64_t total = padded + kPacketTrailerSize;
  if (total >= data_size_) {
    why = "packet of " + num(packet.size()) + " bytes (" + num(total) + " with padding and trailer) can never fit " +
          "the " + num(data_size_) + "-byte data area";
    return WriteStatus::kViolation;
  }
  Indices x;
  if (!load(x)) {
    why = "ring control page is not readable";
    return WriteStatus::kViolation;
  }
  if (!check_index("write_index", x.write_index, data_size_, why) ||
      !check_index("read_index", x.read_index, data_size_, why) || !check_producer(x, why)) {
    return WriteStatus::kViolation;
  }
  const uint32_t free = data_size_ - ring_bytes_to_read(x.write_index, x.read_index, data_size_);
  if (free <= total) {
    if (x.feature_bits & kRingFeatPendingSendSz) store_u32(kRingPendingSendSzOffset, static_cast<uint32_t>(total));
    return WriteStatus::kFull;
  }
  std::vector<uint8_t> bytes(total, 0);
  if (!packet.empty()) std::memcpy(bytes.data(), packet.data(), packet.size());
  const uint64_t trailer = uint64_t{x.write_index} << 32;
  std::memcpy(bytes.data() + padded, &trailer, sizeof trailer);
  const auto new_write = static_cast<uint32_t>((x.write_index + total) % data_size_);
  if (!copy_in(x.write_index, bytes) || !store_u32(kRingWriteIndexOffset, new_write)) {
    why = "ring data area or control page is not writable";
    return WriteStatus::kViolation;
  }
  producer_write_ = new_write;
  last_written_ = Written{x.write_index, static_cast<uint32_t>(total)};
  // §6.3 step 5: re-read the consumer's mask and read_index after publishing.
  Indices after;
  signal = load(after) && after.interrupt_mask == 0 && after.read_index == x.write_index;
  return WriteStatus::kWritten;
}

bool HostRing::space_became_available() {
  Indices x;
  std::string why;
  if (!valid_ || !load(x) || x.pending_send_sz == 0) return false;
  if (!check_index("write_index", x.write_index, data_size_, why) ||
      !check_index("read_index", x.read_index, data_size_, why)) {
    return false;
  }
  const uint32_t free = data_size_ - ring_bytes_to_read(x.write_index, x.read_index, data_size_);
  if (free <= x.pending_send_sz) return false;
  return store_u32(kRingPendingSendSzOffset, 0);
}

bool HostRing::overwrite(uint32_t data_offset, std::span<const uint8_t> bytes) {
  if (!valid_ || data_offset >= data_size_ || bytes.size() > data_size_) return false;
  return copy_in(data_offset, bytes);
}

// ---------------------------------------------------------------------------------------------
// Control page and data area access

bool HostRing::indices(Indices& out) const { return valid_ && load(out); }

bool HostRing::load(Indices& out) const {
  RingControl c;
  if (!view_.read(0, &c, sizeof c)) return false;
  out.write_index = c.write_index;
  out.read_index = c.read_index;
  out.interrupt_mask = c.interrupt_mask;
  out.pending_send_sz = c.pending_send_sz;
  out.feature_bits = c.feature_bits;
  return true;
}

bool HostRing::store_u32(size_t offset, uint32_t value) { return view_.write(offset, &value, sizeof value); }

// Callers pass data_offset < data_size_ and at most data_size_ bytes.
bool HostRing::copy_in(uint32_t data_offset, std::span<const uint8_t> src) {
  const size_t first = std::min<size_t>(src.size(), data_size_ - data_offset);
  return view_.write(kRingControlSize + data_offset, src.data(), first) &&
         view_.write(kRingControlSize, src.data() + first, src.size() - first);
}

bool HostRing::copy_out(uint32_t data_offset, uint8_t* dst, size_t len) const {
  const size_t first = std::min<size_t>(len, data_size_ - data_offset);
  return view_.read(kRingControlSize + data_offset, dst, first) &&
         view_.read(kRingControlSize, dst + first, len - first);
}

}  // namespace hvsim::vmbus
