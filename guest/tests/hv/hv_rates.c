/* hv_rates.elf - the rates behind two read-only time MSRs (PROTOCOL 2.1).
 *
 * VP_RUNTIME (0x40000010) counts the VP's run time in 100 ns units, so it excludes time the VP is
 * halted: over a 1 ms busy wait it advances with TIME_REF_COUNT (at least 95% of it, never more
 * than it plus one tick); over a HLT of >= 1 ms ended by the local APIC timer it advances by at most
 * HALT_RUN_MAX ticks (the few hundred instructions around the HLT) while TIME_REF_COUNT advances
 * >= 10000.
 * APIC_FREQUENCY (0x40000023) is the local APIC timer's input clock (divide 1):
 *  - a masked one-shot counting down from 0xFFFFFFFF decreases by APIC_FREQUENCY * dt, dt measured
 *    with TIME_REF_COUNT over >= 1 ms, within RATE_SLACK_TICKS ticks' worth of counts (the MSR has
 *    100 ns granularity and the reads are a few instructions apart): 0.03% at 1 ms;
 *  - a one-shot of APIC_FREQUENCY / 1000 counts (1 ms) interrupts after 10000 ticks of
 *    TIME_REF_COUNT (-1..+EXPIRY_SLACK_TICKS: the handler reads it a few hundred instructions
 *    after the expiry) and after that many TSC cycles (TSC_FREQUENCY / 1000, within LAT_CYC).
 * Run (also with a non-default --apic-hz, tests/CMakeLists.txt):
 *   hvsim run --guest hv_rates.elf --hv hv-passthrough
 */
#include "hv_test.h"

#define X2_LVT_TIMER 0x832u
#define X2_INIT_COUNT 0x838u
#define X2_CUR_COUNT 0x839u
#define X2_DIVIDE 0x83Eu
#define LVT_MASKED (1u << 16)
#define DIVIDE_BY_1 0xBu
#define V_TIMER 0x5Au

#define HALT_RUN_MAX 50u       /* ticks of VP_RUNTIME allowed across the halt (5 us) */
#define RATE_SLACK_TICKS 3u    /* APIC count error allowed, in 100 ns ticks */
#define EXPIRY_SLACK_TICKS 20u /* 2 us */
#define LAT_CYC 4000u          /* 2 us at 2 GHz, as in hv_apic */

static uint64_t apic_hz;

static uint64_t rd(uint32_t msr) { return hvt_rdmsr_or(msr, ~0ull); }

static void t_runtime_busy(void *arg)
{
    (void)arg;
    uint64_t rt0, ref0, rt1, ref1;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_VP_RUNTIME, &rt0) | hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &ref0);
    hvt_delay_us(1000);
    f |= hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &ref1) | hvt_rdmsr_safe(HV_MSR_VP_RUNTIME, &rt1);
    uint64_t drt = rt1 - rt0, dref = ref1 - ref0;
    CHECK(!f && dref >= 10000 && drt * 100 >= dref * 95 && drt <= dref + 1,
          "busy 1 ms: VP_RUNTIME advanced %lu ticks with TIME_REF_COUNT %lu (want 95..100%%, faults 0x%x)", drt, dref, f);
}

static void t_runtime_halted(void *arg)
{
    (void)arg;
    volatile uint32_t *cnt = &hvt_irq[0].count[V_TIMER];
    uint32_t before = *cnt;
    uint64_t rt0, ref0, rt1, ref1;
    uint32_t f = hvt_wrmsr_safe(X2_DIVIDE, DIVIDE_BY_1) | hvt_wrmsr_safe(X2_LVT_TIMER, V_TIMER);
    f |= hvt_rdmsr_safe(HV_MSR_VP_RUNTIME, &rt0) | hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &ref0);
    f |= hvt_wrmsr_safe(X2_INIT_COUNT, (uint32_t)(apic_hz / 1000)); /* 1 ms */
    /* Halt until the timer interrupt; a wake-up for anything else halts again. */
    uint64_t dl = hvt_deadline_us(5000);
    while (*cnt == before && rdtsc() < dl)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    f |= hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &ref1) | hvt_rdmsr_safe(HV_MSR_VP_RUNTIME, &rt1);
    uint64_t drt = rt1 - rt0, dref = ref1 - ref0;
    CHECK(!f && *cnt == before + 1, "halted VP woken by the APIC timer once (count %u -> %u, faults 0x%x)", before, *cnt,
          f);
    CHECK(dref >= 10000 && drt <= HALT_RUN_MAX,
          "HLT for 1 ms: TIME_REF_COUNT advanced %lu ticks, VP_RUNTIME only %lu (want <= %u: halted time excluded)", dref,
          drt, HALT_RUN_MAX);
}

