/* vp.c - this_vp(): the VP whose boot stack holds RSP (see hvsim/vp.h). */
#include "hvsim/boot_info.h"
#include "hvsim/vp.h"

uint32_t this_vp(void)
{
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    for (uint32_t i = 0; i < hvsim_boot->vcpu_count; i++) {
        uint64_t top = hvsim_vcpu(hvsim_boot, i)->stack_top;
        if (rsp < top && rsp >= top - HVSIM_BOOT_STACK_SIZE)
            return i;
    }
    return HVSIM_VP_NONE;
}
