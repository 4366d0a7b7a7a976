/* hvsim/vp.h - which vCPU am I?
 *
 * this_vp() returns the VP index of the calling vCPU by finding which vCPU's boot stack
 * (vcpu_table[i].stack_top - HVSIM_BOOT_STACK_SIZE .. stack_top) holds the current RSP. It needs
 * no MSR, but it only works while running on the boot stack (which is also TSS.RSP0, so it works
 * in handlers for traps taken from CPL 3); elsewhere it returns HVSIM_VP_NONE.
 */
#ifndef HVSIM_VP_H
#define HVSIM_VP_H

#include <stdint.h>

#define HVSIM_VP_NONE 0xFFFFFFFFu

uint32_t this_vp(void);

#endif
