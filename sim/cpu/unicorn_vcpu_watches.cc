// UnicornVcpu's guest watches (contract in unicorn_vcpu.h): exec watches are UC_HOOK_CODE hooks on
// single addresses; read watches are one UC_HOOK_MEM_READ hook that exists only while some range
// is watched.
//
// Measured on Unicorn 2.1.1 (tests/contract): a memory-read hook gets the guest-physical address
// and a synced RIP (the reading instruction); a load calls it only if a memory hook existed when
// its block was translated, so adding the first and removing the last such hook drops the
// translations of every code page hook_block has seen; a uc_emu_stop from the hook, with RIP
// written back to the reading instruction, abandons that instruction before it has any effect,
// as a stop from a code hook does. A hit therefore stops the vCPU exactly before the watched
// instruction, with its retired count there.
#include <unicorn/unicorn.h>

#include <algorithm>

#include "sim/cpu/unicorn_vcpu.h"

namespace hvsim {

void UnicornVcpu::set_exec_watch(uint32_t id, std::optional<uint64_t> rip) {
  auto it = exec_watches_.find(id);
  if (rip ? (it != exec_watches_.end() && it->second == *rip) : it == exec_watches_.end()) return;
  if (rip) exec_watches_[id] = *rip;
  else exec_watches_.erase(it);
  watches_changed();
}

void UnicornVcpu::set_read_watch(uint32_t id, std::vector<GpaRange> ranges) {
  auto it = read_watches_.find(id);
  if (ranges.empty() ? it == read_watches_.end() : (it != read_watches_.end() && it->second == ranges)) return;
  if (ranges.empty()) read_watches_.erase(it);
  else read_watches_[id] = std::move(ranges);
  watches_changed();
}

void UnicornVcpu::watches_changed() {
  watches_dirty_ = true;
  // From an exit handler: run() applies the change once the engine has stopped behind the
  // current instruction (changing hooks inside a running engine upsets Unicorn: hook_sites).
  if (running_) stop_after_current();
}

void UnicornVcpu::apply_watches() {
  watches_dirty_ = false;
  std::map<uint64_t, std::set<uint32_t>> want;
  for (const auto& [id, rip] : exec_watches_) want[rip].insert(id);
  for (auto it = exec_hooks_.begin(); it != exec_hooks_.end();) {
    if (want.count(it->first)) {
      ++it;
      continue;
    }
    uc_hook_del(uc_, it->second.hook);
    uc_ctl_remove_cache(uc_, it->first, it->first + 1);
    it = exec_hooks_.erase(it);
  }
  for (auto& [rip, ids] : want) {
    auto [it, fresh] = exec_hooks_.try_emplace(rip);
    it->second.ids = std::move(ids);
    if (!fresh) continue;
    uc_hook h = 0;
    uc_hook_add(uc_, &h, UC_HOOK_CODE, reinterpret_cast<void*>(&hook_watch_exec), this, rip, rip);
    it->second.hook = h;
    uc_ctl_remove_cache(uc_, rip, rip + 1);  // code hooks exist only at translation time
  }

  read_ranges_.clear();
  for (const auto& [id, ranges] : read_watches_)
    for (const GpaRange& r : ranges)
      if (r.size > 0 && r.gpa + (r.size - 1) >= r.gpa) read_ranges_.push_back(ReadRange{r.gpa, r.gpa + (r.size - 1), id});
  std::sort(read_ranges_.begin(), read_ranges_.end(),
            [](const ReadRange& a, const ReadRange& b) { return a.first != b.first ? a.first < b.first : a.id < b.id; });
  bool want_read_hook = !read_ranges_.empty();
  if (want_read_hook == read_hook_.has_value()) return;
  if (want_read_hook) {
    uc_hook h = 0;
    uc_hook_add(uc_, &h, UC_HOOK_MEM_READ, reinterpret_cast<void*>(&hook_watch_read), this, 1, 0);
    read_hook_ = h;
  } else {
    uc_hook_del(uc_, *read_hook_);
    read_hook_.reset();
  }
  // With the hook every load takes the slow path that calls it; without, none does (UNICORN.md
  // §6). Which one a block uses is fixed when it is translated, so drop every translation: page
  // by page over the code seen so far (uc_ctl_flush_tb would take seconds on 2.1.1).
  for (auto it = code_pages_.begin(); it != code_pages_.end();) {
    uint64_t first = *it, last = *it;
    for (++it; it != code_pages_.end() && *it == last + 1; ++it) last = *it;
    uc_ctl_remove_cache(uc_, first << 12, (last + 1) << 12);
  }
}

bool UnicornVcpu::repeats_stopped_instruction(uint64_t rip) const {
  return watch_resume_ && watch_resume_->first == rip && watch_resume_->second == retired_before(rip);
}

bool UnicornVcpu::stop_if_exec_watched(uint64_t rip) {
  if (watch_stop_) return true;
  auto it = exec_hooks_.find(rip);
  if (it == exec_hooks_.end() || stop_retired_ || pending_exc_ || repeats_stopped_instruction(rip)) return false;
  WatchHit hit;
  hit.ids.assign(it->second.ids.begin(), it->second.ids.end());
  hit.rip = rip;
  stop_for_watch(std::move(hit));
  return true;
}

void UnicornVcpu::stop_for_watch(WatchHit hit) {
  uint64_t at = retired_before(hit.rip);
  watch_resume_ = std::make_pair(hit.rip, at);
  stop_retired_ = at;
  watch_stop_ = true;
  set_reg(Reg::kRip, hit.rip);  // leaves the block before the instruction runs
  watch_hit_ = std::move(hit);
  uc_emu_stop(uc_);
}

void UnicornVcpu::hook_watch_exec(uc_struct*, uint64_t addr, uint32_t, void* self) {
  static_cast<UnicornVcpu*>(self)->stop_if_exec_watched(addr);
}

void UnicornVcpu::hook_watch_read(uc_struct*, int, uint64_t addr, int size, int64_t, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  if (v->watch_stop_ || v->stop_retired_ || v->pending_exc_) return;
  uint64_t last = addr + static_cast<uint64_t>(size > 0 ? size - 1 : 0);
  WatchHit hit;
  for (const ReadRange& r : v->read_ranges_) {
    if (r.first > last) break;
    if (r.last >= addr) hit.ids.push_back(r.id);
  }
  if (hit.ids.empty()) return;
  std::sort(hit.ids.begin(), hit.ids.end());
  hit.ids.erase(std::unique(hit.ids.begin(), hit.ids.end()), hit.ids.end());
  hit.rip = v->reg(Reg::kRip);
  if (v->repeats_stopped_instruction(hit.rip)) return;
  hit.read = true;
  hit.gpa = addr;
  hit.size = static_cast<unsigned>(size);
  v->stop_for_watch(std::move(hit));
}

}  // namespace hvsim
