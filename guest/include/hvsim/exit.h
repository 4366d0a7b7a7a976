/* hvsim/exit.h - ending the run (guest contract, section 7).
 *
 * hv_exit(code) writes code to port 0xF4 with a 32-bit OUT, which ends the whole run with that
 * guest exit code; it never returns (halt_forever follows in case the write were ignored).
 * HVSIM_EXIT_UNHANDLED_BASE + vector is the code the runtime uses for an unhandled vector.
 */
#ifndef HVSIM_EXIT_H
#define HVSIM_EXIT_H

#include <stdint.h>
#include "hvsim/cpu.h"

#define HVSIM_EXIT_PORT 0xF4
#define HVSIM_EXIT_UNHANDLED_BASE 0xE00u

/* cli; hlt forever: what a vCPU with nothing left to do calls. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;) {
        cli();
        hlt();
    }
}

static inline __attribute__((noreturn)) void hv_exit(uint32_t code)
{
    outl(HVSIM_EXIT_PORT, code);
    halt_forever();
}

#endif
