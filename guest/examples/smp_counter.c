/* smp_counter.elf - every vCPU takes one spinlock K times; VP 0 checks the count and prints an
 * FNV-1a hash of the acquisition order (first LOG_CAP acquisitions) and the number of handoffs.
 * The hash depends on the interleaving: same seed, same hash. Exit 0, or 1 if the count is wrong. */
#include "hvsim_guest.h"

#define K 2000
#define LOG_CAP 4096
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static spinlock_t lock = SPINLOCK_INIT;
static uint64_t counter;
static uint8_t order[LOG_CAP];
static uint32_t order_len;
static volatile uint32_t done;

static void busy(uint32_t vp)
{
    for (uint32_t i = 0; i < 16 + 13 * (vp % 8); i++)
        __asm__ volatile("" ::: "memory");
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    for (int i = 0; i < K; i++) {
        spin_lock(&lock);
        counter++;
        if (order_len < LOG_CAP)
            order[order_len++] = (uint8_t)vp;
        spin_unlock(&lock);
        busy(vp);
    }
    atomic_fetch_add_u32(&done, 1);
    if (vp != 0)
        return 0;

    while (atomic_load_u32(&done) != bi->vcpu_count)
        pause();

    uint64_t hash = FNV_OFFSET;
    uint32_t handoffs = 0;
    for (uint32_t i = 0; i < order_len; i++) {
        hash = (hash ^ order[i]) * FNV_PRIME;
        if (i > 0 && order[i] != order[i - 1])
            handoffs++;
    }
    uint64_t expected = (uint64_t)K * bi->vcpu_count;
    printf("smp_counter: vcpus=%u total=%lu expected=%lu\n", bi->vcpu_count, counter, expected);
    printf("smp_counter: order_hash=0x%016lx handoffs=%u logged=%u\n", hash, handoffs, order_len);
    if (counter != expected) {
        printf("smp_counter: FAIL lost updates\n");
        return 1;
    }
    return 0;
}
