/* hv_apic.elf - the local APIC (guest contract 6a; Intel SDM vol. 3A chapter 10 / 11 "APIC";
 * Hyper-V APIC-access MSRs, PROTOCOL 2.1).
 *
 * Before the shared runtime switches to x2APIC, every VP records its power-up APIC state through
 * IA32_APIC_BASE and the xAPIC page at 0xFEE00000: base 0xFEE00900 (enable + BSP) on VP 0 and
 * 0xFEE00800 on VP 1, SVR 0xFF (software-disabled), LVT timer masked, TPR 0, ID[31:24] = VP
 * index, an integrated-APIC version (0x1X, >= 4 LVTs); VP 0 also writes TPR 0x20 through MMIO
 * and reads it back. Then in x2APIC mode (base bits 10+11, SVR 0x1FF):
 *  - x2APIC ID (0x802) = VP index = CPUID.1:EBX[31:24] = CPUID.0xB:EDX = VP_INDEX; version 0x803
 *    = the xAPIC one; LDR = (ID[19:4] << 16) | 1 << ID[3:0] (SDM 10.12.10.2).
 *  - timer clock = APIC_FREQUENCY (= --apic-hz; 200 MHz if the MSR is absent). One-shot, divide 1,
 *    100 us: fires exactly once, never before the programmed time, and at most LAT_CYC TSC cycles
 *    (see below) after it; TIME_REF_COUNT agrees within a tick; current count counts down and
 *    reads 0 afterwards. Same with divide 16. Periodic 50 us: 6 interrupts, the first one period
 *    after the write, each later one a period after the previous (+-LAT_CYC), none after the
 *    initial count is cleared. Masked one-shot: no interrupt, IRR bit clear, nothing on
 *    unmasking. TSC-deadline (CPUID.1:ECX[24] must advertise it, SDM 10.5.4.1): fires once TSC >=
 *    deadline (<= LAT_CYC after), IA32_TSC_DEADLINE reads the deadline while armed and 0 after;
 *    a past deadline fires at once; writing 0 disarms.
 *  - IPIs: fixed VP0 -> VP1 and VP1 -> VP0 through the ICR (0x830) land on the target only;
 *    SELF IPI (0x83F) with IF = 0 waits in IRR and arrives once after STI; with IF = 1 it is
 *    taken within LAT_CYC of the write (as is a TSC deadline already in the past); ICR self
 *    shorthand arrives on VP 0 only.
 *  - TPR 0x70: PPR = 0x70; vectors 0x65 (class 6) and 0x7A (class 7) stay in IRR, 0x85 is taken;
 *    lowering TPR to 0 delivers 0x7A then 0x65.
 *  - Hyper-V EOI/ICR/TPR MSRs (0x40000070-72, if CPUID 0x40000003 EAX b4): TPR is the x2APIC TPR
 *    (both directions) and masks the same way; ICR sends a fixed IPI to VP 1 and reads back as the
 *    x2APIC ICR does; EOI clears the in-service vector like an x2APIC EOI write; EOI reads #GP.
 * Bound LAT_CYC (2 us = 4000 cycles at 2 GHz): an interrupt is taken at the first instruction
 * boundary after it becomes pending (the guest spins with IF = 1); the handler executes the IDT
 * stub and the dispatcher (~100-200 instructions, 1 cycle each) before it reads the TSC, plus the
 * modelled cost of the timer MSR write itself; 4000 cycles is > 10x that and < 2% of a period.
 * Lower bounds are exact: the TSC is read before the MSR write that starts the timer. Run:
 *   hvsim run --guest hv_apic.elf --hv hv-passthrough --vcpus 2
 */
#include "hv_test.h"

#define XAPIC_BASE 0xFEE00000ull
#define MSR_TSC_DEADLINE 0x6E0u
#define X2_ID 0x802u
#define X2_VERSION 0x803u
#define X2_TPR 0x808u
#define X2_PPR 0x80Au
#define X2_LDR 0x80Du
#define X2_ISR(v) (0x810u + ((v) >> 5))
#define X2_IRR(v) (0x820u + ((v) >> 5))
#define X2_ICR 0x830u
#define X2_LVT_TIMER 0x832u
#define X2_INIT_COUNT 0x838u
#define X2_CUR_COUNT 0x839u
#define X2_DIVIDE 0x83Eu
#define X2_SELF_IPI 0x83Fu
#define HV_MSR_APIC_EOI 0x40000070u
#define HV_MSR_APIC_ICR 0x40000071u
#define HV_MSR_APIC_TPR 0x40000072u

