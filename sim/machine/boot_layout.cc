#include "sim/machine/boot_layout.h"

#include <algorithm>
#include <cstring>
#include <cinttypes>
#include <cstdio>

#include "sim/core/status.h"

namespace hvsim {
namespace {

constexpr uint64_t kPage = 0x1000;
constexpr uint64_t kPageTablesBytes = 6 * kPage;  // PML4, PDPT, 4 page directories
constexpr uint64_t kStackBytes = 16 * 1024;
constexpr uint64_t kPerVcpuBytes = kPage + kStackBytes;  // GDT+TSS page, stack
constexpr uint64_t kTssOffset = 0x100;
constexpr uint16_t kGdtLimit = 0x3f;

constexpr uint64_t kGdt[] = {
    0,                      // 0x00 null
    0x00af9b000000ffffull,  // 0x08 64-bit code, DPL 0
    0x00cf93000000ffffull,  // 0x10 data, DPL 0
    0x00cffb000000ffffull,  // 0x18 32-bit code, DPL 3 (SYSRET placeholder)
    0x00cff3000000ffffull,  // 0x20 data, DPL 3
    0x00affb000000ffffull,  // 0x28 64-bit code, DPL 3
};

struct BootInfoHeader {
  uint32_t magic, version;
  uint64_t ram_size;
  uint32_t vcpu_count, flags;
  uint64_t free_mem_start, free_mem_end, tsc_hz, image_start, image_end, boot_cr3, vcpu_table;
};
static_assert(sizeof(BootInfoHeader) == 80);
struct BootInfoVcpu { uint64_t gdt_base, tss_base, stack_top, reserved; };
static_assert(sizeof(BootInfoVcpu) == 32);

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

}  // namespace

uint64_t host_reserved_bytes(unsigned vcpu_count) {
  uint64_t bytes = kPageTablesBytes + kPage /* boot info */ + vcpu_count * kPerVcpuBytes;
  return (bytes + 0xffff) & ~0xffffull;
}

BootLayout build_boot_layout(GuestMemory& mem, const ElfImage& image, unsigned vcpu_count, uint64_t tsc_hz,
                             bool aps_parked) {
  BootLayout b;
  b.host_base = mem.size() - host_reserved_bytes(vcpu_count);
  uint64_t image_start = UINT64_MAX, image_end = 0;
  for (const ElfSegment& s : image.segments) {
    if (s.paddr + s.memsz > b.host_base)
      throw UsageError(image.path + ": segment at " + hex(s.paddr) + " (" + std::to_string(s.memsz) +
                       " bytes) does not fit in guest RAM below the host-reserved area at " + hex(b.host_base) +
                       " (RAM " + std::to_string(mem.size() >> 20) + " MiB)");
    image_start = std::min(image_start, s.paddr);
    image_end = std::max(image_end, s.paddr + s.memsz);
  }
  for (const ElfSegment& s : image.segments) {
    std::vector<uint8_t> zero(s.memsz - s.bytes.size(), 0);
    SIM_ASSERT(mem.write(s.paddr, s.bytes.data(), s.bytes.size()) && mem.write(s.paddr + s.bytes.size(), zero.data(), zero.size()),
               "segment write");
  }
  b.free_start = (image_end + kPage - 1) & ~(kPage - 1);

  // Page tables: identity map [0, 4 GiB) with 2 MiB pages, present | writable | user.
  uint64_t pml4 = b.host_base, pdpt = pml4 + kPage, pd = pdpt + kPage;
  std::vector<uint64_t> tables(kPageTablesBytes / 8, 0);
  tables[0] = pdpt | 0x7;
  for (uint64_t i = 0; i < 4; ++i) tables[512 + i] = (pd + i * kPage) | 0x7;
  for (uint64_t i = 0; i < 4 * 512; ++i) tables[1024 + i] = (i << 21) | 0x87;
  mem.write(pml4, tables.data(), kPageTablesBytes);
  b.cr3 = pml4;

  b.boot_info = b.host_base + kPageTablesBytes;
  uint64_t vcpu_table = b.boot_info + sizeof(BootInfoHeader);
  uint64_t per_vcpu = b.boot_info + kPage;
  for (unsigned vp = 0; vp < vcpu_count; ++vp) {
    uint64_t gdt = per_vcpu + vp * kPerVcpuBytes;
    uint64_t tss = gdt + kTssOffset;
    uint64_t stack_top = gdt + kPerVcpuBytes;
    uint64_t entries[8];
    std::copy(std::begin(kGdt), std::end(kGdt), entries);
    entries[6] = 0x67 | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56);  // busy TSS
    entries[7] = tss >> 32;
    mem.write(gdt, entries, sizeof entries);
    uint8_t tss_bytes[0x68] = {};
    std::memcpy(tss_bytes + 4, &stack_top, 8);  // RSP0
    uint16_t iopb = sizeof tss_bytes;            // no I/O permission bitmap
    std::memcpy(tss_bytes + 0x66, &iopb, 2);
    mem.write(tss, tss_bytes, sizeof tss_bytes);
    BootInfoVcpu e{gdt, tss, stack_top, 0};
    mem.write_obj(vcpu_table + vp * sizeof e, e);

    LongModeBootState st;
    st.rip = image.entry;
    st.rsp = stack_top;
    st.rdi = vp;
    st.rsi = b.boot_info;
    st.cr3 = b.cr3;
    st.gdt_base = gdt;
    st.gdt_limit = kGdtLimit;
    st.tss_base = tss;
    b.vcpus.push_back(st);
  }
  BootInfoHeader h{kBootInfoMagic, kBootInfoVersion, mem.size(), vcpu_count, aps_parked ? kBootFlagApsParked : 0u,
                   b.free_start, b.host_base, tsc_hz, image_start, image_end, b.cr3, vcpu_table};
  mem.write_obj(b.boot_info, h);
  return b;
}

}  // namespace hvsim
