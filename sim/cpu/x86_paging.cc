#include "sim/cpu/x86_paging.h"

#include <algorithm>

#include "sim/cpu/x86_defs.h"

namespace hvsim::x86 {
namespace {

constexpr uint64_t kPteP = 1, kPteW = 2, kPteU = 4, kPtePs = 1ull << 7;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
constexpr uint32_t kPfP = 1, kPfW = 2, kPfU = 4;

}  // namespace

Translation translate(PhysicalMemory& mem, const PagingMode& mode, uint64_t gva, bool write, bool user) {
  Translation t;
  uint32_t access = (write ? kPfW : 0) | (user ? kPfU : 0);
  if (!(mode.cr0 & kCr0Pg)) {
    t.ok = true;
    t.gpa = gva;
    return t;
  }
  if (!(mode.efer & kEferLma)) {  // FUTURE: 32-bit and PAE paging outside long mode.
    t.pf_error = access;
    return t;
  }
  uint64_t table = mode.cr3 & kAddrMask;
  bool writable = true, user_ok = true;
  for (int level = 4; level >= 1; --level) {
    unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
    uint64_t index = (gva >> shift) & 0x1ff;
    uint64_t entry = 0;
    if (!mem.read(table + index * 8, &entry, sizeof entry) || !(entry & kPteP)) {
      t.pf_error = access;
      return t;
    }
    writable = writable && (entry & kPteW);
    user_ok = user_ok && (entry & kPteU);
    bool leaf = level == 1 || ((level == 2 || level == 3) && (entry & kPtePs));
    if (leaf) {
      uint64_t page_mask = (1ull << shift) - 1;
      bool wp_applies = user || (mode.cr0 & kCr0Wp);
      if ((user && !user_ok) || (write && !writable && wp_applies)) {
        t.pf_error = kPfP | access;
        return t;
      }
      t.ok = true;
      t.gpa = (entry & kAddrMask & ~page_mask) | (gva & page_mask);
      return t;
    }
    table = entry & kAddrMask;
  }
  t.pf_error = access;
  return t;
}

namespace {

template <typename Buf, typename Op>
LinearAccess access_linear(PhysicalMemory& mem, const PagingMode& mode, uint64_t gva, Buf* buf, uint64_t len,
                           bool write, bool user, Op op) {
  LinearAccess r;
  uint64_t done = 0;
  while (done < len) {
    uint64_t addr = gva + done;
    uint64_t chunk = std::min<uint64_t>(len - done, 0x1000 - (addr & 0xfff));
    Translation t = translate(mem, mode, addr, write, user);
    if (!t.ok || !op(t.gpa, buf + done, chunk)) {
      r.ok = false;
      r.fault_gva = addr;
      r.fault = t;
      return r;
    }
    done += chunk;
  }
  return r;
}

}  // namespace

LinearAccess read_linear(PhysicalMemory& mem, const PagingMode& mode, uint64_t gva, void* dst, uint64_t len, bool user) {
  return access_linear(mem, mode, gva, static_cast<uint8_t*>(dst), len, false, user,
                       [&](uint64_t gpa, uint8_t* p, uint64_t n) { return mem.read(gpa, p, n); });
}

LinearAccess write_linear(PhysicalMemory& mem, const PagingMode& mode, uint64_t gva, const void* src, uint64_t len, bool user) {
  return access_linear(mem, mode, gva, static_cast<const uint8_t*>(src), len, true, user,
                       [&](uint64_t gpa, const uint8_t* p, uint64_t n) { return mem.write(gpa, p, n); });
}

}  // namespace hvsim::x86
