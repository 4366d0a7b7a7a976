/* hvsim/sync.h - spinlock and atomics for vCPUs sharing memory.
 *
 * spin_trylock is one `lock cmpxchg`; spin_lock retries it, spinning with `pause` on plain reads
 * while the lock is held (test-and-test-and-set). spin_unlock is a compiler barrier plus a plain
 * store, which releases on x86 (TSO). atomic_fetch_add_* are `lock xadd` and return the old value.
 * All of these are full compiler barriers.
 */
#ifndef HVSIM_SYNC_H
#define HVSIM_SYNC_H

#include <stdint.h>
#include "hvsim/cpu.h"

typedef struct {
    volatile uint32_t locked;
} spinlock_t;

#define SPINLOCK_INIT {0}

static inline int spin_trylock(spinlock_t *l)
{
    uint32_t expected = 0;
    __asm__ volatile("lock cmpxchgl %2, %1" : "+a"(expected), "+m"(l->locked) : "r"(1u) : "memory", "cc");
    return expected == 0;
}

static inline void spin_lock(spinlock_t *l)
{
    while (!spin_trylock(l)) {
        while (l->locked)
            pause();
    }
}

static inline void spin_unlock(spinlock_t *l)
{
    __asm__ volatile("" ::: "memory");
    l->locked = 0;
}

static inline uint32_t atomic_fetch_add_u32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory", "cc");
    return v;
}

static inline uint64_t atomic_fetch_add_u64(volatile uint64_t *p, uint64_t v)
{
    __asm__ volatile("lock xaddq %0, %1" : "+r"(v), "+m"(*p) : : "memory", "cc");
    return v;
}

static inline uint32_t atomic_load_u32(const volatile uint32_t *p)
{
    uint32_t v = *p;
    __asm__ volatile("" ::: "memory");
    return v;
}

static inline void atomic_store_u32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("" ::: "memory");
    *p = v;
}

#endif