#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define ICR_SELF (1u << 18)
#define LAT_CYC 4000u

struct pre_state {
    volatile uint32_t done;
    uint64_t apic_base;
    uint32_t id, version, tpr, svr, lvt_timer, tpr_written;
};
static struct pre_state pre[2];

static volatile uint32_t *xapic(uint32_t off) { return (volatile uint32_t *)(uintptr_t)(XAPIC_BASE + off); }

/* Runs before hvt_init (xAPIC mode, no IDT): only accesses that cannot fault. */
static void record_power_up(uint32_t vp)
{
    struct pre_state *p = &pre[vp];
    p->apic_base = rdmsr(MSR_IA32_APIC_BASE);
    p->id = *xapic(0x20);
    p->version = *xapic(0x30);
    p->tpr = *xapic(0x80);
    p->svr = *xapic(0xF0);
    p->lvt_timer = *xapic(0x320);
    if (vp == 0) {
        *xapic(0x80) = 0x20;
        p->tpr_written = *xapic(0x80);
        *xapic(0x80) = 0;
    }
    __asm__ volatile("mfence" ::: "memory");
    p->done = 1;
}

static uint64_t rd(uint32_t msr) { return hvt_rdmsr_or(msr, 0xDEADDEADDEADDEADull); }
static int irr(uint32_t v) { return (rd(X2_IRR(v)) >> (v & 31)) & 1; }
static int isr(uint32_t v) { return (rd(X2_ISR(v)) >> (v & 31)) & 1; }

static void noop(void *arg) { (void)arg; }

static void check_power_up(uint32_t vp)
{
    struct pre_state *p = &pre[vp];
    uint64_t want_base = XAPIC_BASE | (1u << 11) | (vp == 0 ? 1u << 8 : 0);
    CHECK(p->done, "vp%u recorded its power-up APIC state", vp);
    CHECK(p->apic_base == want_base, "vp%u IA32_APIC_BASE at power-up 0x%lx (want 0x%lx: enabled, xAPIC%s)", vp,
          p->apic_base, want_base, vp == 0 ? ", BSP" : "");
    CHECK(p->svr == 0xFF, "vp%u SVR at power-up 0x%x: software-disabled, vector 0xFF", vp, p->svr);
    CHECK(p->lvt_timer == LVT_MASKED, "vp%u LVT timer at power-up 0x%x (masked)", vp, p->lvt_timer);
    CHECK(p->tpr == 0, "vp%u TPR at power-up %u", vp, p->tpr);
    CHECK(p->id >> 24 == vp, "vp%u xAPIC ID register 0x%x: ID[31:24] = VP index", vp, p->id);
    uint32_t ver = p->version & 0xFF, maxlvt = (p->version >> 16) & 0xFF;
    CHECK((ver & 0xF0) == 0x10 && maxlvt >= 3, "vp%u xAPIC version 0x%x: integrated APIC (0x1X), max LVT %u", vp, p->version,
          maxlvt);
    if (vp == 0)
        CHECK(p->tpr_written == 0x20, "vp0 xAPIC TPR written 0x20 through MMIO reads back 0x%x", p->tpr_written);
}

