/* hv_clock.elf - reference TSC page and partition reference time (PROTOCOL 2.1, 2.4).
 *
 * Enables REFERENCE_TSC; checks sequence != 0, scale ~= (10^7 << 64) / tsc_hz, that page time
 * ((rdtsc * scale) >> 64) + offset agrees with TIME_REF_COUNT read right after/before it, runs at
 * 10 MHz of TSC time, and is monotonic over 1000 reads (alone and mixed with the MSR). With
 * --vcpus 2: VP 1 sees the same page, and readings taken under a shared spinlock never go
 * backwards between VPs (page time and TIME_REF_COUNT). Run:
 *   hvsim run --guest hv_clock.elf --hv hv-passthrough --vcpus 2
 *
 * Agreement bound: page time and the MSR are both exact functions of virtual time; between the
 * RDTSC and the RDMSR lie a handful of instructions (one TSC cycle each at 2 GHz, i.e. < 1 tick of
 * 100 ns) plus the modelled cost of the RDTSC and RDMSR exits. AGREE_TICKS = 20 (2 us = 4000
 * cycles at 2 GHz) covers exit costs up to thousands of cycles; -1 tick is allowed for the
 * truncation of scale and of each side's division.
 */
#include "hv_test.h"

#define AGREE_TICKS 20
#define READS 1000

static volatile struct hv_ref_tsc_page *pg;

static inline uint64_t rdtsc_ordered(void)
{
    __asm__ volatile("lfence" ::: "memory");
    return rdtsc();
}

/* Linux's read protocol (2.4); 0 if the page is invalid (sequence 0) or never stable. */
static int page_time(uint64_t *t)
{
    for (int tries = 0; tries < 100; tries++) {
        uint32_t seq = pg->sequence;
        if (seq == 0)
            return 0;
        __asm__ volatile("" ::: "memory");
        uint64_t scale = pg->scale;
        int64_t off = pg->offset;
        uint64_t tsc = rdtsc_ordered();
        __asm__ volatile("" ::: "memory");
        if (pg->sequence == seq) {
            *t = hvt_mul_hi(tsc, scale) + (uint64_t)off;
            return 1;
        }
    }
    return 0;
}

static uint64_t msr_time(void) { return hvt_rdmsr_or(HV_MSR_TIME_REF_COUNT, 0); }

/* floor((10^7 << 64) / hz) by long division (no 128-bit divide in freestanding code). */
static uint64_t expected_scale(uint64_t hz)
{
    uint64_t rem = 10000000ull % hz, q = 0;
    for (int i = 0; i < 64; i++) {
        int carry = rem >> 63;
        rem <<= 1;
        q <<= 1;
        if (carry || rem >= hz) {
            rem -= hz;
            q |= 1;
        }
    }
    return q;
}

static void t_enable(void *arg)
{
    (void)arg;
    uint64_t v;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_REFERENCE_TSC, &v);
    CHECK(!f && v == 0, "REFERENCE_TSC reset value 0 (0x%lx, fault 0x%x)", v, f);
    pg = hvt_alloc_page();
    uint64_t want = (uint64_t)(uintptr_t)pg | HV_PAGE_ENABLE;
    f = hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, want);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_REFERENCE_TSC, &v);
    CHECK(!f && !g && v == want, "REFERENCE_TSC enable reads back 0x%lx (want 0x%lx)", v, want);
    CHECK(pg->sequence != 0, "reference TSC page sequence non-zero (0x%x)", pg->sequence);
    CHECK(pg->sequence != 0xFFFFFFFFu, "sequence is not 0xFFFFFFFF (0x%x)", pg->sequence);
    uint64_t hz = hvt_tsc_hz(), es = expected_scale(hz), sc = pg->scale;
    uint64_t diff = sc > es ? sc - es : es - sc;
    CHECK(diff <= es / 1000000, "scale 0x%lx ~= (10^7 << 64) / %lu = 0x%lx (within 1 ppm)", sc, hz, es);
}