static void t_apic_count_rate(void *arg)
{
    (void)arg;
    uint32_t f = hvt_wrmsr_safe(X2_DIVIDE, DIVIDE_BY_1) | hvt_wrmsr_safe(X2_LVT_TIMER, LVT_MASKED | V_TIMER);
    f |= hvt_wrmsr_safe(X2_INIT_COUNT, 0xFFFFFFFFu);
    uint64_t ref0 = rd(HV_MSR_TIME_REF_COUNT), c0 = rd(X2_CUR_COUNT);
    int reached = hvt_wait_ref(ref0 + 10000, 5000);
    uint64_t c1 = rd(X2_CUR_COUNT), ref1 = rd(HV_MSR_TIME_REF_COUNT);
    hvt_wrmsr_safe(X2_INIT_COUNT, 0);
    uint64_t dec = c0 - c1, dref = ref1 - ref0;
    uint64_t want = dref * apic_hz / 10000000u; /* dref < 2^20, apic_hz < 2^40 */
    uint64_t slack = RATE_SLACK_TICKS * apic_hz / 10000000u;
    CHECK(!f && reached && c1 < c0 && dec + slack >= want && dec <= want + slack,
          "APIC current count fell %lu in %lu ticks of TIME_REF_COUNT: APIC_FREQUENCY %lu Hz predicts %lu +- %lu "
          "(faults 0x%x)",
          dec, dref, apic_hz, want, slack, f);
}

static void t_apic_expiry(void *arg)
{
    (void)arg;
    volatile uint32_t *cnt = &hvt_irq[0].count[V_TIMER];
    uint32_t before = *cnt;
    uint64_t tsc_hz = rd(HV_MSR_TSC_FREQUENCY);
    uint32_t n = (uint32_t)(apic_hz / 1000);
    uint32_t f = hvt_wrmsr_safe(X2_DIVIDE, DIVIDE_BY_1) | hvt_wrmsr_safe(X2_LVT_TIMER, V_TIMER);
    uint64_t ref0 = rd(HV_MSR_TIME_REF_COUNT), t0 = rdtsc();
    f |= hvt_wrmsr_safe(X2_INIT_COUNT, n);
    int got = HVT_WAIT(*cnt != before, 5000);
    uint64_t dref = hvt_irq[0].last_ref[V_TIMER] - ref0, dt = hvt_irq[0].last_tsc[V_TIMER] - t0;
    uint64_t want_cyc = tsc_hz / 1000;
    CHECK(!f && got && dref + 1 >= 10000 && dref <= 10000 + EXPIRY_SLACK_TICKS,
          "one-shot of APIC_FREQUENCY/1000 = %u counts: interrupt after %lu ticks of TIME_REF_COUNT (want 10000, "
          "faults 0x%x)",
          n, dref, f);
    CHECK(got && dt >= want_cyc && dt <= want_cyc + LAT_CYC,
          "one-shot of %u counts: interrupt after %lu TSC cycles (TSC_FREQUENCY/1000 = %lu .. +%u)", n, dt, want_cyc,
          LAT_CYC);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_rates", vp);
    if (vp != 0)
        hvt_ap_main();
    uint32_t f = hvt_rdmsr_safe(HV_MSR_APIC_FREQUENCY, &apic_hz);
    CHECK(!f && apic_hz >= 1000000, "APIC_FREQUENCY reads %lu Hz (fault 0x%x)", apic_hz, f);
    if (f || apic_hz < 1000000)
        return hvt_finish();
    hvt_run("VP_RUNTIME while running", t_runtime_busy, 0);
    hvt_run("VP_RUNTIME while halted", t_runtime_halted, 0);
    hvt_run("APIC count rate", t_apic_count_rate, 0);
    hvt_run("APIC one-shot expiry", t_apic_expiry, 0);
    return hvt_finish();
}
