// Software x86-64 linear-to-physical translation (SDM vol. 3 ch. 4) for the host's own accesses
// to guest linear addresses: reading the IDT/GDT/TSS and pushing interrupt frames.
//
// Supports paging off (identity) and 4-level long-mode paging with 4 KiB, 2 MiB and 1 GiB pages,
// checking present, write (with CR0.WP) and user bits and producing the #PF error code. Does not
// set accessed/dirty bits and does not model 32-bit or 5-level paging (FUTURE).
#pragma once

#include <cstdint>

#include "sim/core/physical_memory.h"

namespace hvsim::x86 {

struct PagingMode {
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
};

struct Translation {
  bool ok = false;
  uint64_t gpa = 0;
  uint32_t pf_error = 0;  // #PF error code when !ok (P, W/R, U/S, RSVD bits)
};

Translation translate(PhysicalMemory& mem, const PagingMode& mode, uint64_t gva, bool write, bool user);

// Reads/writes `len` bytes at a linear address, page by page. On failure `fault` holds the
// translation that failed and `fault_gva` the address.
struct LinearAccess {
  bool ok = true;
  uint64_t fault_gva = 0;
  Translation fault;
};
LinearAccess read_linear(PhysicalMemory& mem, const PagingMode& mode, uint64_t gva, void* dst, uint64_t len, bool user);
LinearAccess write_linear(PhysicalMemory& mem, const PagingMode& mode, uint64_t gva, const void* src, uint64_t len, bool user);

}  // namespace hvsim::x86
