// Per-vCPU cache of decoded translation blocks, keyed by (guest virtual address, size) as
// Unicorn's block hook reports them. Each entry is decoded once with Capstone and holds the
// instruction count (for exact retired-instruction counting without Unicorn's slow `count`), each
// instruction's offset (to correct the count when a block stops part-way: a fault, a trap site),
// and the sites that must trap to the host because no Unicorn release can hook them (RDMSR, WRMSR,
// RDTSC, RDTSCP). Lookups never iterate the map, so its hashing cannot affect behaviour.
//
// FUTURE: entries are keyed by virtual address; code rewritten in place by the guest with the
// same block size keeps its old entry until invalidate_all() (host writes call it).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include <capstone/capstone.h>

namespace hvsim {

enum class SiteKind : uint8_t { kRdmsr, kWrmsr, kRdtsc, kRdtscp };

struct TrapSite {
  uint64_t addr;
  SiteKind kind;
  uint8_t length;
};

struct BlockInfo {
  uint64_t addr = 0;
  uint32_t size = 0;
  uint32_t count = 0;               // instructions in the block
  std::vector<uint32_t> offsets;    // start offset of each instruction
  std::vector<TrapSite> sites;
  // Offsets of the port I/O instructions, in order. Unicorn does not sync RIP for its IN/OUT
  // hooks, and a block runs straight through, so the n-th I/O exit of a block is the n-th entry.
  std::vector<uint32_t> io_offsets;
  bool ends_with_hlt = false;
  bool ends_with_rep_io = false;  // REP INS/OUTS: one I/O exit per element
  // Instructions at or after `rip` in this block (0 if rip is outside it).
  uint32_t not_reached(uint64_t rip) const;
  bool contains(uint64_t rip) const { return rip >= addr && rip < addr + size; }
};

class BlockCache {
 public:
  BlockCache();
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  const BlockInfo* find(uint64_t addr, uint32_t size) const {
    const Slot& s = fast_[slot_of(addr)];
    if (s.addr == addr && s.size == size && s.info) return s.info;
    return find_slow(addr, size);
  }
  // Decodes `bytes` (the block's code) and caches the result.
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

  csh capstone_ = 0;
  std::unordered_map<Key, BlockInfo, KeyHash> map_;
  mutable std::vector<Slot> fast_;
};

}  // namespace hvsim