static void x2apic_identity(void *arg)
{
    (void)arg;
    uint32_t vp = this_vp();
    uint64_t base = rd(MSR_IA32_APIC_BASE);
    uint64_t want = XAPIC_BASE | (3u << 10) | (vp == 0 ? 1u << 8 : 0);
    CHECK(base == want, "vp%u IA32_APIC_BASE in x2APIC mode 0x%lx (want 0x%lx)", vp, base, want);
    uint64_t id = rd(X2_ID);
    uint32_t c1 = cpuid(1, 0).ebx >> 24, cb = cpuid(0xB, 0).edx;
    uint64_t hvvp = hvt_rdmsr_or(HV_MSR_VP_INDEX, vp);
    CHECK(id == vp && c1 == vp && cb == vp && hvvp == vp,
          "vp%u x2APIC ID %lu = VP index (CPUID.1 EBX[31:24] %u, CPUID.0xB EDX %u, VP_INDEX %lu)", vp, id, c1, cb, hvvp);
    uint64_t ver = rd(X2_VERSION);
    CHECK(ver == pre[vp].version, "vp%u x2APIC version 0x%lx = xAPIC version 0x%x", vp, ver, pre[vp].version);
    uint64_t ldr = rd(X2_LDR), want_ldr = ((id >> 4) << 16) | (1u << (id & 15));
    CHECK(ldr == want_ldr, "vp%u x2APIC LDR 0x%lx (want 0x%lx)", vp, ldr, want_ldr);
    CHECK(rd(MSR_X2APIC_SVR) == 0x1FF, "vp%u SVR 0x%lx after software enable (0x1FF)", vp, rd(MSR_X2APIC_SVR));
}

/* ---- timer ---- */
static uint64_t apic_hz, tsc_hz;

static uint64_t apic_to_tsc(uint64_t apic_ticks) { return apic_ticks * tsc_hz / apic_hz; } /* < 2^64 for these small counts */

#define V_ONESHOT 0x50u
#define V_PERIODIC 0x51u
#define V_MASKED 0x52u
#define V_DEADLINE 0x53u

static void oneshot(uint32_t div_code, uint32_t div, const char *name)
{
    uint32_t n = (uint32_t)(apic_hz / 10000 / div); /* 100 us */
    volatile uint32_t *cnt = &hvt_irq[0].count[V_ONESHOT];
    uint32_t before = *cnt;
    uint32_t f = hvt_wrmsr_safe(X2_DIVIDE, div_code) | hvt_wrmsr_safe(X2_LVT_TIMER, V_ONESHOT);
    uint64_t ref0 = hvt_ref_now(), t0 = rdtsc();
    f |= hvt_wrmsr_safe(X2_INIT_COUNT, n);
    uint64_t c1 = rd(X2_CUR_COUNT);
    hvt_delay_us(10);
    uint64_t c2 = rd(X2_CUR_COUNT);
    int got = HVT_WAIT(*cnt != before, 1000);
    uint64_t dt = hvt_irq[0].last_tsc[V_ONESHOT] - t0, want = apic_to_tsc((uint64_t)n * div);
    uint64_t dref = hvt_irq[0].last_ref[V_ONESHOT] - ref0;
    CHECK(!f && got && dt >= want && dt <= want + LAT_CYC,
          "one-shot %s, %u counts: interrupt after %lu TSC cycles (want %lu..%lu, faults 0x%x)", name, n, dt, want,
          want + LAT_CYC, f);
    uint64_t tmp;
    if (hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &tmp))
        NOTE("one-shot %s: no TIME_REF_COUNT (no Hyper-V interface), TSC only", name);
    else
        CHECK(got && dref >= 999 && dref <= 1000 + 20, "one-shot %s: TIME_REF_COUNT advanced %lu ticks (100 us = 1000)", name,
              dref);
    CHECK(c1 <= n && c1 > c2 && c2 > 0, "one-shot %s: current count counts down (%u, %lu, %lu)", name, n, c1, c2);
    hvt_delay_us(300);
    CHECK(*cnt == before + 1 && rd(X2_CUR_COUNT) == 0, "one-shot %s fired exactly once (%u) and current count is 0 (%lu)",
          name, *cnt - before, rd(X2_CUR_COUNT));
}

static void timer_oneshot(void *arg)
{
    (void)arg;
    oneshot(0xB, 1, "divide 1");
    oneshot(0x3, 16, "divide 16");
}

static volatile uint64_t per_tsc[16];
static volatile uint32_t per_n;

static void periodic_hook(uint32_t vp, uint32_t v)
{
    if (vp == 0 && v == V_PERIODIC && per_n < 16)
        per_tsc[per_n++] = hvt_irq[0].last_tsc[v];
}