static void t_agree(void *arg)
{
    (void)arg;
    uint64_t tp = 0, tm;
    int ok = page_time(&tp);
    tm = msr_time();
    int64_t d = (int64_t)(tm - tp);
    CHECK(ok && d >= -1 && d <= AGREE_TICKS,
          "page time %lu then TIME_REF_COUNT %lu: MSR is 0..%d ticks later (diff %ld)", tp, tm, AGREE_TICKS,
          (int64_t)(tm - tp));
    tm = msr_time();
    ok = page_time(&tp);
    d = (int64_t)(tp - tm);
    CHECK(ok && d >= -1 && d <= AGREE_TICKS,
          "TIME_REF_COUNT %lu then page time %lu: page is 0..%d ticks later (diff %ld)", tm, tp, AGREE_TICKS,
          (int64_t)(tp - tm));

    /* Rate: over ~1 ms of TSC, page time advances TSC * 10^7 / hz (+-2 ticks). */
    uint64_t hz = hvt_tsc_hz(), a, b;
    uint64_t c0 = rdtsc_ordered();
    page_time(&a);
    while (rdtsc() - c0 < hz / 1000)
        pause();
    uint64_t c1 = rdtsc_ordered();
    page_time(&b);
    uint64_t want = (c1 - c0) / (hz / 10000000ull ? hz / 10000000ull : 1);
    int64_t err = (int64_t)(b - a) - (int64_t)want;
    CHECK(err >= -2 && err <= 2, "page time runs at 10 MHz of TSC time (%lu ticks for %lu cycles, err %ld)", b - a,
          c1 - c0, err);
}

static void t_monotonic(void *arg)
{
    (void)arg;
    uint64_t prev = 0, t, worst = 0;
    unsigned back = 0, invalid = 0;
    for (int i = 0; i < READS; i++) {
        if (!page_time(&t)) {
            invalid++;
            continue;
        }
        if (t < prev) {
            back++;
            if (prev - t > worst)
                worst = prev - t;
        }
        prev = t;
    }
    CHECK(back == 0 && invalid == 0, "page time monotonic over %d reads (%u backwards, worst %lu, %u invalid)", READS,
          back, worst, invalid);
    /* Mixed with the MSR: allow 1 tick for rounding between the two sources. */
    prev = 0;
    back = 0;
    for (int i = 0; i < READS; i++) {
        if (i & 1)
            t = msr_time();
        else if (!page_time(&t))
            t = 0;
        if (t + 1 < prev)
            back++;
        if (t > prev)
            prev = t;
    }
    CHECK(back == 0, "page time and TIME_REF_COUNT interleaved never go back more than 1 tick (%u times)", back);
}

/* ---- cross-VP ---- */
static spinlock_t lock = SPINLOCK_INIT;
static volatile uint64_t published;
static volatile unsigned back_count[HVT_MAX_VPS];
static volatile uint64_t back_worst[HVT_MAX_VPS];
static volatile uint32_t remote_seq;

static void remote_seq_read(void *arg)
{
    (void)arg;
    remote_seq = pg->sequence;
}

static void cross_loop(void *arg)
{
    int use_msr = arg != 0;
    uint32_t vp = this_vp();
    back_count[vp] = 0;
    back_worst[vp] = 0;
    for (int i = 0; i < READS; i++) {
        spin_lock(&lock);
        uint64_t t = 0;
        if (use_msr)
            t = msr_time();
        else
            page_time(&t);
        if (t < published) {
            back_count[vp]++;
            if (published - t > back_worst[vp])
                back_worst[vp] = published - t;
        } else {
            published = t;
        }
        spin_unlock(&lock);
        for (int k = 0; k < (i & 7) * 10; k++)
            pause();
    }
}

static void t_cross_vp(void *arg)
{
    (void)arg;
    if (hvsim_boot->vcpu_count < 2) {
        NOTE("single vCPU: cross-VP checks skipped (run with --vcpus 2)");
        return;
    }
    int ok = hvt_on_vp(1, remote_seq_read, 0, 20000);
    CHECK(ok && remote_seq == pg->sequence, "VP 1 sees the same reference TSC page (seq %u vs %u)", remote_seq,
          pg->sequence);
    for (int msr = 0; msr < 2; msr++) {
        const char *src = msr ? "TIME_REF_COUNT" : "page time";
        published = 0;
        hvt_start_on_vp(1, cross_loop, (void *)(uintptr_t)msr);
        cross_loop((void *)(uintptr_t)msr);
        ok = hvt_wait_vp(1, 200000);
        CHECK(ok && back_count[0] == 0, "%s on VP 0 never behind a reading published earlier (%u times, worst %lu)", src,
              back_count[0], back_worst[0]);
        CHECK(ok && back_count[1] == 0, "%s on VP 1 never behind a reading published earlier (%u times, worst %lu)", src,
              back_count[1], back_worst[1]);
    }
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_clock", vp);
    if (vp != 0)
        hvt_ap_main();
    uint64_t hz = 0;
    hvt_rdmsr_safe(HV_MSR_TSC_FREQUENCY, &hz);
    CHECK(hz == hvt_tsc_hz(), "TSC_FREQUENCY %lu == boot-info TSC rate %lu", hz, hvt_tsc_hz());
    hvt_run("enable", t_enable, 0);
    if (pg) {
        hvt_run("agreement with TIME_REF_COUNT", t_agree, 0);
        hvt_run("monotonic", t_monotonic, 0);
        hvt_run("cross-VP", t_cross_vp, 0);
    }
    return hvt_finish();
}
