#include "sim/cpu/store_locator.h"

#include <capstone/capstone.h>

namespace hvsim {
namespace {

// Value of a general-purpose address register (64-bit or, with an address-size prefix, 32-bit).
std::optional<uint64_t> reg_value(const StoreSearch& s, unsigned r, uint64_t next_rip) {
  static constexpr unsigned kWide[16] = {X86_REG_RAX, X86_REG_RBX, X86_REG_RCX, X86_REG_RDX, X86_REG_RSI, X86_REG_RDI,
                                          X86_REG_RBP, X86_REG_RSP, X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11,
                                          X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15};
  static constexpr unsigned kNarrow[16] = {X86_REG_EAX, X86_REG_EBX, X86_REG_ECX, X86_REG_EDX, X86_REG_ESI, X86_REG_EDI,
                                           X86_REG_EBP, X86_REG_ESP, X86_REG_R8D, X86_REG_R9D, X86_REG_R10D, X86_REG_R11D,
                                           X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D};
  if (r == X86_REG_INVALID) return 0;
  if (r == X86_REG_RIP) return next_rip;
  if (r == X86_REG_EIP) return next_rip & 0xffffffffu;
  for (size_t i = 0; i < 16; ++i) {
    if (r == kWide[i]) return s.gpr[i];
    if (r == kNarrow[i]) return s.gpr[i] & 0xffffffffu;
  }
  return std::nullopt;  // not an address register hvsim knows: never matches
}

bool touches(const StoreSearch& s, const WriteTranslation& translate, uint64_t linear, uint64_t size) {
  for (uint64_t at : {linear, linear + (size ? size - 1 : 0)}) {
    std::optional<uint64_t> gpa = translate(at);
    if (gpa && (*gpa & ~0xfffull) == s.fault_page) return true;
  }
  return false;
}

bool stores_to_the_page(const StoreSearch& s, const WriteTranslation& translate, const cs_insn& insn) {
  const cs_x86& x = insn.detail->x86;
  uint64_t next = insn.address + insn.size;
  for (uint8_t i = 0; i < x.op_count; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type != X86_OP_MEM || !(op.access & CS_AC_WRITE)) continue;
    std::optional<uint64_t> base = reg_value(s, op.mem.base, next), index = reg_value(s, op.mem.index, next);
    if (!base || !index) continue;
    uint64_t seg = op.mem.segment == X86_REG_FS ? s.fs_base : op.mem.segment == X86_REG_GS ? s.gs_base : 0;
    uint64_t ea = seg + *base + *index * static_cast<uint64_t>(op.mem.scale) + static_cast<uint64_t>(op.mem.disp);
    if (touches(s, translate, ea, op.size)) return true;
  }
  // Stack stores are implicit operands.
  uint64_t rsp = s.gpr[7];
  switch (insn.id) {
    case X86_INS_PUSH: {
      uint64_t size = x.op_count > 0 && x.operands[0].size == 2 ? 2 : 8;
      return touches(s, translate, rsp - size, size);
    }
    case X86_INS_PUSHFQ: case X86_INS_PUSHF: case X86_INS_CALL:
      return touches(s, translate, rsp - 8, 8);
    default:
      return false;
  }
}

}  // namespace

std::optional<uint64_t> locate_store(const StoreSearch& s, const WriteTranslation& translate) {
  csh cs = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) return std::nullopt;
  cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = cs_malloc(cs);
  const uint8_t* code = s.code;
  size_t left = s.size;
  uint64_t pc = s.addr;
  std::optional<uint64_t> found;
  while (!found && left > 0 && cs_disasm_iter(cs, &code, &left, &pc, insn))
    if (stores_to_the_page(s, translate, *insn)) found = insn->address;
  cs_free(insn, 1);
  cs_close(&cs);
  return found;
}

}  // namespace hvsim