static void timer_periodic(void *arg)
{
    (void)arg;
    uint32_t n = (uint32_t)(apic_hz / 20000); /* 50 us */
    uint64_t period = apic_to_tsc(n);
    per_n = 0;
    hvt_irq_hook = periodic_hook;
    uint32_t f = hvt_wrmsr_safe(X2_DIVIDE, 0xB) | hvt_wrmsr_safe(X2_LVT_TIMER, V_PERIODIC | LVT_PERIODIC);
    uint64_t t0 = rdtsc();
    f |= hvt_wrmsr_safe(X2_INIT_COUNT, n);
    int got = HVT_WAIT(per_n >= 6, 2000);
    f |= hvt_wrmsr_safe(X2_INIT_COUNT, 0);
    uint32_t at_stop = per_n;
    hvt_delay_us(300);
    hvt_irq_hook = 0;
    uint64_t first = per_n ? per_tsc[0] - t0 : 0;
    CHECK(!f && got && first >= period && first <= period + LAT_CYC,
          "periodic %u counts: first interrupt after %lu cycles (want %lu..%lu, faults 0x%x)", n, first, period,
          period + LAT_CYC, f);
    unsigned bad = 0;
    for (uint32_t i = 1; i < at_stop && i < 6; i++) {
        uint64_t d = per_tsc[i] - per_tsc[i - 1];
        if (d + LAT_CYC < period || d > period + LAT_CYC)
            bad++;
        NOTE("periodic interval %u: %lu cycles", i, d);
    }
    CHECK(got && bad == 0, "periodic: 6 interrupts, each %lu +- %u cycles after the previous (%u off)", period, LAT_CYC, bad);
    CHECK(per_n == at_stop, "periodic: no interrupt after initial count = 0 (%u then %u)", at_stop, per_n);
}

static void timer_masked(void *arg)
{
    (void)arg;
    volatile uint32_t *cnt = &hvt_irq[0].count[V_MASKED];
    uint32_t before = *cnt;
    uint32_t f = hvt_wrmsr_safe(X2_DIVIDE, 0xB) | hvt_wrmsr_safe(X2_LVT_TIMER, V_MASKED | LVT_MASKED);
    f |= hvt_wrmsr_safe(X2_INIT_COUNT, (uint32_t)(apic_hz / 50000)); /* 20 us */
    hvt_delay_us(100);
    uint64_t cc = rd(X2_CUR_COUNT);
    int in_irr = irr(V_MASKED);
    CHECK(!f && *cnt == before && !in_irr && cc == 0,
          "masked one-shot: no interrupt, IRR clear, count ran out (count %u, irr %d, current %lu, faults 0x%x)", *cnt - before,
          in_irr, cc, f);
    hvt_wrmsr_safe(X2_LVT_TIMER, V_MASKED);
    hvt_delay_us(50);
    CHECK(*cnt == before, "masked one-shot: unmasking after the expiry delivers nothing (%u)", *cnt - before);
}

static void timer_deadline(void *arg)
{
    (void)arg;
    uint32_t ecx = cpuid(1, 0).ecx;
    CHECK(ecx & (1u << 24), "CPUID.1:ECX[24] advertises TSC-deadline mode (ecx 0x%x)", ecx);
    volatile uint32_t *cnt = &hvt_irq[0].count[V_DEADLINE];
    uint32_t before = *cnt;
    uint32_t f = hvt_wrmsr_safe(X2_LVT_TIMER, V_DEADLINE | LVT_TSC_DEADLINE);
    uint64_t lvt = rd(X2_LVT_TIMER);
    uint64_t dl = rdtsc() + apic_to_tsc(apic_hz / 10000); /* 100 us */
    f |= hvt_wrmsr_safe(MSR_TSC_DEADLINE, dl);
    uint64_t armed = rd(MSR_TSC_DEADLINE);
    int got = HVT_WAIT(*cnt != before, 1000);
    uint64_t at = hvt_irq[0].last_tsc[V_DEADLINE];
    CHECK(!f && lvt == (V_DEADLINE | LVT_TSC_DEADLINE) && armed == dl,
          "TSC-deadline: LVT 0x%lx, IA32_TSC_DEADLINE reads the deadline while armed (0x%lx / 0x%lx, faults 0x%x)", lvt, armed,
          dl, f);
    CHECK(got && at >= dl && at <= dl + LAT_CYC, "TSC-deadline: interrupt at TSC deadline + %ld cycles (0..%u)",
          (long)(at - dl), LAT_CYC);
    hvt_delay_us(100);
    CHECK(*cnt == before + 1 && rd(MSR_TSC_DEADLINE) == 0, "TSC-deadline: fired once (%u), IA32_TSC_DEADLINE now 0x%lx",
          *cnt - before, rd(MSR_TSC_DEADLINE));

    before = *cnt;
    uint64_t t0 = rdtsc();
    f = hvt_wrmsr_safe(MSR_TSC_DEADLINE, t0 - 1);
    got = HVT_WAIT(*cnt != before, 100);
    CHECK(!f && got && hvt_irq[0].last_tsc[V_DEADLINE] - t0 <= LAT_CYC,
          "TSC-deadline in the past fires at once (%lu cycles)", hvt_irq[0].last_tsc[V_DEADLINE] - t0);

    before = *cnt;
    f = hvt_wrmsr_safe(MSR_TSC_DEADLINE, rdtsc() + apic_to_tsc(apic_hz / 20000));
    f |= hvt_wrmsr_safe(MSR_TSC_DEADLINE, 0);
    hvt_delay_us(150);
    CHECK(!f && *cnt == before, "TSC-deadline: writing 0 disarms (%u interrupts)", *cnt - before);
    hvt_wrmsr_safe(X2_LVT_TIMER, LVT_MASKED);
}

