/* bench_hv_msr.elf - 1M RDMSR of the synthetic MSR HV_X64_MSR_VP_INDEX (bench/hvsim_bench). */
#include "bench_hv.h"

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    uint64_t sum = 0;
    for (uint32_t i = 0; i < BENCH_ITERATIONS; i++)
        sum += rdmsr(BENCH_MSR_VP_INDEX);
    return sum == 0 ? 0 : 1;
}
