/* bench_hv_signal.elf - 1M fast HvCallSignalEvent through the hypercall page to an unregistered
 * connection (answered HV_STATUS_INVALID_CONNECTION_ID; bench/hvsim_bench). */
#include "bench_hv.h"

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    bench_enable_hypercalls();
    for (uint32_t i = 0; i < BENCH_ITERATIONS; i++)
        if ((bench_hypercall(BENCH_HVCALL_SIGNAL_EVENT | BENCH_HV_FAST, 0x4242, 0) & 0xffff) !=
            BENCH_STATUS_INVALID_CONNECTION_ID)
            return 1;
    return 0;
}