/* ---- IPIs ---- */
#define V_IPI01 0x60u
#define V_IPI10 0x61u
#define V_SELF 0x62u
#define V_SELF_SH 0x63u
#define V_HV_ICR 0x64u

static void send_to_vp0(void *arg)
{
    (void)arg;
    CHECK(!hvt_wrmsr_safe(X2_ICR, V_IPI10), "vp1: ICR fixed vector 0x%x to APIC ID 0 accepted", V_IPI10);
}

static void ipis(void *arg)
{
    (void)arg;
    uint32_t c1 = hvt_irq[1].count[V_IPI01], c0 = hvt_irq[0].count[V_IPI01];
    uint32_t f = hvt_wrmsr_safe(X2_ICR, ((uint64_t)1 << 32) | V_IPI01);
    int got = HVT_WAIT(hvt_irq[1].count[V_IPI01] != c1, 1000);
    hvt_delay_us(20);
    CHECK(!f && got && hvt_irq[1].count[V_IPI01] == c1 + 1 && hvt_irq[0].count[V_IPI01] == c0,
          "fixed IPI 0x%x VP0 -> VP1: VP 1 took it once (%u), VP 0 not (%u) (fault 0x%x)", V_IPI01,
          hvt_irq[1].count[V_IPI01] - c1, hvt_irq[0].count[V_IPI01] - c0, f);

    c0 = hvt_irq[0].count[V_IPI10];
    c1 = hvt_irq[1].count[V_IPI10];
    int ran = hvt_on_vp(1, send_to_vp0, 0, 100000);
    got = HVT_WAIT(hvt_irq[0].count[V_IPI10] != c0, 1000);
    CHECK(ran && got && hvt_irq[0].count[V_IPI10] == c0 + 1 && hvt_irq[1].count[V_IPI10] == c1,
          "fixed IPI 0x%x VP1 -> VP0: VP 0 took it once (%u), VP 1 not (%u)", V_IPI10, hvt_irq[0].count[V_IPI10] - c0,
          hvt_irq[1].count[V_IPI10] - c1);

    cli();
    c0 = hvt_irq[0].count[V_SELF];
    f = hvt_wrmsr_safe(X2_SELF_IPI, V_SELF);
    int pend = irr(V_SELF);
    uint32_t early = hvt_irq[0].count[V_SELF] - c0;
    got = HVT_WAIT(hvt_irq[0].count[V_SELF] != c0, 100);
    CHECK(!f && pend && early == 0 && got && hvt_irq[0].count[V_SELF] == c0 + 1,
          "SELF IPI 0x%x with IF = 0 waits in IRR (%d, taken %u) and arrives once after STI (fault 0x%x)", V_SELF, pend, early,
          f);
    c0 = hvt_irq[0].count[V_SELF];
    uint64_t dl = hvt_deadline_us(100), t0 = rdtsc();
    sti();
    f = hvt_wrmsr_safe(X2_SELF_IPI, V_SELF);
    while (hvt_irq[0].count[V_SELF] == c0 && rdtsc() < dl)
        pause();
    cli();
    uint64_t lat = hvt_irq[0].last_tsc[V_SELF] - t0;
    CHECK(!f && hvt_irq[0].count[V_SELF] == c0 + 1 && lat <= LAT_CYC,
          "SELF IPI 0x%x with IF = 1 is taken at once (%lu cycles after the write, <= %u)", V_SELF, lat, LAT_CYC);
    c0 = hvt_irq[0].count[V_SELF_SH];
    c1 = hvt_irq[1].count[V_SELF_SH];
    f = hvt_wrmsr_safe(X2_ICR, ICR_SELF | V_SELF_SH);
    got = HVT_WAIT(hvt_irq[0].count[V_SELF_SH] != c0, 100);
    hvt_delay_us(20);
    CHECK(!f && got && hvt_irq[0].count[V_SELF_SH] == c0 + 1 && hvt_irq[1].count[V_SELF_SH] == c1,
          "ICR self shorthand 0x%x: arrives once on VP 0, not on VP 1 (fault 0x%x)", V_SELF_SH, f);
}

