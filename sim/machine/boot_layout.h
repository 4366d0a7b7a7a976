// Builds the boot state of docs/guest-contract.md §3–5 in guest RAM: copies the ELF segments,
// then fills the host-reserved area at the top of RAM with identity-mapping page tables (first
// 4 GiB, 2 MiB pages, user-accessible), one GDT + TSS + 16 KiB stack per vCPU, and the boot-info
// block, and returns each vCPU's initial register state. A segment that does not fit below the
// host-reserved area is a UsageError naming the image.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/cpu/unicorn_vcpu.h"
#include "sim/machine/elf_loader.h"
#include "sim/mem/guest_memory.h"

namespace hvsim {

constexpr uint32_t kBootInfoMagic = 0x42535648;  // "HVSB"
constexpr uint32_t kBootInfoVersion = 1;
constexpr uint32_t kBootFlagApsParked = 1;

struct BootLayout {
  uint64_t host_base = 0;      // start of the host-reserved area (= free_mem_end)
  uint64_t free_start = 0;
  uint64_t boot_info = 0;
  uint64_t cr3 = 0;
  std::vector<LongModeBootState> vcpus;
};

BootLayout build_boot_layout(GuestMemory& mem, const ElfImage& image, unsigned vcpu_count, uint64_t tsc_hz,
                             bool aps_parked);

// Size of the host-reserved area for a vCPU count (to check a memory size before building).
uint64_t host_reserved_bytes(unsigned vcpu_count);

}  // namespace hvsim
