/* bench_alu.elf - compute-bound benchmark: 50M iterations of add/xor/rol on registers only,
 * then VP 0 prints a checksum and exits 0. Other vCPUs halt. */
#include "hvsim_guest.h"

#define ITERATIONS 50000000u

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        return 0;
    uint64_t a = 0x0123456789abcdefull, b = 0xfedcba9876543210ull, c = 1;
    uint32_t n = ITERATIONS;
    __asm__ volatile("1:\n\t"
                     "add %[b], %[a]\n\t"
                     "xor %[a], %[c]\n\t"
                     "rol $13, %[b]\n\t"
                     "add %[c], %[b]\n\t"
                     "dec %[n]\n\t"
                     "jnz 1b"
                     : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [n] "+r"(n)
                     :
                     : "cc");
    printf("bench_alu: %u iterations, checksum 0x%016lx\n", ITERATIONS, a ^ b ^ c);
    return 0;
}
