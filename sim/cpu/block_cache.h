// Per-vCPU cache of decoded translation blocks, keyed by (guest virtual address, size) as
// Unicorn's block hook reports them. The decoding itself (BlockInfo, see block_decoder.h) comes
// from the machine's BlockDecoder, shared by every vCPU. Lookups never iterate the map, so its
// hashing cannot affect behaviour.
//
// FUTURE: entries are keyed by virtual address; code rewritten in place by the guest with the
// same block size keeps its old entry until invalidate_all() (host writes call it).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "sim/cpu/block_decoder.h"

namespace hvsim {

class BlockCache {
 public:
  explicit BlockCache(BlockDecoder& decoder);
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  const BlockInfo* find(uint64_t addr, uint32_t size) const {
    const Slot& s = fast_[slot_of(addr)];
    if (s.addr == addr && s.size == size && s.info) return s.info;
    return find_slow(addr, size);
  }
  // Caches the decoding of `bytes` (the block's code), from the shared decoder.
  const BlockInfo& insert(uint64_t addr, uint32_t size, const uint8_t* bytes);
  void invalidate_all();
  size_t size() const { return map_.size(); }

 private:
  struct Key {
    uint64_t addr; uint32_t size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash { size_t operator()(const Key& k) const { return k.addr * 0x9e3779b97f4a7c15ull ^ k.size; } };
  struct Slot { uint64_t addr = 0; uint32_t size = 0; const BlockInfo* info = nullptr; };
  static constexpr size_t kFastSlots = 4096;
  static size_t slot_of(uint64_t addr) { return (addr ^ (addr >> 12)) & (kFastSlots - 1); }
  const BlockInfo* find_slow(uint64_t addr, uint32_t size) const;

  BlockDecoder& decoder_;
  std::unordered_map<Key, std::shared_ptr<const BlockInfo>, KeyHash> map_;
  mutable std::vector<Slot> fast_;
};

}  // namespace hvsim
