/* hv_stimer.elf - synthetic timers (PROTOCOL 2.7).
 *
 * Message mode (SINT 2, vector 0x52; SINT 3, vector 0x53): one-shot (exact expiration time,
 * delivery >= expiration, interrupt observed with TIME_REF_COUNT >= COUNT, Enable cleared after
 * firing), past COUNT fires at once, all four timers report their index, three timers queued on
 * one SINT come through in order via EOM, periodic (expirations one period apart, stays enabled,
 * COUNT = 0 stops it), AutoEnable (non-zero COUNT sets Enable; without it nothing fires), Lazy
 * still fires while the VP runs, COUNT = 0 cancels. Direct mode (3D b19, vector 0x70): the vector
 * arrives with no message, one-shot and periodic. Reserved CONFIG bits #GP. A polling SINT (SINT 4,
 * b18) gets the message without an interrupt. Run:
 *   hvsim run --guest hv_stimer.elf --hv hv-passthrough
 */
#include "hv_test.h"

#define SINT_A 2u
#define VEC_A 0x52u
#define SINT_B 3u
#define VEC_B 0x53u
#define SINT_POLL 4u
#define VEC_POLL 0x54u
#define HV_SINT_POLLING ((uint64_t)1 << 18) /* 2.6 */
#define DIRECT_VEC 0x70u
#define DELTA 300u /* 30 us */
#define WAIT_US 3000u

static struct hv_message *msgs;
static struct cpuid_regs f3;
static volatile uint32_t *cnt;

static const volatile struct hv_timer_payload *payload(struct hv_message *m)
{
    return (const volatile struct hv_timer_payload *)(const volatile void *)m->payload;
}

static uint64_t cfg(unsigned t) { return hvt_rdmsr_or(HV_MSR_STIMER_CONFIG(t), ~0ull); }

static void stop(unsigned t)
{
    hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(t), 0);
    hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(t), 0);
}

static void stop_all(void)
{
    for (unsigned t = 0; t < 4; t++)
        stop(t);
}

static uint32_t arm(unsigned t, uint64_t config, uint64_t count)
{
    uint32_t f = hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(t), 0);
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(t), count);
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(t), config);
    return f;
}

#define MSG_FMT "type 0x%x size %u index %u exp %lu deliv %lu"
#define MSG_ARGS(m) (m)->type, (m)->payload_size, payload(m)->timer_index, payload(m)->expiration_time, \
                    payload(m)->delivery_time

static int msg_ok(struct hv_message *m, unsigned idx, uint64_t exp)
{
    return m->type == HVMSG_TIMER_EXPIRED && m->payload_size == 24 && payload(m)->timer_index == idx &&
           payload(m)->expiration_time == exp && payload(m)->delivery_time >= exp;
}

static void setup(void *arg)
{
    (void)arg;
    msgs = hvt_alloc_page();
    uint32_t f = hvt_wrmsr_safe(HV_MSR_SIMP, (uint64_t)(uintptr_t)msgs | HV_PAGE_ENABLE);
    f |= hvt_wrmsr_safe(HV_MSR_SINT(SINT_A), VEC_A);
    f |= hvt_wrmsr_safe(HV_MSR_SINT(SINT_B), VEC_B);
    f |= hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    CHECK(f == 0, "SynIC enabled: SIMP, SINT2 -> 0x52, SINT3 -> 0x53 (faults 0x%x)", f);
}

static void t_reset_and_reserved(void *arg)
{
    (void)arg;
    for (unsigned t = 0; t < 4; t++)
        CHECK(cfg(t) == 0 && hvt_rdmsr_or(HV_MSR_STIMER_COUNT(t), ~0ull) == 0, "STIMER%u CONFIG and COUNT reset to 0", t);
    static const unsigned bits[] = {13, 14, 15, 20, 31, 63};
    for (unsigned k = 0; k < sizeof(bits) / sizeof(bits[0]); k++) {
        uint32_t f = hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(1), HV_STIMER_SINT(SINT_A) | ((uint64_t)1 << bits[k]));
        uint64_t v = cfg(1);
        CHECK(f == HVT_GP0 && v == 0, "STIMER1_CONFIG RsvdZ bit %u: #GP(0), value unchanged (fault 0x%x, 0x%lx)", bits[k],
              f, v);
    }
    stop(1);
}

