#include "sim/machine/overlays.h"

namespace hvsim {

OverlayPages::OverlayPages(GuestMemory& mem, unsigned vcpu_count, Backing backing, Tracer& tracer)
    : mem_(mem), vcpu_count_(vcpu_count), backing_(std::move(backing)), tracer_(tracer) {}

OverlayPages::Id OverlayPages::create(std::string name, int vp, GuestMemory::GuestAccess access) {
  slots_.push_back(Slot{std::move(name), vp, mem_.allocate_overlay(access), std::nullopt, 0});
  return Id{static_cast<uint32_t>(slots_.size() - 1)};
}

bool OverlayPages::place(Id id, std::optional<uint64_t> gpa, VirtualTime now) {
  Slot& s = slots_[id.value];
  if (gpa && (*gpa % 0x1000 != 0 || !mem_.contains(*gpa, 0x1000))) return false;
  if (s.gpa == gpa) return true;
  std::optional<uint64_t> old = s.gpa;
  s.gpa = gpa;
  if (gpa) s.activation = ++activations_;
  if (old) refresh(*old);
  if (gpa) refresh(*gpa);
  tracer_.emit(TracePoint::kHvOverlay, now, s.vp,
               {TraceField::str_("page", s.name), TraceField::boolean("shown", gpa.has_value()),
                TraceField::hex("gpa", gpa ? *gpa : (old ? *old : 0))});
  return true;
}

std::optional<uint32_t> OverlayPages::shown(int vp, uint64_t gpa) const {
  auto it = shown_.find({vp, gpa});
  if (it == shown_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> OverlayPages::visible(int vp, uint64_t gpa) const {
  const Slot* top = nullptr;
  for (const Slot& s : slots_) {
    if (s.gpa != gpa || (s.vp != kNoVp && s.vp != vp)) continue;
    if (!top || s.activation > top->activation) top = &s;
  }
  if (!top) return std::nullopt;
  return top->page.index;
}

void OverlayPages::refresh(uint64_t gpa) {
  for (unsigned v = 0; v < vcpu_count_; ++v) {
    int vp = static_cast<int>(v);
    std::optional<uint32_t> want = visible(vp, gpa);
    auto it = shown_.find({vp, gpa});
    bool same = it == shown_.end() ? !want.has_value() : (want.has_value() && *want == it->second);
    if (same) continue;
    backing_(vp, gpa, want);
    if (want) shown_[{vp, gpa}] = *want;
    else shown_.erase({vp, gpa});
  }
}

}  // namespace hvsim