/* ---- task priority ---- */
static void tpr_check(uint32_t tpr_msr, const char *name, uint32_t v_lo, uint32_t v_eq, uint32_t v_hi)
{
    cli();
    uint32_t lo = hvt_irq[0].count[v_lo], eq = hvt_irq[0].count[v_eq], hi = hvt_irq[0].count[v_hi];
    uint32_t f = hvt_wrmsr_safe(tpr_msr, 0x70);
    uint64_t ppr = rd(X2_PPR);
    f |= hvt_wrmsr_safe(X2_SELF_IPI, v_lo) | hvt_wrmsr_safe(X2_SELF_IPI, v_eq) | hvt_wrmsr_safe(X2_SELF_IPI, v_hi);
    hvt_delay_us(30);
    int blocked = hvt_irq[0].count[v_lo] == lo && hvt_irq[0].count[v_eq] == eq && irr(v_lo) && irr(v_eq);
    CHECK(!f && ppr == 0x70, "%s TPR 0x70: PPR reads 0x%lx (faults 0x%x)", name, ppr, f);
    CHECK(blocked && hvt_irq[0].count[v_hi] == hi + 1,
          "%s TPR 0x70: vectors 0x%x and 0x%x stay in IRR (taken %u %u), 0x%x is taken (%u)", name, v_lo, v_eq,
          hvt_irq[0].count[v_lo] - lo, hvt_irq[0].count[v_eq] - eq, v_hi, hvt_irq[0].count[v_hi] - hi);
    sti();
    f = hvt_wrmsr_safe(tpr_msr, 0);
    int got = HVT_WAIT(hvt_irq[0].count[v_lo] != lo && hvt_irq[0].count[v_eq] != eq, 100);
    CHECK(!f && got && hvt_irq[0].count[v_lo] == lo + 1 && hvt_irq[0].count[v_eq] == eq + 1 &&
              hvt_irq[0].last_tsc[v_eq] < hvt_irq[0].last_tsc[v_lo],
          "%s TPR lowered to 0: 0x%x then 0x%x delivered once each", name, v_eq, v_lo);
}

static void tpr(void *arg)
{
    (void)arg;
    tpr_check(X2_TPR, "x2APIC", 0x65, 0x7A, 0x85);
}

/* ---- Hyper-V APIC-access MSRs ---- */
#define V_HV_EOI 0x67u
#define V_X2_EOI 0x68u
static volatile int eoi_isr_before, eoi_isr_after;
static volatile uint32_t eoi_fault;

static void eoi_hook(uint32_t vp, uint32_t v)
{
    if (vp != 0 || (v != V_HV_EOI && v != V_X2_EOI))
        return;
    eoi_isr_before = isr(v);
    eoi_fault = hvt_wrmsr_safe(v == V_HV_EOI ? HV_MSR_APIC_EOI : MSR_X2APIC_EOI, 0);
    eoi_isr_after = isr(v);
}

