/* hv_synic.elf - SynIC message slots, driven by synthetic timers in message mode (PROTOCOL 2.6,
 * 2.7, 4.1-4.4).
 *
 * Each VP enables SCONTROL, SIMP, SIEFP and unmasks SINT n with vector 0x40 + n. For every SINT
 * on every VP, a one-shot STIMER0 posts HVMSG_TIMER_EXPIRED there: the message (type, size,
 * timer index, expiration, delivery time) and the interrupt (right vector, right VP, no other VP)
 * are checked. SINT 0 cannot be a timer target (a message-mode timer with SINTx = 0 stays
 * disabled, 2.7), which is checked instead. Busy slot: a second timer message to an occupied slot
 * sets msg_pending and is delivered after the slot is emptied and EOM written. Masked SINT: the
 * message lands in the slot with no interrupt; after unmasking, a new message interrupts. AutoEOI:
 * with a handler that never writes EOI, an AutoEOI SINT interrupts twice and a lower-priority
 * self-IPI still arrives (its vector never entered the APIC ISR); an ordinary SINT's vector stays in
 * service and holds back a second message interrupt, a same-class and a lower-class self-IPI until
 * the EOI. Run:
 *   hvsim run --guest hv_synic.elf --hv hv-passthrough --vcpus 2
 */
#include "hv_test.h"

#define SINT_VEC(n) (0x40u + (n))
#define DELTA 300u       /* timer lead, 100 ns units (30 us) */
#define WAIT_US 3000u    /* bound on any single wait for an interrupt */

struct vp_synic {
    struct hv_message *msg;
    volatile uint64_t *ef;
};
static struct vp_synic sv[HVT_MAX_VPS];
static uint32_t nvps;

static uint64_t gpa(volatile void *p) { return (uint64_t)(uintptr_t)p; }

static void setup_synic(void *arg)
{
    (void)arg;
    uint32_t vp = this_vp();
    struct vp_synic *s = &sv[vp];
    s->msg = hvt_alloc_page();
    s->ef = hvt_alloc_page();
    uint32_t f = hvt_wrmsr_safe(HV_MSR_SIMP, gpa(s->msg) | HV_PAGE_ENABLE);
    f |= hvt_wrmsr_safe(HV_MSR_SIEFP, gpa(s->ef) | HV_PAGE_ENABLE);
    for (unsigned n = 0; n < 16; n++)
        f |= hvt_wrmsr_safe(HV_MSR_SINT(n), SINT_VEC(n));
    f |= hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    uint64_t simp = hvt_rdmsr_or(HV_MSR_SIMP, 0), siefp = hvt_rdmsr_or(HV_MSR_SIEFP, 0);
    uint64_t sc = hvt_rdmsr_or(HV_MSR_SCONTROL, 0);
    CHECK(!f && simp == (gpa(s->msg) | 1) && siefp == (gpa(s->ef) | 1) && (sc & 1),
          "vp%u: SIMP 0x%lx, SIEFP 0x%lx, SCONTROL 0x%lx enabled (faults 0x%x)", vp, simp, siefp, sc, f);
    unsigned bad = 0;
    for (unsigned n = 0; n < 16; n++)
        bad += hvt_rdmsr_or(HV_MSR_SINT(n), 0) != SINT_VEC(n);
    CHECK(bad == 0, "vp%u: all 16 SINTs unmasked with vectors 0x40..0x4f (%u differ)", vp, bad);
    unsigned nz = 0;
    for (unsigned i = 0; i < 512; i++)
        nz += s->ef[i] != 0 || ((volatile uint64_t *)s->msg)[i] != 0;
    CHECK(nz == 0, "vp%u: message and event-flag pages start empty (%u non-zero qwords)", vp, nz);
}

static uint32_t arm_oneshot(unsigned timer, unsigned sint, uint64_t exp)
{
    uint32_t f = hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(timer), 0);
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(timer), exp);
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(timer), HV_STIMER_ENABLE | HV_STIMER_SINT(sint));
    return f;
}

static void stop_timer(unsigned timer)
{
    hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(timer), 0);
    hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(timer), 0);
}

static const struct hv_timer_payload *payload(struct hv_message *m)
{
    return (const struct hv_timer_payload *)(const void *)m->payload;
}

static int timer_msg_ok(struct hv_message *m, unsigned idx, uint64_t exp, uint64_t not_before, uint64_t now)
{
    const volatile struct hv_timer_payload *p = payload(m);
    return m->type == HVMSG_TIMER_EXPIRED && m->payload_size == 24 && p->timer_index == idx &&
           p->expiration_time == exp && p->delivery_time >= exp && p->delivery_time >= not_before &&
           p->delivery_time <= now;
}

