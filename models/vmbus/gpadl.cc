// GPADL table and views (gpadl.h; PROTOCOL.md §5.4, §5.7).
//
// Contract: GPADL_HEADER carries {child_relid, gpadl, range_buflen, rangecount} and the start of
// the range data; GPADL_BODY messages carry the rest. Range data is one flat stream of qwords,
// range_buflen bytes long: for each of the rangecount ranges a {byte_count, byte_offset} qword
// followed by ceil((byte_offset + byte_count) / 4096) PFNs. A range header may therefore arrive
// in a body. Every guest-controlled field is checked against the others before it is used;
// a failure is an Outcome with a message naming the offending numbers, never an exception.
// The cap is charged with (range_buflen / 8 - rangecount) pages when the header is accepted.
// GpadlView checks the whole access against the window before touching memory; if a page turns
// out not to be RAM the access fails after the pages before it were already transferred.
#include "models/vmbus/gpadl.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "models/vmbus/protocol.h"

namespace hvsim::vmbus {

namespace {

constexpr size_t kQword = 8;
constexpr uint64_t kMaxPfn = UINT64_MAX / kPageSize;  // larger PFNs have no 64-bit GPA

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string num(uint64_t v) { return std::to_string(v); }

uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

GpadlTable::Outcome failed(uint32_t handle, uint32_t relid, std::string error) {
  GpadlTable::Outcome o;
  o.kind = GpadlTable::Outcome::Kind::kFailed;
  o.handle = handle;
  o.relid = relid;
  o.error = std::move(error);
  return o;
}

bool pages_addressable(const std::vector<uint64_t>& pages) {
  return std::all_of(pages.begin(), pages.end(), [](uint64_t pfn) { return pfn <= kMaxPfn; });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Gpadl

std::vector<uint64_t> Gpadl::pages() const {
  std::vector<uint64_t> all;
  for (const GpadlRange& r : ranges) all.insert(all.end(), r.pfns.begin(), r.pfns.end());
  return all;
}

uint64_t Gpadl::charged_bytes() const {
  uint64_t pfns = 0;
  for (const GpadlRange& r : ranges) pfns += r.pfns.size();
  return pfns * kPageSize;
}

// ---------------------------------------------------------------------------------------------
// GpadlTable

GpadlTable::Outcome GpadlTable::on_header(const uint8_t* msg, size_t size) {
  if (size < sizeof(GpadlHeader)) {
    return failed(0, 0, "GPADL_HEADER of " + num(size) + " bytes is shorter than its " +
                            num(sizeof(GpadlHeader)) + "-byte fixed part");
  }
  GpadlHeader hdr;
  std::memcpy(&hdr, msg, sizeof hdr);
  const std::string who = "gpadl " + hex(hdr.gpadl) + ": ";
  auto fail = [&](const std::string& why) { return failed(hdr.gpadl, hdr.child_relid, who + why); };

  const size_t data = size - sizeof(GpadlHeader);
  if (size > kMaxMessageSize) {
    return fail("GPADL_HEADER of " + num(size) + " bytes exceeds the " + num(kMaxMessageSize) +
                "-byte message limit");
  }
  if (data % kQword != 0) return fail("GPADL_HEADER range data of " + num(data) + " bytes is not a multiple of 8");
  if (hdr.rangecount == 0) return fail("rangecount is 0");
  if (hdr.range_buflen % kQword != 0) return fail("range_buflen " + num(hdr.range_buflen) + " is not a multiple of 8");
  if (hdr.range_buflen < 2 * kQword * hdr.rangecount) {
    return fail("range_buflen " + num(hdr.range_buflen) + " cannot hold rangecount " + num(hdr.rangecount) +
                " ranges (each needs at least 16 bytes)");
  }
  if (data == 0) return fail("GPADL_HEADER carries no range data");
  if (data > hdr.range_buflen) {
    return fail("GPADL_HEADER carries " + num(data) + " bytes of range data but range_buflen is " +
                num(hdr.range_buflen));
  }
  if (created_.count(hdr.gpadl)) return fail("duplicate gpadl handle " + hex(hdr.gpadl) + " (already created)");
  if (pending_.count(hdr.gpadl)) return fail("duplicate gpadl handle " + hex(hdr.gpadl) + " (still pending)");

  const uint64_t pages = hdr.range_buflen / kQword - hdr.rangecount;
  const uint64_t bytes = pages * kPageSize;
  if (bytes > cap_ - charged_) {
    return fail(num(pages) + " pages (" + num(bytes) + " bytes) would bring the partition's GPADL total to " +
                num(charged_ + bytes) + " bytes, over the cap of " + num(cap_));
  }

  Pending p;
  p.gpadl.handle = hdr.gpadl;
  p.gpadl.relid = hdr.child_relid;
  p.ranges_expected = hdr.rangecount;
  p.range_buflen = hdr.range_buflen;
  p.qwords_left = hdr.range_buflen / kQword;
  p.reserved_bytes = bytes;
  std::string error;
  if (!append_range_data(p, msg + sizeof(GpadlHeader), data / kQword, error)) return fail(error);

  charged_ += bytes;
  pending_.emplace(hdr.gpadl, std::move(p));
  return finish_if_complete(hdr.gpadl);
}

GpadlTable::Outcome GpadlTable::on_body(const uint8_t* msg, size_t size) {
  if (size < sizeof(GpadlBody)) {
    return failed(0, 0, "GPADL_BODY of " + num(size) + " bytes is shorter than its " + num(sizeof(GpadlBody)) +
                            "-byte fixed part");
  }
  GpadlBody body;
  std::memcpy(&body, msg, sizeof body);
  const std::string who = "gpadl " + hex(body.gpadl) + ": ";
  auto it = pending_.find(body.gpadl);
  if (it == pending_.end()) {
    return failed(body.gpadl, 0,
                  who + "GPADL_BODY without a pending GPADL_HEADER" +
                      (created_.count(body.gpadl) ? " (the GPADL is already complete)" : ""));
  }
  Pending& p = it->second;
  const uint32_t relid = p.gpadl.relid;
  // Every failure from here on drops the pending GPADL and releases its reservation.
  auto fail = [&](const std::string& why) {
    charged_ -= p.reserved_bytes;
    pending_.erase(it);
    return failed(body.gpadl, relid, who + why);
  };

  const size_t data = size - sizeof(GpadlBody);
  if (size > kMaxMessageSize) {
    return fail("GPADL_BODY of " + num(size) + " bytes exceeds the " + num(kMaxMessageSize) + "-byte message limit");
  }
  if (data % kQword != 0) return fail("GPADL_BODY data of " + num(data) + " bytes is not a multiple of 8");
  if (data == 0) return fail("GPADL_BODY carries no PFNs");
  if (data / kQword > p.qwords_left) {
    return fail("GPADL_BODY carries " + num(data / kQword) + " qwords but only " + num(p.qwords_left) +
                " of range_buflen " + num(p.range_buflen) + " are still expected");
  }
  std::string error;
  if (!append_range_data(p, msg + sizeof(GpadlBody), data / kQword, error)) return fail(error);
  return finish_if_complete(body.gpadl);
}

bool GpadlTable::append_range_data(Pending& p, const uint8_t* data, size_t qwords, std::string& error) {
  for (size_t i = 0; i < qwords; ++i, --p.qwords_left) {
    const uint64_t q = load_u64(data + i * kQword);
    if (p.pfns_left_in_range > 0) {
      p.gpadl.ranges.back().pfns.push_back(q);
      --p.pfns_left_in_range;
      continue;
    }
    // A range header {u32 byte_count, u32 byte_offset}.
    const size_t index = p.gpadl.ranges.size();
    if (index == p.ranges_expected) {
      error = "range_buflen " + num(p.range_buflen) + " holds more data than the " + num(p.ranges_expected) +
              " range(s) rangecount announces";
      return false;
    }
    GpadlRange r;
    r.byte_count = static_cast<uint32_t>(q);
    r.byte_offset = static_cast<uint32_t>(q >> 32);
    const std::string which = "range " + num(index) + " (byte_offset " + num(r.byte_offset) + ", byte_count " +
                              num(r.byte_count) + ")";
    if (r.byte_count == 0) {
      error = which + ": byte_count is 0";
      return false;
    }
    if (r.byte_offset >= kPageSize) {
      error = which + ": byte_offset >= " + num(kPageSize);
      return false;
    }
    const uint64_t pfns = (uint64_t{r.byte_offset} + r.byte_count + kPageSize - 1) / kPageSize;
    const size_t later_ranges = p.ranges_expected - index - 1;
    const size_t room = p.qwords_left - 1;  // after this header
    if (pfns > room || room - pfns < 2 * later_ranges) {
      error = which + " needs " + num(pfns) + " PFNs but range_buflen " + num(p.range_buflen) + " leaves " +
              num(room) + " qwords for them and " + num(later_ranges) + " later range(s)";
      return false;
    }
    r.pfns.reserve(pfns);
    p.gpadl.ranges.push_back(std::move(r));
    p.pfns_left_in_range = pfns;
  }
  return true;
}

// When the last qword has arrived every range is complete and there are exactly rangecount of
// them: append_range_data admits a range only if its PFNs and two qwords per later range fit,
// and rejects data after the last range.
GpadlTable::Outcome GpadlTable::finish_if_complete(uint32_t handle) {
  auto it = pending_.find(handle);
  Outcome o;
  o.handle = handle;
  o.relid = it->second.gpadl.relid;
  if (it->second.qwords_left > 0) {
    o.kind = Outcome::Kind::kIncomplete;
    return o;
  }
  created_.emplace(handle, std::move(it->second.gpadl));
  pending_.erase(it);
  o.kind = Outcome::Kind::kCreated;
  return o;
}

bool GpadlTable::teardown(uint32_t handle) {
  if (auto it = created_.find(handle); it != created_.end()) {
    charged_ -= it->second.charged_bytes();
    created_.erase(it);
    return true;
  }
  if (auto it = pending_.find(handle); it != pending_.end()) {
    charged_ -= it->second.reserved_bytes;
    pending_.erase(it);
    return true;
  }
  return false;
}

const Gpadl* GpadlTable::find(uint32_t handle) const {
  auto it = created_.find(handle);
  return it == created_.end() ? nullptr : &it->second;
}

std::vector<uint32_t> GpadlTable::handles_of(uint32_t relid) const {
  std::vector<uint32_t> handles;
  for (const auto& [handle, g] : created_) {
    if (g.relid == relid) handles.push_back(handle);
  }
  for (const auto& [handle, p] : pending_) {
    if (p.gpadl.relid == relid) handles.push_back(handle);
  }
  std::sort(handles.begin(), handles.end());
  return handles;
}

void GpadlTable::clear() {
  created_.clear();
  pending_.clear();
  charged_ = 0;
}

// ---------------------------------------------------------------------------------------------
// GpadlView

GpadlView::GpadlView(PhysicalMemory& mem, const Gpadl& g, uint32_t first_page, uint32_t page_count) : mem_(&mem) {
  std::vector<uint64_t> all = g.pages();
  if (uint64_t{first_page} + page_count > all.size()) {
    valid_ = false;
    return;
  }
  pages_.assign(all.begin() + first_page, all.begin() + first_page + page_count);
  valid_ = pages_addressable(pages_);
}

GpadlView::GpadlView(PhysicalMemory& mem, std::vector<uint64_t> pages)
    : mem_(&mem), pages_(std::move(pages)), valid_(pages_addressable(pages_)) {}

template <typename Copy>
bool GpadlView::each_chunk(uint64_t offset, size_t len, Copy copy) const {
  if (!valid_ || offset > size() || len > size() - offset) return false;
  for (size_t done = 0; done < len;) {
    const uint64_t in_page = (offset + done) % kPageSize;
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(len - done, kPageSize - in_page));
    if (!copy(pages_[(offset + done) / kPageSize] * kPageSize + in_page, done, chunk)) return false;
    done += chunk;
  }
  return true;
}

bool GpadlView::read(uint64_t offset, void* dst, size_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  return each_chunk(offset, len, [&](uint64_t gpa, size_t done, size_t n) { return mem_->read(gpa, out + done, n); });
}

bool GpadlView::write(uint64_t offset, const void* src, size_t len) const {
  const auto* in = static_cast<const uint8_t*>(src);
  return each_chunk(offset, len, [&](uint64_t gpa, size_t done, size_t n) { return mem_->write(gpa, in + done, n); });
}

}  // namespace hvsim::vmbus
