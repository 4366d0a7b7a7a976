// GPADLs (guest physical address descriptor lists, PROTOCOL.md §5.4, §5.7): the host's table of
// guest memory the guest has described for it.
//
// GpadlTable reassembles GPADL_HEADER + GPADL_BODY messages (multi-range, bodies matched by the
// gpadl field), validates them (sizes, range_buflen consistent with the ranges, PFN counts =
// ceil((byte_offset + byte_count) / 4096), byte_offset < 4096, no zero-length range), rejects
// duplicate handles, and enforces the host profile's per-partition aggregate cap: a header
// reserves the bytes its ranges announce (pages x 4096) before any body arrives, so a rogue guest
// cannot exceed the cap by streaming bodies. Teardown releases the bytes. Pure state: no guest
// memory access, no tracing (the VMBus host traces outcomes).
//
// GpadlView is a byte-addressed window over whole pages of one GPADL (its ranges concatenated,
// each range's pages in order), reading and writing guest RAM through PhysicalMemory page by
// page. An access outside the window or to a GPA outside RAM fails (returns false); never throws.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/physical_memory.h"

namespace hvsim::vmbus {

struct GpadlRange {
  uint32_t byte_count = 0;
  uint32_t byte_offset = 0;
  std::vector<uint64_t> pfns;
};

struct Gpadl {
  uint32_t handle = 0;
  uint32_t relid = 0;  // the channel named in GPADL_HEADER
  std::vector<GpadlRange> ranges;
  // Pages of all ranges, in order (what GpadlView addresses).
  std::vector<uint64_t> pages() const;
  // Bytes counted against the aggregate cap: total PFNs x 4096.
  uint64_t charged_bytes() const;
};

class GpadlTable {
 public:
  explicit GpadlTable(uint64_t aggregate_cap_bytes) : cap_(aggregate_cap_bytes) {}

  struct Outcome {
    enum class Kind { kIncomplete, kCreated, kFailed } kind = Kind::kFailed;
    uint32_t handle = 0;
    uint32_t relid = 0;
    std::string error;  // for kFailed: what was wrong ("duplicate gpadl handle 0xe1e10", ...)
  };
  // `msg`/`size`: the whole channel message, header included. kFailed for a malformed header
  // (nothing kept), a duplicate handle, or a cap overrun; a failed body drops the pending GPADL
  // (its handle may then be reused) and reports kFailed with the pending GPADL's relid.
  Outcome on_header(const uint8_t* msg, size_t size);
  Outcome on_body(const uint8_t* msg, size_t size);

  // Removes a created or pending GPADL; false if the handle is unknown.
  bool teardown(uint32_t handle);
  // A created GPADL, or nullptr (pending ones are not visible).
  const Gpadl* find(uint32_t handle) const;
  // Every handle (created or pending) whose GPADL_HEADER named `relid`, ascending.
  std::vector<uint32_t> handles_of(uint32_t relid) const;
  // Forgets everything (UNLOAD / reconnect).
  void clear();

  uint64_t charged_bytes() const { return charged_; }
  uint64_t cap_bytes() const { return cap_; }
  size_t created_count() const { return created_.size(); }

 private:
  // A GPADL whose range data (range headers and PFNs: one flat qword stream of range_buflen
  // bytes, split over the header and the bodies) has not all arrived.
  struct Pending {
    Gpadl gpadl;                    // ranges grow as their headers and PFNs arrive
    size_t ranges_expected = 0;     // rangecount
    uint16_t range_buflen = 0;
    size_t qwords_left = 0;         // range data still to come, in 8-byte units
    size_t pfns_left_in_range = 0;  // PFNs the last range still needs (0: a range header is next)
    uint64_t reserved_bytes = 0;    // charged against the cap at header time
  };
  // Appends `qwords` qwords of range data to `p`, validating each range header as it arrives.
  static bool append_range_data(Pending& p, const uint8_t* data, size_t qwords, std::string& error);
  Outcome finish_if_complete(uint32_t handle);

  uint64_t cap_;
  uint64_t charged_ = 0;
  std::map<uint32_t, Gpadl> created_;
  std::map<uint32_t, Pending> pending_;
};

class GpadlView {
 public:
  // The pages [first_page, first_page + page_count) of `g`. valid() is false if they do not exist.
  GpadlView(PhysicalMemory& mem, const Gpadl& g, uint32_t first_page, uint32_t page_count);
  GpadlView(PhysicalMemory& mem, std::vector<uint64_t> pages);
  bool valid() const { return valid_; }
  uint64_t size() const { return pages_.size() * 4096; }
  const std::vector<uint64_t>& pfns() const { return pages_; }  // the view's pages, in order
  bool read(uint64_t offset, void* dst, size_t len) const;
  bool write(uint64_t offset, const void* src, size_t len) const;

 private:
  // Calls copy(gpa, done, chunk) for each page-bounded piece of [offset, offset + len), `done`
  // bytes in; false if the range is outside the view or a copy fails.
  template <typename Copy>
  bool each_chunk(uint64_t offset, size_t len, Copy copy) const;

  PhysicalMemory* mem_;
  std::vector<uint64_t> pages_;
  bool valid_ = true;
};

}  // namespace hvsim::vmbus
