/* bench_hv_post.elf - 1M memory-form HvCallPostMessage through the hypercall page to an
 * unregistered connection: the whole parse, validate and route path, answered
 * HV_STATUS_INVALID_CONNECTION_ID (bench/hvsim_bench). Exits 1 on any other status. */
#include "bench_hv.h"

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    bench_enable_hypercalls();
    uint64_t *in = (uint64_t *)bench_pages[1];
    in[0] = 0x4242;            /* connection id */
    in[1] = 1 | (8ull << 32);  /* message type 1, payload size 8 */
    for (uint32_t i = 0; i < BENCH_ITERATIONS; i++)
        if ((bench_hypercall(BENCH_HVCALL_POST_MESSAGE, (uint64_t)(uintptr_t)bench_pages[1], 0) & 0xffff) !=
            BENCH_STATUS_INVALID_CONNECTION_ID)
            return 1;
    return 0;
}
