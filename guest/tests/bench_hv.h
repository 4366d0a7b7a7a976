/* bench_hv.h - shared set-up for the hypervisor-exit benchmark guests: enables the hypercall page
 * and issues hypercalls through it (RCX control, RDX input, R8 output; result in RAX). */
#pragma once
#include "hvsim_guest.h"

#define BENCH_MSR_GUEST_OS_ID 0x40000000
#define BENCH_MSR_HYPERCALL 0x40000001
#define BENCH_MSR_VP_INDEX 0x40000002
#define BENCH_HVCALL_POST_MESSAGE 0x005c
#define BENCH_HVCALL_SIGNAL_EVENT 0x005d
#define BENCH_HV_FAST 0x10000
#define BENCH_STATUS_INVALID_CONNECTION_ID 0x12
#define BENCH_ITERATIONS 1000000u

static uint8_t bench_pages[2][4096] __attribute__((aligned(4096)));

static inline void bench_enable_hypercalls(void)
{
    wrmsr(BENCH_MSR_GUEST_OS_ID, 0x8100000000000001ull);
    wrmsr(BENCH_MSR_HYPERCALL, (uint64_t)(uintptr_t)bench_pages[0] | 1);
}

static inline uint64_t bench_hypercall(uint64_t control, uint64_t in, uint64_t out)
{
    uint64_t r;
    register uint64_t r8 __asm__("r8") = out;
    void *page = bench_pages[0];
    __asm__ volatile("call *%[pg]" : "=a"(r), "+c"(control), "+d"(in), "+r"(r8) : [pg] "r"(page)
                     : "r9", "r10", "r11", "memory", "cc");
    return r;
}
