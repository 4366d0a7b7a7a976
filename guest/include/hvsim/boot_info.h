/* hvsim/boot_info.h - the boot-info block the host passes in RSI (guest contract, section 5).
 *
 * Layout is fixed by the contract; the _Static_asserts pin every offset. _start stores the
 * block's address in hvsim_boot before guest_main runs on any vCPU. Each vCPU's boot stack is
 * HVSIM_BOOT_STACK_SIZE bytes ending at vcpu_table[vp].stack_top, which is also its TSS.RSP0.
 */
#ifndef HVSIM_BOOT_INFO_H
#define HVSIM_BOOT_INFO_H

#include <stddef.h>
#include <stdint.h>

#define HVSIM_BOOT_MAGIC 0x42535648u /* "HVSB" */
#define HVSIM_BOOT_FLAG_APS_PARKED 0x1u
#define HVSIM_BOOT_STACK_SIZE 0x4000u

struct hvsim_vcpu_info {
    uint64_t gdt_base;
    uint64_t tss_base;
    uint64_t stack_top;
    uint64_t reserved;
};

struct hvsim_boot_info {
    uint32_t magic;
    uint32_t version;
    uint64_t ram_size;
    uint32_t vcpu_count;
    uint32_t flags;
    uint64_t free_mem_start;
    uint64_t free_mem_end;
    uint64_t tsc_hz;
    uint64_t image_start;
    uint64_t image_end;
    uint64_t boot_cr3;
    uint64_t vcpu_table;
};

_Static_assert(sizeof(struct hvsim_vcpu_info) == 32, "vcpu_table entry is 32 bytes");
_Static_assert(offsetof(struct hvsim_vcpu_info, stack_top) == 16, "stack_top offset");
_Static_assert(offsetof(struct hvsim_boot_info, version) == 4, "version offset");
_Static_assert(offsetof(struct hvsim_boot_info, ram_size) == 8, "ram_size offset");
_Static_assert(offsetof(struct hvsim_boot_info, vcpu_count) == 16, "vcpu_count offset");
_Static_assert(offsetof(struct hvsim_boot_info, flags) == 20, "flags offset");
_Static_assert(offsetof(struct hvsim_boot_info, free_mem_start) == 24, "free_mem_start offset");
_Static_assert(offsetof(struct hvsim_boot_info, free_mem_end) == 32, "free_mem_end offset");
_Static_assert(offsetof(struct hvsim_boot_info, tsc_hz) == 40, "tsc_hz offset");
_Static_assert(offsetof(struct hvsim_boot_info, image_start) == 48, "image_start offset");
_Static_assert(offsetof(struct hvsim_boot_info, image_end) == 56, "image_end offset");
_Static_assert(offsetof(struct hvsim_boot_info, boot_cr3) == 64, "boot_cr3 offset");
_Static_assert(offsetof(struct hvsim_boot_info, vcpu_table) == 72, "vcpu_table offset");
_Static_assert(sizeof(struct hvsim_boot_info) == 80, "boot info v1 is 80 bytes");

/* Set by _start (VP 0) before any vCPU reaches guest_main. */
extern const struct hvsim_boot_info *hvsim_boot;

static inline const struct hvsim_vcpu_info *hvsim_vcpu(const struct hvsim_boot_info *bi, uint32_t vp)
{
    return (const struct hvsim_vcpu_info *)(uintptr_t)bi->vcpu_table + vp;
}

#endif
