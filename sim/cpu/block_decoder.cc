#include "sim/cpu/block_decoder.h"

#include <algorithm>

#include "sim/core/status.h"

namespace hvsim {

uint32_t BlockInfo::not_reached(uint64_t rip) const {
  if (!contains(rip)) return 0;
  auto off = static_cast<uint32_t>(rip - addr);
  uint32_t n = 0;
  for (uint32_t i = count; i > 0 && offsets[i - 1] >= off; --i) ++n;
  return n;
}

BlockDecoder::BlockDecoder() {
  SIM_ASSERT(cs_open(CS_ARCH_X86, CS_MODE_64, &capstone_) == CS_ERR_OK, "cs_open failed");
}

BlockDecoder::~BlockDecoder() { cs_close(&capstone_); }

std::shared_ptr<const BlockInfo> BlockDecoder::decode(uint64_t addr, uint32_t size, const uint8_t* bytes) {
  std::vector<Decoded>& seen = memo_[{addr, size}];
  for (const Decoded& d : seen)
    if (std::equal(d.bytes.begin(), d.bytes.end(), bytes)) return d.info;
  if (blocks_ >= kMaxBlocks) {  // a guest generating code without end: start over
    memo_.clear();
    blocks_ = 0;
    return decode(addr, size, bytes);
  }
  std::shared_ptr<const BlockInfo> info = run_capstone(addr, size, bytes);
  seen.push_back(Decoded{std::vector<uint8_t>(bytes, bytes + size), info});
  ++blocks_;
  return info;
}

std::shared_ptr<const BlockInfo> BlockDecoder::run_capstone(uint64_t addr, uint32_t size, const uint8_t* bytes) {
  ++decoded_;
  auto info = std::make_shared<BlockInfo>();
  info->addr = addr;
  info->size = size;
  cs_insn* insn = cs_malloc(capstone_);
  const uint8_t* code = bytes;
  size_t left = size;
  uint64_t pc = addr;
  while (left > 0) {
    auto off = static_cast<uint32_t>(pc - addr);
    if (!cs_disasm_iter(capstone_, &code, &left, &pc, insn)) {
      // Capstone cannot decode the rest: QEMU ends the block at such an instruction (#UD).
      info->offsets.push_back(off);
      break;
    }
    info->offsets.push_back(off);
    switch (insn->id) {
      case X86_INS_RDMSR: info->sites.push_back({insn->address, SiteKind::kRdmsr, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_WRMSR: info->sites.push_back({insn->address, SiteKind::kWrmsr, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_RDTSC: info->sites.push_back({insn->address, SiteKind::kRdtsc, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_RDTSCP: info->sites.push_back({insn->address, SiteKind::kRdtscp, static_cast<uint8_t>(insn->size)}); break;
      case X86_INS_IN: case X86_INS_OUT: case X86_INS_INSB: case X86_INS_INSW: case X86_INS_INSD:
      case X86_INS_OUTSB: case X86_INS_OUTSW: case X86_INS_OUTSD:
        info->io_offsets.push_back(off);
        break;
      default: break;
    }
    info->ends_with_hlt = insn->id == X86_INS_HLT;
    switch (insn->id) {
      case X86_INS_STI: case X86_INS_POPF: case X86_INS_POPFD: case X86_INS_POPFQ: case X86_INS_IRET:
      case X86_INS_IRETD: case X86_INS_IRETQ: case X86_INS_SYSRET: case X86_INS_SYSEXIT:
        info->may_set_if = true;
        break;
      default: break;
    }
    bool string_io = insn->id == X86_INS_INSB || insn->id == X86_INS_INSW || insn->id == X86_INS_INSD ||
                     insn->id == X86_INS_OUTSB || insn->id == X86_INS_OUTSW || insn->id == X86_INS_OUTSD;
    bool rep = false;
    for (uint16_t i = 0; i + 1 < insn->size; ++i) rep = rep || insn->bytes[i] == 0xf3 || insn->bytes[i] == 0xf2;
    info->ends_with_rep_io = string_io && rep;
  }
  cs_free(insn, 1);
  info->count = static_cast<uint32_t>(info->offsets.size());
  return info;
}

}  // namespace hvsim