#define MSG_FMT "type 0x%x size %u flags 0x%x index %u exp %lu deliv %lu"
#define MSG_ARGS(m) (m)->type, (m)->payload_size, (m)->flags, payload(m)->timer_index, payload(m)->expiration_time, \
                    payload(m)->delivery_time

static void sint_sweep(void *arg)
{
    (void)arg;
    uint32_t vp = this_vp();
    struct vp_synic *s = &sv[vp];
    volatile uint32_t *cnt = hvt_irq[vp].count;

    /* SINT 0: a message-mode timer with SINTx = 0 leaves Enable clear (2.7). */
    uint32_t c0 = cnt[SINT_VEC(0)];
    uint64_t exp = hvt_ref_now() + DELTA;
    uint32_t f = arm_oneshot(0, 0, exp);
    uint64_t cfg = hvt_rdmsr_or(HV_MSR_STIMER_CONFIG(0), ~0ull);
    hvt_delay_us(DELTA / 10 + 200);
    CHECK(!f && !(cfg & HV_STIMER_ENABLE) && s->msg[0].type == HVMSG_NONE && cnt[SINT_VEC(0)] == c0,
          "vp%u sint0: message-mode timer with SINTx=0 stays disabled (config 0x%lx, slot type 0x%x, faults 0x%x)", vp,
          cfg, s->msg[0].type, f);
    stop_timer(0);

    for (unsigned n = 1; n < 16; n++) {
        struct hv_message *m = &s->msg[n];
        uint32_t before = cnt[SINT_VEC(n)];
        exp = hvt_ref_now() + DELTA;
        f = arm_oneshot(0, n, exp);
        int got = HVT_WAIT(cnt[SINT_VEC(n)] != before, WAIT_US);
        uint64_t now = hvt_ref_now();
        uint64_t at = hvt_irq[vp].last_ref[SINT_VEC(n)];
        int ok = !f && got && cnt[SINT_VEC(n)] == before + 1 && timer_msg_ok(m, 0, exp, 0, now) && at >= exp &&
                 !(m->flags & HV_MSG_FLAG_PENDING);
        CHECK(ok, "vp%u sint%u: timer message + interrupt on vector 0x%x (irq %s at %lu, " MSG_FMT ", faults 0x%x)", vp,
              n, SINT_VEC(n), got ? "seen" : "missing", at, MSG_ARGS(m), f);
        hvt_msg_consume(m);
        stop_timer(0);
    }
    unsigned nz = 0;
    for (unsigned i = 0; i < 512; i++)
        nz += s->ef[i] != 0;
    CHECK(nz == 0, "vp%u: timer messages set no event flags (%u non-zero qwords in the SIEF page)", vp, nz);
}

static uint32_t snap[HVT_MAX_VPS][16];

static void snapshot(void)
{
    for (uint32_t v = 0; v < nvps; v++)
        for (unsigned n = 0; n < 16; n++)
            snap[v][n] = hvt_irq[v].count[SINT_VEC(n)];
}

/* Counts of VP v's SINT vectors that moved since the snapshot. */
static unsigned moved(uint32_t v)
{
    unsigned k = 0;
    for (unsigned n = 0; n < 16; n++)
        k += hvt_irq[v].count[SINT_VEC(n)] != snap[v][n];
    return k;
}

static void busy_slot(void *arg)
{
    (void)arg;
    const unsigned n = 5;
    uint32_t vp = this_vp();
    struct hv_message *m = &sv[vp].msg[n];
    volatile uint32_t *cnt = &hvt_irq[vp].count[SINT_VEC(n)];
    uint32_t before = *cnt;
    uint64_t t = hvt_ref_now();
    uint64_t exp0 = t + DELTA, exp1 = t + 3 * DELTA;
    uint32_t f = arm_oneshot(0, n, exp0) | arm_oneshot(1, n, exp1);
    int got = HVT_WAIT(*cnt != before, WAIT_US);
    CHECK(!f && got && timer_msg_ok(m, 0, exp0, 0, hvt_ref_now()),
          "vp%u busy slot: first message (timer 0) delivered (" MSG_FMT ", faults 0x%x)", vp, MSG_ARGS(m), f);
    /* Leave it in the slot past timer 1's expiration. */
    hvt_wait_ref(exp1 + 2000, 5000);
    CHECK(*cnt == before + 1 && m->type == HVMSG_TIMER_EXPIRED && payload(m)->timer_index == 0,
          "vp%u busy slot: second message not delivered while the slot is full (irqs %u, index %u)", vp, *cnt - before,
          payload(m)->timer_index);
    CHECK(m->flags & HV_MSG_FLAG_PENDING, "vp%u busy slot: msg_pending (flags bit 0) set (flags 0x%x)", vp, m->flags);
    uint64_t t_eom = hvt_ref_now();
    uint32_t none = HVMSG_NONE;
    __asm__ volatile("xchgl %0, %1" : "+r"(none), "+m"(m->type) : : "memory");
    f = hvt_wrmsr_safe(HV_MSR_EOM, 0);
    got = HVT_WAIT(*cnt != before + 1, WAIT_US);
    CHECK(!f && got && *cnt == before + 2 && timer_msg_ok(m, 1, exp1, t_eom, hvt_ref_now()) &&
              !(m->flags & HV_MSG_FLAG_PENDING),
          "vp%u busy slot: after empty + EOM the queued message arrives with its interrupt (" MSG_FMT
          ", EOM at %lu, fault 0x%x)",
          vp, MSG_ARGS(m), t_eom, f);
    hvt_msg_consume(m);
    stop_timer(0);
    stop_timer(1);
}

