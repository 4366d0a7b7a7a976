/* hvsim_guest.h - the whole hvsim guest runtime API (include this one header).
 *
 * A guest defines `int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)`, which every
 * started vCPU enters after VP 0 has zeroed .bss. VP 0's return value becomes the guest exit
 * code (hv_exit); any other vCPU that returns halts forever (cli; hlt).
 */
#ifndef HVSIM_GUEST_H
#define HVSIM_GUEST_H

#include "hvsim/boot_info.h"
#include "hvsim/console.h"
#include "hvsim/cpu.h"
#include "hvsim/exit.h"
#include "hvsim/idt.h"
#include "hvsim/string.h"
#include "hvsim/sync.h"
#include "hvsim/vp.h"

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi);

#endif
