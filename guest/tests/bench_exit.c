/* bench_exit.elf - exit-path benchmark: 1M rdmsr of IA32_TSC (MSR 0x10, trapped) then 1M
 * `out` to port 0x80 (unhandled port), then VP 0 prints the virtual time used and exits 0. */
#include "hvsim_guest.h"

#define ITERATIONS 1000000u
#define MSR_IA32_TSC 0x10
#define PORT_POST 0x80

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        return 0;
    uint64_t t0 = rdtsc();
    for (uint32_t i = 0; i < ITERATIONS; i++)
        rdmsr(MSR_IA32_TSC);
    uint64_t t1 = rdtsc();
    for (uint32_t i = 0; i < ITERATIONS; i++)
        outb(PORT_POST, (uint8_t)i);
    uint64_t t2 = rdtsc();
    printf("bench_exit: %u rdmsr in %lu cycles, %u out in %lu cycles\n", ITERATIONS, t1 - t0, ITERATIONS, t2 - t1);
    return 0;
}
