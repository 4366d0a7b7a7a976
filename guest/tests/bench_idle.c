/* bench_idle.elf - a timer-driven idle guest for bench/hvsim_bench: synthetic timer 0 in direct
 * mode, periodic every 1 ms (10000 units of 100 ns) on vector 0x40, and HLT between ticks, for
 * 10 virtual seconds (10000 ticks). Built a second time with TICKS=0 as bench_idle_setup.elf (the
 * same boot and timer programming, no ticks), whose time the benchmark subtracts. Exits 0, or 1
 * if the timer could not be programmed. */
#include "hvsim_guest.h"

#define MSR_X2APIC_EOI 0x80B
#define MSR_SCONTROL 0x40000080
#define MSR_STIMER0_CONFIG 0x400000B0
#define MSR_STIMER0_COUNT 0x400000B1
#ifndef TICKS
#define TICKS 10000u
#endif

static volatile uint32_t ticks;

static void on_tick(struct trap_frame *tf)
{
    (void)tf;
    ticks++;
    wrmsr(MSR_X2APIC_EOI, 0);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    idt_install();
    idt_set_handler(0x40, on_tick);
    x2apic_enable();
    wrmsr(MSR_SCONTROL, 1);
    /* enable | periodic | direct mode | vector 0x40 (bits 11:4) */
    wrmsr(MSR_STIMER0_CONFIG, 1 | 2 | (1u << 12) | (0x40u << 4));
    wrmsr(MSR_STIMER0_COUNT, 10000);
    for (uint32_t want = TICKS; ticks != want;)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    wrmsr(MSR_STIMER0_CONFIG, 0);
    printf("bench_idle: %u ticks\n", ticks);
    return 0;
}