static void masked_sint(void *arg)
{
    (void)arg;
    const unsigned n = 7;
    uint32_t vp = this_vp();
    struct hv_message *m = &sv[vp].msg[n];
    volatile uint32_t *cnt = &hvt_irq[vp].count[SINT_VEC(n)];
    uint32_t f = hvt_wrmsr_safe(HV_MSR_SINT(n), SINT_VEC(n) | HV_SINT_MASKED);
    uint32_t before = *cnt;
    uint64_t exp = hvt_ref_now() + DELTA;
    f |= arm_oneshot(0, n, exp);
    hvt_wait_ref(exp + 2000, 5000);
    CHECK(!f && *cnt == before, "vp%u masked sint%u: no interrupt (%u irqs, faults 0x%x)", vp, n, *cnt - before, f);
    CHECK(timer_msg_ok(m, 0, exp, 0, hvt_ref_now()), "vp%u masked sint%u: the message is still written to the slot (" MSG_FMT
          ")", vp, n, MSG_ARGS(m));
    hvt_msg_consume(m);
    stop_timer(0);
    f = hvt_wrmsr_safe(HV_MSR_SINT(n), SINT_VEC(n));
    hvt_delay_us(20);
    before = *cnt;
    exp = hvt_ref_now() + DELTA;
    f |= arm_oneshot(0, n, exp);
    int got = HVT_WAIT(*cnt != before, WAIT_US);
    CHECK(!f && got && timer_msg_ok(m, 0, exp, 0, hvt_ref_now()),
          "vp%u unmasked sint%u: a new message interrupts (" MSG_FMT ", faults 0x%x)", vp, n, MSG_ARGS(m), f);
    hvt_msg_consume(m);
    stop_timer(0);
}

/* ---- AutoEOI (2.6 b17) ---- */
#define X2_ISR(v) (0x810u + ((v) >> 5)) /* x2APIC in-service register holding vector v */
#define X2_SELF_IPI 0x83Fu
#define LOW_VEC 0x30u /* priority class 3: below every SINT vector (class 4) */

static volatile int skip_eoi;            /* the no-EOI handler leaves the APIC alone while set */
static volatile int isr_in_handler[256]; /* ISR bit of the vector, read inside its handler */

static int in_service(uint32_t v) { return (int)((hvt_rdmsr_or(X2_ISR(v), 0) >> (v & 31)) & 1); }

/* Counts the interrupt like the shared handler, but writes no EOI while skip_eoi is set. */
static void on_irq_no_eoi(struct trap_frame *tf)
{
    uint32_t v = (uint32_t)tf->vector & 0xFF;
    isr_in_handler[v] = in_service(v);
    hvt_irq[this_vp()].count[v]++;
    if (!skip_eoi)
        hvt_apic_eoi();
}

