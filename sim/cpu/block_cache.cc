#include "sim/cpu/block_cache.h"

#include "sim/core/status.h"

namespace hvsim {

uint32_t BlockInfo::not_reached(uint64_t rip) const {
  if (!contains(rip)) return 0;
  auto off = static_cast<uint32_t>(rip - addr);
  uint32_t n = 0;
  for (uint32_t i = count; i > 0 && offsets[i - 1] >= off; --i) ++n;
  return n;
}

BlockCache::BlockCache() : fast_(kFastSlots) {
  SIM_ASSERT(cs_open(CS_ARCH_X86, CS_MODE_64, &capstone_) == CS_ERR_OK, "cs_open failed");
}

BlockCache::~BlockCache() { cs_close(&capstone_); }

const BlockInfo* BlockCache::find_slow(uint64_t addr, uint32_t size) const {
  auto it = map_.find(Key{addr, size});
  if (it == map_.end()) return nullptr;
  fast_[slot_of(addr)] = Slot{addr, size, &it->second};
  return &it->second;
}

const BlockInfo& BlockCache::insert(uint64_t addr, uint32_t size, const uint8_t* bytes) {
  BlockInfo info;
  info.addr = addr;
  info.size = size;
  cs_insn* insn = cs_malloc(capstone_);
  const uint8_t* code = bytes;
  size_t left = size;
  uint64_t pc = addr;
  while (left > 0) {
    auto off = static_cast<uint32_t>(pc - addr);
    if (!cs_disasm_iter(capstone_, &code, &left, &pc, insn)) {
      // Capstone cannot decode the rest: QEMU ends the block at such an instruction (#UD).
      info.offsets.push_back(off);
      break;
    }
    info.offsets.push_back(off);
    switch (insn->id) {
      case X86_INS_RDMSR: info.sites.push_back({insn->address, SiteKind::kRdmsr, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_WRMSR: info.sites.push_back({insn->address, SiteKind::kWrmsr, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_RDTSC: info.sites.push_back({insn->address, SiteKind::kRdtsc, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_RDTSCP: info.sites.push_back({insn->address, SiteKind::kRdtscp, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_IN: case X86_INS_OUT: case X86_INS_INSB: case X86_INS_INSW: case X86_INS_INSD:
      case X86_INS_OUTSB: case X86_INS_OUTSW: case X86_INS_OUTSD:
        info.io_offsets.push_back(off);
        break;
      default: break;
    }
    info.ends_with_hlt = insn->id == X86_INS_HLT;
    bool string_io = insn->id == X86_INS_INSB || insn->id == X86_INS_INSW || insn->id == X86_INS_INSD ||
                     insn->id == X86_INS_OUTSB || insn->id == X86_INS_OUTSW || insn->id == X86_INS_OUTSD;
    bool rep = false;
    for (uint16_t i = 0; i + 1 < insn->size; ++i) rep = rep || insn->bytes[i] == 0xf3 || insn->bytes[i] == 0xf2;
    info.ends_with_rep_io = string_io && rep;
  }
  cs_free(insn, 1);
  info.count = static_cast<uint32_t>(info.offsets.size());
  auto [it, inserted] = map_.insert_or_assign(Key{addr, size}, std::move(info));
  fast_[slot_of(addr)] = Slot{addr, size, &it->second};
  return it->second;
}

void BlockCache::invalidate_all() {
  map_.clear();
  fast_.assign(kFastSlots, Slot{});
}

}  // namespace hvsim