static void eoi_via(uint32_t v, const char *name)
{
    eoi_isr_before = eoi_isr_after = -1;
    hvt_irq_hook = eoi_hook;
    uint32_t c = hvt_irq[0].count[v];
    uint32_t f = hvt_wrmsr_safe(X2_SELF_IPI, v);
    int got = HVT_WAIT(hvt_irq[0].count[v] != c, 100);
    hvt_irq_hook = 0;
    CHECK(!f && got && eoi_isr_before == 1 && eoi_isr_after == 0 && !eoi_fault,
          "%s EOI: vector 0x%x in service in the handler (%d), cleared by the EOI write (%d, fault 0x%x)", name, v,
          eoi_isr_before, eoi_isr_after, eoi_fault);
}

static void hv_apic_msrs(void *arg)
{
    (void)arg;
    uint32_t f = hvt_wrmsr_safe(HV_MSR_APIC_TPR, 0x50);
    uint64_t a = rd(X2_TPR);
    f |= hvt_wrmsr_safe(X2_TPR, 0x30);
    uint64_t b = rd(HV_MSR_APIC_TPR);
    hvt_wrmsr_safe(X2_TPR, 0);
    CHECK(!f && a == 0x50 && b == 0x30, "HV TPR is the x2APIC TPR: HV 0x50 -> x2APIC reads 0x%lx; x2APIC 0x30 -> HV reads 0x%lx",
          a, b);
    tpr_check(HV_MSR_APIC_TPR, "HV", 0x66, 0x79, 0x86);

    uint32_t c1 = hvt_irq[1].count[V_HV_ICR];
    uint64_t icr = ((uint64_t)1 << 32) | V_HV_ICR;
    f = hvt_wrmsr_safe(HV_MSR_APIC_ICR, icr);
    int got = HVT_WAIT(hvt_irq[1].count[V_HV_ICR] != c1, 1000);
    CHECK(!f && got && hvt_irq[1].count[V_HV_ICR] == c1 + 1, "HV ICR 0x%lx: fixed IPI 0x%x reaches VP 1 once (fault 0x%x)", icr,
          V_HV_ICR, f);
    uint64_t rh = rd(HV_MSR_APIC_ICR), rx = rd(X2_ICR);
    CHECK(rh == icr && rx == icr, "HV ICR reads back 0x%lx, x2APIC ICR 0x%lx (want 0x%lx)", rh, rx, icr);

    eoi_via(V_HV_EOI, "HV");
    eoi_via(V_X2_EOI, "x2APIC");
    uint64_t v;
    uint32_t fh = hvt_rdmsr_safe(HV_MSR_APIC_EOI, &v), fx = hvt_rdmsr_safe(MSR_X2APIC_EOI, &v);
    CHECK(fh == HVT_GP0 && fx == HVT_GP0, "EOI registers are write-only: RDMSR HV EOI 0x%x, x2APIC EOI 0x%x (#GP = 0x10d)", fh,
          fx);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    if (vp < 2)
        record_power_up(vp);
    hvt_init("hv_apic", vp);
    if (vp != 0)
        hvt_ap_main();
    if (bi->vcpu_count < 2) {
        CHECK(0, "needs --vcpus 2");
        return hvt_finish();
    }
    CHECK(hvt_on_vp(1, noop, 0, 100000), "vp1 serving requests");
    check_power_up(0);
    check_power_up(1);
    hvt_run("x2apic identity vp0", x2apic_identity, 0);
    CHECK(hvt_on_vp(1, x2apic_identity, 0, 100000), "vp1 identity checks ran");

    tsc_hz = hvt_tsc_hz();
    uint64_t hz;
    apic_hz = hvt_rdmsr_safe(HV_MSR_APIC_FREQUENCY, &hz) || !hz ? 200000000ull : hz;
    NOTE("APIC timer clock %lu Hz, TSC %lu Hz", apic_hz, tsc_hz);
    hvt_run("one-shot timer", timer_oneshot, 0);
    hvt_run("periodic timer", timer_periodic, 0);
    hvt_run("masked timer", timer_masked, 0);
    hvt_run("TSC-deadline timer", timer_deadline, 0);
    hvt_run("IPIs", ipis, 0);
    hvt_run("TPR", tpr, 0);
    if (hvt_hv_features().eax & HV_ACCESS_APIC_MSRS)
        hvt_run("Hyper-V APIC MSRs", hv_apic_msrs, 0);
    else
        NOTE("CPUID 0x40000003 EAX b4 clear: Hyper-V EOI/ICR/TPR MSRs not checked");
    return hvt_finish();
}