static void auto_eoi(void *arg)
{
    (void)arg;
    const unsigned a = 10, b = 11; /* a: AutoEOI SINT, b: ordinary SINT; both handlers omit EOI */
    const uint32_t va = SINT_VEC(a), vb = SINT_VEC(b), vsame = SINT_VEC(12);
    uint32_t vp = this_vp();
    struct hv_message *ma = &sv[vp].msg[a], *mb = &sv[vp].msg[b];
    volatile uint32_t *cnt = hvt_irq[vp].count;
    idt_set_handler((uint8_t)va, on_irq_no_eoi);
    idt_set_handler((uint8_t)vb, on_irq_no_eoi);
    skip_eoi = 1;

    uint32_t f = hvt_wrmsr_safe(HV_MSR_SINT(a), va | HV_SINT_AUTO_EOI);
    for (unsigned k = 1; k <= 2; k++) {
        uint32_t before = cnt[va];
        isr_in_handler[va] = -1;
        uint64_t exp = hvt_ref_now() + DELTA;
        f |= arm_oneshot(0, a, exp);
        int got = HVT_WAIT(cnt[va] != before, WAIT_US);
        CHECK(!f && got && cnt[va] == before + 1 && timer_msg_ok(ma, 0, exp, 0, hvt_ref_now()) &&
                  isr_in_handler[va] == 0 && !in_service(va),
              "vp%u AutoEOI sint%u: message %u interrupts on 0x%x with no EOI written, ISR bit clear in the "
              "handler (%d) and after (%d) (" MSG_FMT ", faults 0x%x)",
              vp, a, k, va, isr_in_handler[va], in_service(va), MSG_ARGS(ma), f);
        hvt_msg_consume(ma);
        stop_timer(0);
    }
    uint32_t low = cnt[LOW_VEC];
    f = hvt_wrmsr_safe(X2_SELF_IPI, LOW_VEC);
    int got = HVT_WAIT(cnt[LOW_VEC] != low, WAIT_US);
    CHECK(!f && got, "vp%u AutoEOI sint%u: a lower-priority self-IPI 0x%x is not blocked (fault 0x%x)", vp, a, LOW_VEC,
          f);

    /* The same without AutoEOI: the vector stays in service and blocks its class and below. */
    uint32_t before = cnt[vb];
    isr_in_handler[vb] = -1;
    uint64_t exp = hvt_ref_now() + DELTA;
    f = arm_oneshot(0, b, exp);
    got = HVT_WAIT(cnt[vb] != before, WAIT_US);
    CHECK(!f && got && isr_in_handler[vb] == 1 && in_service(vb),
          "vp%u plain sint%u: interrupt on 0x%x without EOI leaves its ISR bit set (handler %d, after %d, faults 0x%x)",
          vp, b, vb, isr_in_handler[vb], in_service(vb), f);
    hvt_msg_consume(mb);
    stop_timer(0);
    uint32_t same = cnt[vsame];
    low = cnt[LOW_VEC];
    exp = hvt_ref_now() + DELTA;
    f = arm_oneshot(0, b, exp) | hvt_wrmsr_safe(X2_SELF_IPI, vsame) | hvt_wrmsr_safe(X2_SELF_IPI, LOW_VEC);
    hvt_wait_ref(exp + 1000, 2000);
    CHECK(!f && cnt[vb] == before + 1 && cnt[vsame] == same && cnt[LOW_VEC] == low && mb->type == HVMSG_TIMER_EXPIRED,
          "vp%u plain sint%u in service: a second message on it (slot type 0x%x) and self-IPIs 0x%x (same class) and "
          "0x%x (lower) are held back (irqs %u, %u, %u, faults 0x%x)",
          vp, b, mb->type, vsame, LOW_VEC, cnt[vb] - before - 1, cnt[vsame] - same, cnt[LOW_VEC] - low, f);
    skip_eoi = 0;
    f = hvt_wrmsr_safe(MSR_X2APIC_EOI, 0);
    got = HVT_WAIT(cnt[vb] == before + 2 && cnt[vsame] == same + 1 && cnt[LOW_VEC] == low + 1, WAIT_US);
    CHECK(!f && got, "vp%u plain sint%u: after the EOI all three held-back interrupts arrive (fault 0x%x)", vp, b, f);
    hvt_msg_consume(mb);
    stop_timer(0);
    for (unsigned i = 0; i < 4 && (in_service(va) || in_service(vb)); i++) /* leave nothing in service */
        hvt_apic_eoi();
    hvt_wrmsr_safe(HV_MSR_SINT(a), va);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    hvt_init("hv_synic", vp);
    if (vp != 0)
        hvt_ap_main();
    nvps = bi->vcpu_count < 2 ? 1 : 2;
    if (nvps < 2)
        NOTE("single vCPU: VP 1 checks skipped (run with --vcpus 2)");

    hvt_run("setup vp0", setup_synic, 0);
    if (nvps > 1)
        CHECK(hvt_on_vp(1, setup_synic, 0, 100000), "vp1 setup ran");

    snapshot();
    hvt_run("sint sweep vp0", sint_sweep, 0);
    if (nvps > 1) {
        CHECK(moved(1) == 0, "VP 0's timer messages raised no SINT interrupt on VP 1 (%u vectors moved)", moved(1));
        snapshot();
        CHECK(hvt_on_vp(1, sint_sweep, 0, 500000), "vp1 sint sweep ran");
        CHECK(moved(0) == 0, "VP 1's timer messages raised no SINT interrupt on VP 0 (%u vectors moved)", moved(0));
    }
    hvt_run("busy slot vp0", busy_slot, 0);
    if (nvps > 1)
        CHECK(hvt_on_vp(1, busy_slot, 0, 100000), "vp1 busy-slot test ran");
    hvt_run("masked sint vp0", masked_sint, 0);
    hvt_run("AutoEOI vp0", auto_eoi, 0);
    return hvt_finish();
}