static void t_oneshot(void *arg)
{
    (void)arg;
    struct hv_message *m = &msgs[SINT_A];
    uint32_t before = cnt[VEC_A];
    uint64_t exp = hvt_ref_now() + DELTA;
    uint32_t f = arm(0, HV_STIMER_ENABLE | HV_STIMER_SINT(SINT_A), exp);
    uint64_t c_armed = cfg(0);
    int got = HVT_WAIT(cnt[VEC_A] != before, WAIT_US);
    uint64_t at = hvt_irq[0].last_ref[VEC_A];
    CHECK(!f && (c_armed & HV_STIMER_ENABLE), "one-shot armed: CONFIG 0x%lx has Enable (faults 0x%x)", c_armed, f);
    CHECK(got && msg_ok(m, 0, exp), "one-shot message: " MSG_FMT " (want index 0 exp %lu)", MSG_ARGS(m), exp);
    CHECK(got && at >= exp, "one-shot interrupt seen at TIME_REF_COUNT %lu >= COUNT %lu", at, exp);
    CHECK(!(cfg(0) & HV_STIMER_ENABLE), "one-shot clears Enable after firing (CONFIG 0x%lx)", cfg(0));
    hvt_msg_consume(m);
    hvt_delay_us(100);
    CHECK(cnt[VEC_A] == before + 1 && m->type == HVMSG_NONE, "one-shot fires once (%u irqs)", cnt[VEC_A] - before);
    stop(0);

    /* A COUNT in the past fires at once. */
    before = cnt[VEC_A];
    uint64_t now = hvt_ref_now();
    exp = now > 10 ? now - 10 : 1;
    f = arm(0, HV_STIMER_ENABLE | HV_STIMER_SINT(SINT_A), exp);
    got = HVT_WAIT(cnt[VEC_A] != before, WAIT_US);
    uint64_t lat = got ? hvt_irq[0].last_ref[VEC_A] - now : 0;
    CHECK(!f && got && msg_ok(m, 0, exp) && lat < 1000,
          "COUNT in the past fires immediately (%lu x 100ns after arming, " MSG_FMT ")", lat, MSG_ARGS(m));
    hvt_msg_consume(m);
    stop(0);
}

/* Polling SINT (2.6 b18: enabled for delivery, no interrupt): the timer message lands in the
 * slot and no interrupt arrives. The guest sets b18 although 3D b17 (polling available) is not
 * advertised; hvsim accepts it. */
static void t_polling_sint(void *arg)
{
    (void)arg;
    struct hv_message *m = &msgs[SINT_POLL];
    uint32_t before = cnt[VEC_POLL];
    uint64_t sint = VEC_POLL | HV_SINT_POLLING, v = 0;
    uint32_t f = hvt_wrmsr_safe(HV_MSR_SINT(SINT_POLL), sint);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_SINT(SINT_POLL), &v);
    CHECK(!f && !g && v == sint, "SINT4 polling mode (b18) accepted and read back 0x%lx (faults 0x%x/0x%x)", v, f, g);
    uint64_t exp = hvt_ref_now() + DELTA;
    f = arm(0, HV_STIMER_ENABLE | HV_STIMER_SINT(SINT_POLL), exp);
    int landed = HVT_WAIT(m->type != HVMSG_NONE, WAIT_US);
    hvt_delay_us(100);
    CHECK(!f && landed && msg_ok(m, 0, exp), "polling sint4: the timer message lands in the slot (" MSG_FMT ")",
          MSG_ARGS(m));
    CHECK(cnt[VEC_POLL] == before, "polling sint4: no interrupt on vector 0x%x (%u)", VEC_POLL, cnt[VEC_POLL] - before);
    hvt_msg_consume(m);
    stop(0);
    hvt_wrmsr_safe(HV_MSR_SINT(SINT_POLL), HV_SINT_RESET_VALUE);
}

static void t_all_timers(void *arg)
{
    (void)arg;
    struct hv_message *m = &msgs[SINT_A];
    for (unsigned t = 0; t < 4; t++) {
        uint32_t before = cnt[VEC_A];
        uint64_t exp = hvt_ref_now() + DELTA;
        uint32_t f = arm(t, HV_STIMER_ENABLE | HV_STIMER_SINT(SINT_A), exp);
        int got = HVT_WAIT(cnt[VEC_A] != before, WAIT_US);
        CHECK(!f && got && msg_ok(m, t, exp), "STIMER%u one-shot reports its index: " MSG_FMT, t, MSG_ARGS(m));
        hvt_msg_consume(m);
        stop(t);
    }
    /* Three timers due together on SINT 3: the slot takes one, the rest wait for EOM, in order. */
    struct hv_message *mb = &msgs[SINT_B];
    uint64_t base = hvt_ref_now() + DELTA;
    uint32_t f = 0;
    for (unsigned t = 1; t < 4; t++)
        f |= arm(t, HV_STIMER_ENABLE | HV_STIMER_SINT(SINT_B), base + 10 * t);
    unsigned seen = 0, order_ok = 1;
    uint32_t before = cnt[VEC_B];
    while (seen < 3 && HVT_WAIT(mb->type != HVMSG_NONE, WAIT_US)) {
        unsigned idx = payload(mb)->timer_index;
        order_ok &= idx == seen + 1 && payload(mb)->expiration_time == base + 10 * idx;
        seen++;
        hvt_msg_consume(mb); /* EOM when msg_pending is set */
    }
    HVT_WAIT(cnt[VEC_B] == before + 3, 500);
    CHECK(!f && seen == 3 && order_ok && cnt[VEC_B] == before + 3,
          "three timers on one SINT: %u messages, in expiration order %s, %u interrupts (faults 0x%x)", seen,
          order_ok ? "yes" : "no", cnt[VEC_B] - before, f);
    stop_all();
}

