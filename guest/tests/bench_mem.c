/* bench_mem.elf - memory benchmark: 20M load/modify/store iterations walking a 64 KiB buffer
 * with an odd stride (every word is visited), then VP 0 prints a checksum and exits 0. */
#include "hvsim_guest.h"

#define ITERATIONS 20000000u
#define WORDS (65536 / sizeof(uint64_t))
#define STRIDE 37

static uint64_t buf[WORDS];

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        return 0;
    uint32_t idx = 0;
    for (uint32_t i = 0; i < ITERATIONS; i++) {
        buf[idx] = buf[idx] * 31 + i;
        idx = (idx + STRIDE) & (WORDS - 1);
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < WORDS; i++)
        sum = (sum ^ buf[i]) * 0x100000001b3ull;
    printf("bench_mem: %u iterations over %u bytes, checksum 0x%016lx\n", ITERATIONS, (unsigned)sizeof(buf), sum);
    return 0;
}
