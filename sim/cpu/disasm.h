// Capstone disassembly of guest code for crash reports and traces: a window of instructions
// around an address, the faulting one marked.
#pragma once

#include <cstdint>
#include <string>

namespace hvsim {

// `code` holds `len` bytes of guest code starting at guest address `base`; lists up to `before`
// instructions leading to `mark` (decoding forward from `base`) and `after` from it, one per line.
std::string disassemble_around(const uint8_t* code, size_t len, uint64_t base, uint64_t mark, int before, int after);

}  // namespace hvsim