static void t_periodic(void *arg)
{
    (void)arg;
    const uint64_t period = 500; /* 50 us */
    struct hv_message *m = &msgs[SINT_A];
    uint64_t exps[4] = {0};
    unsigned got = 0, idx_ok = 1;
    uint64_t t0 = hvt_ref_now();
    uint32_t f = arm(0, HV_STIMER_ENABLE | HV_STIMER_PERIODIC | HV_STIMER_SINT(SINT_A), period);
    uint64_t t1 = hvt_ref_now();
    while (got < 4 && HVT_WAIT(m->type != HVMSG_NONE, WAIT_US)) {
        exps[got++] = payload(m)->expiration_time;
        idx_ok &= msg_ok(m, 0, payload(m)->expiration_time);
        hvt_msg_consume(m);
    }
    CHECK(!f && got == 4 && idx_ok, "periodic timer delivered 4 well-formed messages (%u, faults 0x%x)", got, f);
    CHECK(exps[0] >= t0 + period && exps[0] <= t1 + period,
          "first periodic expiration %lu is one period after enable (enable between %lu and %lu)", exps[0], t0, t1);
    int spaced = got == 4;
    for (unsigned k = 1; k < 4; k++)
        spaced &= exps[k] - exps[k - 1] == period;
    CHECK(spaced, "periodic expirations exactly one period apart (%lu %lu %lu %lu)", exps[0], exps[1], exps[2], exps[3]);
    CHECK(cfg(0) & HV_STIMER_ENABLE, "periodic timer stays enabled (CONFIG 0x%lx)", cfg(0));
    f = hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(0), 0);
    uint64_t c = cfg(0);
    hvt_delay_us(20); /* a message already due may still land: drop it */
    hvt_msg_consume(m);
    uint32_t before = cnt[VEC_A];
    hvt_delay_us(4 * period / 10);
    CHECK(!f && !(c & HV_STIMER_ENABLE) && cnt[VEC_A] == before && m->type == HVMSG_NONE,
          "COUNT = 0 stops the periodic timer and clears Enable (CONFIG 0x%lx, %u more irqs)", c, cnt[VEC_A] - before);
    stop(0);
}

static void t_auto_enable_lazy(void *arg)
{
    (void)arg;
    struct hv_message *m = &msgs[SINT_A];
    /* Without AutoEnable, a COUNT write does not enable. */
    uint32_t before = cnt[VEC_A];
    uint32_t f = hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(2), HV_STIMER_SINT(SINT_A));
    uint64_t exp = hvt_ref_now() + DELTA;
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(2), exp);
    uint64_t c = cfg(2);
    hvt_wait_ref(exp + 1000, 2000);
    CHECK(!f && !(c & HV_STIMER_ENABLE) && cnt[VEC_A] == before,
          "COUNT write without AutoEnable leaves the timer disabled (CONFIG 0x%lx, %u irqs)", c, cnt[VEC_A] - before);
    stop(2);

    /* With AutoEnable, CONFIG alone does nothing; a non-zero COUNT sets Enable and arms it. */
    f = hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(2), HV_STIMER_AUTO_ENABLE | HV_STIMER_SINT(SINT_A));
    c = cfg(2);
    CHECK(!f && !(c & HV_STIMER_ENABLE), "AutoEnable alone does not enable (CONFIG 0x%lx)", c);
    exp = hvt_ref_now() + DELTA;
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(2), exp);
    c = cfg(2);
    CHECK(!f && (c & HV_STIMER_ENABLE) && (c & HV_STIMER_AUTO_ENABLE),
          "non-zero COUNT with AutoEnable sets Enable (CONFIG 0x%lx, faults 0x%x)", c, f);
    int got = HVT_WAIT(cnt[VEC_A] != before, WAIT_US);
    CHECK(got && msg_ok(m, 2, exp), "auto-enabled timer fires: " MSG_FMT, MSG_ARGS(m));
    hvt_msg_consume(m);
    stop(2);

    /* COUNT = 0 before expiry cancels, whatever AutoEnable says. */
    before = cnt[VEC_A];
    exp = hvt_ref_now() + 3 * DELTA;
    f = arm(3, HV_STIMER_ENABLE | HV_STIMER_AUTO_ENABLE | HV_STIMER_SINT(SINT_A), exp);
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(3), 0);
    c = cfg(3);
    hvt_wait_ref(exp + 1000, 2000);
    CHECK(!f && !(c & HV_STIMER_ENABLE) && cnt[VEC_A] == before && m->type == HVMSG_NONE,
          "COUNT = 0 cancels a pending one-shot and clears Enable (CONFIG 0x%lx, %u irqs)", c, cnt[VEC_A] - before);
    stop(3);

    /* Lazy: may defer while the VP is not running; this VP keeps running, so it fires normally. */
    before = cnt[VEC_A];
    exp = hvt_ref_now() + DELTA;
    f = arm(1, HV_STIMER_ENABLE | HV_STIMER_LAZY | HV_STIMER_SINT(SINT_A), exp);
    got = HVT_WAIT(cnt[VEC_A] != before, WAIT_US);
    CHECK(!f && got && msg_ok(m, 1, exp) && hvt_irq[0].last_ref[VEC_A] >= exp,
          "lazy one-shot fires on a running VP: " MSG_FMT, MSG_ARGS(m));
    hvt_msg_consume(m);
    stop(1);
}

