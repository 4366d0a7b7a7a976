/* ap_trampoline.h - what ap_start.c and ap_trampoline.S agree on.
 *
 * The trampoline (ap_tramp_start .. ap_tramp_end) is assembled to run at AP_TRAMP_BASE, a page
 * below the image; the BSP copies it there and fills three 8-byte slots in the copy: the CR3 to
 * use (below 4 GiB), the AP's 64-bit stack top, and the 64-bit function to call (must not return).
 * SIPI vector AP_SIPI_VECTOR starts the AP in real mode at CS:IP = AP_TRAMP_BASE >> 4 : 0.
 */
#ifndef AP_TRAMPOLINE_H
#define AP_TRAMPOLINE_H

#define AP_TRAMP_BASE 0x8000
#define AP_SIPI_VECTOR (AP_TRAMP_BASE >> 12)

#ifndef __ASSEMBLER__
#include <stdint.h>
extern const uint8_t ap_tramp_start[], ap_tramp_end[];
extern const uint8_t ap_tramp_cr3[], ap_tramp_stack[], ap_tramp_entry[];
#endif

#endif
