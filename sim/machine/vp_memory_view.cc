#include "sim/machine/vp_memory_view.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace hvsim {
namespace {

constexpr uint64_t kPage = 0x1000;

// Calls fn(gpa, offset into the access, length) for each page-bounded piece of [gpa, gpa + len).
template <typename Fn> bool each_page(uint64_t gpa, size_t len, Fn fn) {
  for (size_t done = 0; done < len;) {
    uint64_t at = gpa + done;
    size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, kPage - at % kPage));
    if (!fn(at, done, n)) return false;
    done += n;
  }
  return true;
}

}  // namespace

bool VpMemoryView::read(uint64_t gpa, void* dst, size_t len) {
  if (!mem_.contains(gpa, len)) return false;
  auto* out = static_cast<uint8_t*>(dst);
  return each_page(gpa, len, [&](uint64_t at, size_t off, size_t n) {
    std::optional<uint32_t> o = overlays_.shown(vp_, at - at % kPage);
    if (!o) return mem_.read(at, out + off, n);
    std::memcpy(out + off, mem_.overlay_host(*o) + at % kPage, n);
    return true;
  });
}

bool VpMemoryView::write(uint64_t gpa, const void* src, size_t len) {
  if (!mem_.contains(gpa, len)) return false;
  bool writable = each_page(gpa, len, [&](uint64_t at, size_t, size_t) {
    std::optional<uint32_t> o = overlays_.shown(vp_, at - at % kPage);
    return !o || mem_.overlay_guest_writable(*o);
  });
  if (!writable) return false;
  const auto* in = static_cast<const uint8_t*>(src);
  return each_page(gpa, len, [&](uint64_t at, size_t off, size_t n) {
    std::optional<uint32_t> o = overlays_.shown(vp_, at - at % kPage);
    if (!o) return mem_.write(at, in + off, n);
    std::memcpy(mem_.overlay_host(*o) + at % kPage, in + off, n);
    return true;
  });
}

}  // namespace hvsim
