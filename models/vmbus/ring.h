// The host's side of one VMBus ring buffer (PROTOCOL.md §6): a 4 KiB control page followed by
// the data area, inside a channel's ring GPADL, reached through a GpadlView.
//
// A channel has two: the guest->host ring (the guest produces, the host consumes) and the
// host->guest ring (the host produces, the guest consumes). HostRing implements both roles with
// Hyper-V's rules, §6.3/§6.4/§8.3:
//  * producer (write_packet): copy descriptor + payload + zero padding + trailer (old write index
//    << 32) at the write index, wrapping; publish the new write index; signal only if the
//    consumer's interrupt_mask is 0 and read_index == the old write index (the ring was empty).
//    A packet needs bytes_to_write > total (strictly): the ring is never completely full. When it
//    does not fit the host sets pending_send_sz (it declares feat_pending_send_sz in this ring's
//    feature_bits at attach) and reports kFull; the guest signals when it frees enough.
//  * consumer (read_packet / commit_read): read at a private position from the published
//    read_index up to the guest's write_index; commit publishes read_index, then applies the
//    pending_send_sz rule: signal the guest only if the guest set feat_pending_send_sz on this
//    ring, pending_send_sz != 0, and free space moved from <= pending to > pending.
//  * interrupt_mask on the guest->host ring: set while the host drains, cleared after.
// Every index and length the guest controls is validated before use (indices < data size and
// 8-aligned, len8/offset8 consistent, packet within the bytes available); a violation is returned
// as a message (the host traces it and stops using the ring) — never a crash or an out-of-range
// access. The ring keeps no copy of guest memory: each call reads the control page afresh.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "models/vmbus/gpadl.h"
#include "models/vmbus/protocol.h"

namespace hvsim::vmbus {

// One packet read from a guest->host ring.
struct RingPacket {
  PacketDescriptor desc{};
  std::vector<uint8_t> bytes;  // the whole packet: descriptor, extra header, payload, padding (len8 * 8)
  uint32_t offset = 0;         // data-area offset where it started
  // The payload: bytes[offset8 * 8, len8 * 8).
  std::span<const uint8_t> payload() const;
};

class HostRing {
 public:
  // `view` covers the control page and the data area (>= 2 pages). valid() is false otherwise.
  explicit HostRing(GpadlView view);
  bool valid() const { return valid_; }
  uint32_t data_size() const { return data_size_; }
  const GpadlView& view() const { return view_; }  // the control page, then the data area

  // Called when the channel opens: as the producer of the host->guest ring the host declares
  // feat_pending_send_sz in its feature_bits, and takes write_index and read_index as they are
  // (a fresh ring: both 0) as its own; on the guest->host ring it leaves them alone. From then on
  // write_packet reports a violation if the guest changed write_index, or moved read_index beyond
  // the data the host wrote ("read beyond the write index").
  void attach_as_producer();

  // --- host as consumer (guest->host ring) ---
  enum class ReadStatus { kPacket, kEmpty, kViolation };
  // Reads the next packet at the private read position. kViolation: `why` says what the guest
  // broke (bad write_index, len8 < offset8, packet longer than the bytes available, ...).
  ReadStatus read_packet(RingPacket& out, std::string& why);
  // Publishes the private read position as read_index. Returns true if the guest must be
  // signalled (the pending_send_sz transition rule above).
  bool commit_read();
  // interrupt_mask of this ring (the host sets it while draining the guest->host ring).
  void set_interrupt_mask(bool masked);
  // Bytes the guest has published and the host has not consumed (by the private position);
  // 0 if the indices are invalid.
  uint32_t bytes_to_read();

  // --- host as producer (host->guest ring) ---
  enum class WriteStatus { kWritten, kFull, kViolation };
  // Writes one packet: a 16-byte descriptor {type, offset8 = 2, len8, flags, trans_id} then
  // `payload`, padded to 8. `signal` is set to whether the guest must be interrupted.
  WriteStatus write_packet(uint16_t type, uint16_t flags, uint64_t trans_id, std::span<const uint8_t> payload,
                           bool& signal, std::string& why);
  // Writes `packet` (already a whole packet, any bytes: scenarios forge bad descriptors) padded to
  // 8, plus the trailer; same rules and signalling as write_packet.
  WriteStatus write_raw(std::span<const uint8_t> packet, bool& signal, std::string& why);
  // After the guest signals: true if pending_send_sz was set and now fits (clears it).
  bool space_became_available();
  // Where the last write_packet/write_raw put its packet: data-area offset and bytes written
  // (padding and trailer included); size 0 before the first write.
  struct Written { uint32_t offset = 0; uint32_t size = 0; };
  Written last_written() const { return last_written_; }
  // Fault injection: overwrites data-area bytes at `data_offset` (wrapping), touching no index.
  // False if the offset is out of range, `bytes` exceeds the data area, or memory is not writable.
  bool overwrite(uint32_t data_offset, std::span<const uint8_t> bytes);

  // --- inspection (checker, tests) ---
  struct Indices {
    uint32_t write_index = 0, read_index = 0, interrupt_mask = 0, pending_send_sz = 0, feature_bits = 0;
  };
  bool indices(Indices& out) const;

 private:
  bool load(Indices& out) const;
  // Validates the guest->host ring's indices against the consumer state (adopting read_index as
  // the private position on first use); `avail` = published bytes beyond the private position.
  bool consumer_available(uint32_t& avail, std::string& why);
  bool store_u32(size_t offset, uint32_t value);
  bool copy_in(uint32_t data_offset, std::span<const uint8_t> src);   // wrapping write into data area
  bool copy_out(uint32_t data_offset, uint8_t* dst, size_t len) const;  // wrapping read

  GpadlView view_;
  uint32_t data_size_ = 0;
  bool valid_ = false;
  uint32_t private_read_ = 0;       // consumer position not yet published
  bool private_read_valid_ = false;
  uint32_t consumed_since_commit_ = 0;
  // Producer state (host->guest ring): the host owns write_index and remembers the last
  // read_index it saw, so a guest that rewrites write_index or moves read_index past the data
  // the host wrote is caught rather than believed.
  uint32_t producer_write_ = 0;
  uint32_t producer_read_seen_ = 0;
  bool producer_attached_ = false;
  Written last_written_;
  bool check_producer(const Indices& x, std::string& why);
};

}  // namespace hvsim::vmbus
