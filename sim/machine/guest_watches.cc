// Guest watches (contract in guest_watches.h).
#include "sim/machine/guest_watches.h"

namespace hvsim {

std::vector<UnicornVcpu*> GuestWatches::targets(int vp) const {
  if (vp == kNoVp) return cpus_;
  return {cpus_[static_cast<size_t>(vp)]};
}

GuestWatches::Id GuestWatches::watch_exec(uint64_t rip, int vp, std::string what, OnHit on_hit) {
  Id id = next_id_++;
  watches_.emplace(id, Watch{vp, std::move(what), std::move(on_hit), nullptr, {}});
  for (UnicornVcpu* cpu : targets(vp)) cpu->set_exec_watch(id, rip);
  return id;
}

GuestWatches::Id GuestWatches::watch_read(Where where, int vp, std::string what, OnHit on_hit) {
  Id id = next_id_++;
  watches_.emplace(id, Watch{vp, std::move(what), std::move(on_hit), std::move(where), {}});
  refresh();
  return id;
}

void GuestWatches::refresh() {
  for (auto& [id, w] : watches_) {
    if (!w.where) continue;
    Ranges now = w.where();
    if (now == w.armed) continue;
    w.armed = now;
    for (UnicornVcpu* cpu : targets(w.vp)) cpu->set_read_watch(id, now);
  }
}

void GuestWatches::report(int vp, VirtualTime t, const WatchHit& hit) {
  for (Id id : hit.ids) {
    auto it = watches_.find(id);
    if (it == watches_.end()) continue;
    const Watch& w = it->second;
    if (hit.read)
      tracer_.emit(TracePoint::kGuestRead, t, vp,
                   {TraceField::u64("watch", id), TraceField::hex("rip", hit.rip), TraceField::hex("gpa", hit.gpa),
                    TraceField::u64("size", hit.size), TraceField::str_("what", w.what)});
    else
      tracer_.emit(TracePoint::kGuestReach, t, vp,
                   {TraceField::u64("watch", id), TraceField::hex("rip", hit.rip), TraceField::str_("what", w.what)});
    if (w.on_hit(vp, t)) continue;
    for (UnicornVcpu* cpu : targets(w.vp)) {
      if (w.where) cpu->set_read_watch(id, {});
      else cpu->set_exec_watch(id, std::nullopt);
    }
    watches_.erase(it);
  }
}

}  // namespace hvsim
