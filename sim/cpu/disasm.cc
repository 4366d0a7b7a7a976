#include "sim/cpu/disasm.h"

#include <capstone/capstone.h>

#include <cinttypes>
#include <cstdio>
#include <deque>

namespace hvsim {

std::string disassemble_around(const uint8_t* code, size_t len, uint64_t base, uint64_t mark, int before, int after) {
  csh cs;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) return "  (disassembler unavailable)\n";
  cs_insn* insn = cs_malloc(cs);
  std::deque<std::string> lines;
  std::string out;
  const uint8_t* p = code;
  size_t left = len;
  uint64_t pc = base;
  int shown_after = -1;
  bool synced = false;
  while (left > 0 && shown_after < after) {
    uint64_t at = pc;
    char line[320];
    if (!cs_disasm_iter(cs, &p, &left, &pc, insn)) {
      std::snprintf(line, sizeof line, "%s 0x%016" PRIx64 ":  (bad)\n", at == mark ? "=>" : "  ", at);
      ++p; --left; ++pc;
    } else {
      std::snprintf(line, sizeof line, "%s 0x%016" PRIx64 ":  %-8s %s\n", insn->address == mark ? "=>" : "  ",
                    insn->address, insn->mnemonic, insn->op_str);
    }
    if (at == mark) synced = true;
    if (shown_after >= 0 || at >= mark) {
      if (shown_after < 0) {
        for (auto& l : lines) out += l;
        if (!synced) out += "   (decoding resynchronised at the faulting address)\n";
      }
      out += line;
      ++shown_after;
    } else {
      lines.push_back(line);
      if (static_cast<int>(lines.size()) > before) lines.pop_front();
    }
  }
  cs_free(insn, 1);
  cs_close(&cs);
  return out;
}

}  // namespace hvsim
