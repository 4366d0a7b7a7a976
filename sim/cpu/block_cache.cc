#include "sim/cpu/block_cache.h"

namespace hvsim {

BlockCache::BlockCache(BlockDecoder& decoder) : decoder_(decoder), fast_(kFastSlots) {}

const BlockInfo* BlockCache::find_slow(uint64_t addr, uint32_t size) const {
  auto it = map_.find(Key{addr, size});
  if (it == map_.end()) return nullptr;
  fast_[slot_of(addr)] = Slot{addr, size, it->second.get()};
  return it->second.get();
}

const BlockInfo& BlockCache::insert(uint64_t addr, uint32_t size, const uint8_t* bytes) {
  std::shared_ptr<const BlockInfo> info = decoder_.decode(addr, size, bytes);
  const BlockInfo* p = info.get();
  map_.insert_or_assign(Key{addr, size}, std::move(info));
  fast_[slot_of(addr)] = Slot{addr, size, p};
  return *p;
}

void BlockCache::invalidate_all() {
  map_.clear();
  fast_.assign(kFastSlots, Slot{});
}

}  // namespace hvsim