static unsigned busy_slots(void)
{
    unsigned k = 0;
    for (unsigned n = 0; n < 16; n++)
        k += msgs[n].type != HVMSG_NONE;
    return k;
}

static void t_direct(void *arg)
{
    (void)arg;
    CHECK(f3.edx & HV_FEAT_STIMER_DIRECT, "direct synthetic timers advertised (3D b19, edx 0x%x)", f3.edx);
    uint32_t before = cnt[DIRECT_VEC];
    uint64_t exp = hvt_ref_now() + DELTA;
    uint64_t config = HV_STIMER_ENABLE | HV_STIMER_DIRECT | HV_STIMER_VECTOR(DIRECT_VEC);
    uint32_t f = arm(0, config, exp);
    uint64_t c = cfg(0);
    CHECK(!f && c == config, "direct one-shot armed with SINTx = 0 stays enabled (CONFIG 0x%lx, faults 0x%x)", c, f);
    int got = HVT_WAIT(cnt[DIRECT_VEC] != before, WAIT_US);
    uint64_t at = hvt_irq[0].last_ref[DIRECT_VEC];
    hvt_delay_us(20);
    CHECK(got && cnt[DIRECT_VEC] == before + 1, "direct mode: vector 0x%x arrives once (%u)", DIRECT_VEC,
          cnt[DIRECT_VEC] - before);
    CHECK(got && at >= exp, "direct interrupt at TIME_REF_COUNT %lu >= COUNT %lu", at, exp);
    CHECK(busy_slots() == 0, "direct mode posts no message (%u busy slots)", busy_slots());
    CHECK(!(cfg(0) & HV_STIMER_ENABLE), "direct one-shot clears Enable after firing (CONFIG 0x%lx)", cfg(0));
    stop(0);

    const uint64_t period = 500;
    before = cnt[DIRECT_VEC];
    uint64_t t0 = hvt_ref_now();
    f = arm(1, config | HV_STIMER_PERIODIC, period);
    got = HVT_WAIT(cnt[DIRECT_VEC] >= before + 3, WAIT_US);
    uint64_t t1 = hvt_ref_now();
    hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(1), 0);
    stop(1);
    CHECK(!f && got && t1 - t0 >= 3 * period, "direct periodic: 3 interrupts after %lu x 100ns (period %lu)", t1 - t0,
          period);
    CHECK(busy_slots() == 0, "direct periodic posts no message (%u busy slots)", busy_slots());
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_stimer", vp);
    if (vp != 0)
        hvt_ap_main();
    f3 = hvt_hv_features();
    cnt = hvt_irq[0].count;
    hvt_run("setup", setup, 0);
    hvt_run("reset values and reserved bits", t_reset_and_reserved, 0);
    hvt_run("one-shot", t_oneshot, 0);
    hvt_run("all timers", t_all_timers, 0);
    hvt_run("periodic", t_periodic, 0);
    hvt_run("auto-enable, cancel, lazy", t_auto_enable_lazy, 0);
    hvt_run("direct mode", t_direct, 0);
    hvt_run("polling SINT", t_polling_sint, 0);
    stop_all();
    return hvt_finish();
}
