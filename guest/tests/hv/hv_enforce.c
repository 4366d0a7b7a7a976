/* hv_enforce.elf - hv-enforce-cpuid with a small enlightenment set (PROTOCOL 1.2, 1.5, 1.8, 2.1).
 *
 * With --hv hv-vpindex,hv-time,hv-enforce-cpuid the partition advertises exactly: 0x40000003 EAX =
 * b1 TIME_REF_COUNT + b9 REFERENCE_TSC (hv-time), b6 VP_INDEX (hv-vpindex), b5 hypercall MSRs
 * (always set, 1.8) = 0x262; EBX = 0 (no PostMessages/SignalEvents without hv-synic); EDX has
 * nothing beyond b3 (QEMU always sets b3, 1.8; hvsim deliberately leaves it clear, so b3 is only
 * noted). Those MSRs work: VP_INDEX reads 0, TIME_REF_COUNT advances, REFERENCE_TSC
 * enables a valid page, GUEST_OS_ID round-trips, HYPERCALL enables the page and an unknown call
 * code returns 2. Under enforcement (1.8 KVM map) every unadvertised synthetic MSR raises #GP(0) on
 * RDMSR and WRMSR: SynIC (SCONTROL, SIMP, SINT0), STIMER0_CONFIG, CRASH_CTL and CRASH_P0,
 * TSC_FREQUENCY and APIC_FREQUENCY, VP_RUNTIME, RESET, the APIC-access TPR MSR and
 * REENLIGHTENMENT_CONTROL; GUEST_IDLE (gated by 3A b10 in the 1.8 map; a local APIC one-shot
 * timer is armed first so that a read that idles instead of faulting still wakes up); and hypercalls whose privilege is not exposed return ACCESS_DENIED (6):
 * PostMessage (3B b4), SignalEvent (3B b5), NotifyLongSpinWait (0x40000004 EBX 0 or ~0).
 * The guest refuses to judge a run whose CPUID shows SynIC (wrong command line). Run:
 *   hvsim run --guest hv_enforce.elf --hv hv-vpindex,hv-time,hv-enforce-cpuid
 */
#include "hv_test.h"

#define EXPECT_EAX (HV_ACCESS_TIME_REF_COUNT | HV_ACCESS_REF_TSC | HV_ACCESS_VP_INDEX | HV_ACCESS_HYPERCALL_MSRS)
#define EXPECT_EDX (1u << 3) /* allowed, not required (see the NOTE in cpuid_checks) */
#define HV_MSR_APIC_TPR 0x40000072u

static void cpuid_checks(void *arg)
{
    (void)arg;
    struct cpuid_regs f = hvt_hv_features();
    struct cpuid_regs i = cpuid(HV_CPUID_INTERFACE, 0);
    CHECK(i.eax == HV_SIGNATURE_HV1 && hvt_max_hv_leaf() >= HV_CPUID_LIMITS, "Hyper-V interface present (\"Hv#1\", max leaf 0x%x)",
          hvt_max_hv_leaf());
    CHECK(f.eax == EXPECT_EAX, "0x40000003 EAX = 0x%x: exactly TIME_REF_COUNT|VP_INDEX|HYPERCALL_MSRS|REF_TSC (0x%x)", f.eax,
          EXPECT_EAX);
    CHECK(f.ebx == 0, "0x40000003 EBX = 0x%x: no hypercall privileges (no PostMessages/SignalEvents)", f.ebx);
    CHECK((f.edx & ~EXPECT_EDX) == 0, "0x40000003 EDX = 0x%x: nothing beyond b3 (no frequency, crash, direct-stimer, idle bits)",
          f.edx);
    if (!(f.edx & EXPECT_EDX))
        NOTE("EDX b3 clear: QEMU always sets it (PROTOCOL 1.8); hvsim leaves it out on purpose (no CPU hot-add)");
    struct cpuid_regs r = cpuid(HV_CPUID_ENLIGHTENMENT, 0);
    NOTE("0x40000004: eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x", r.eax, r.ebx, r.ecx, r.edx);
}

static void working_msrs(void *arg)
{
    (void)arg;
    uint64_t v = ~0ull;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_VP_INDEX, &v);
    CHECK(!f && v == 0, "VP_INDEX reads 0 on VP 0 (0x%lx, fault 0x%x)", v, f);
    uint64_t a = 0, b = 0;
    f = hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &a);
    hvt_delay_us(20);
    f |= hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &b);
    CHECK(!f && b >= a + 150 && b <= a + 400, "TIME_REF_COUNT works and advances ~200 ticks over 20 us (%lu -> %lu, fault 0x%x)",
          a, b, f);

    void *page = hvt_alloc_page();
    uint64_t want = (uint64_t)(uintptr_t)page | HV_PAGE_ENABLE;
    f = hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, want);
    v = hvt_rdmsr_or(HV_MSR_REFERENCE_TSC, 0);
    uint32_t seq = ((volatile struct hv_ref_tsc_page *)page)->sequence;
    CHECK(!f && v == want && seq != 0, "REFERENCE_TSC enables a valid page (0x%lx, sequence %u, fault 0x%x)", v, seq, f);
    hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, 0);

    f = hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID);
    v = hvt_rdmsr_or(HV_MSR_GUEST_OS_ID, 0);
    CHECK(!f && v == HVT_GUEST_OS_ID, "GUEST_OS_ID round-trips (0x%lx, fault 0x%x)", v, f);
    int hc = hvt_hypercall_setup();
    CHECK(hc, "HYPERCALL page enabled (HYPERCALL 0x%lx)", hvt_rdmsr_or(HV_MSR_HYPERCALL, 0));
    uint64_t res = hvt_hypercall(0x7777, 0, 0);
    CHECK(HV_RESULT_STATUS(res) == HV_STATUS_INVALID_HYPERCALL_CODE, "hypercall with unknown code 0x7777 -> 2 (0x%lx)", res);
}

struct gp_case {
    uint32_t msr;
    uint64_t wval; /* harmless if the write were accepted */
    int ro;        /* read-only MSR: only the read is meaningful, but the write must #GP too */
    const char *name;
};
static const struct gp_case gp_cases[] = {
    {HV_MSR_SCONTROL, 1, 0, "SCONTROL"},
    {HV_MSR_SIMP, 0, 0, "SIMP"},
    {HV_MSR_SINT0, HV_SINT_RESET_VALUE, 0, "SINT0"},
    {HV_MSR_STIMER0_CONFIG, 0, 0, "STIMER0_CONFIG"},
    {HV_MSR_CRASH_CTL, 0, 0, "CRASH_CTL"},
    {HV_MSR_CRASH_P0, 0, 0, "CRASH_P0"},
    {HV_MSR_TSC_FREQUENCY, 0, 1, "TSC_FREQUENCY"},
    {HV_MSR_APIC_FREQUENCY, 0, 1, "APIC_FREQUENCY"},
    {HV_MSR_VP_RUNTIME, 0, 1, "VP_RUNTIME"},
    {HV_MSR_RESET, 0, 0, "RESET"},
    {HV_MSR_APIC_TPR, 0, 0, "APIC-access TPR"},
    {HV_MSR_REENLIGHTENMENT_CONTROL, 0, 0, "REENLIGHTENMENT_CONTROL"},
};

static void unadvertised_msrs(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < sizeof(gp_cases) / sizeof(gp_cases[0]); k++) {
        const struct gp_case *c = &gp_cases[k];
        uint64_t v = 0;
        uint32_t fr = hvt_rdmsr_safe(c->msr, &v);
        uint32_t fw = hvt_wrmsr_safe(c->msr, c->wval);
        CHECK(fr == HVT_GP0 && fw == HVT_GP0, "%s (0x%x) unadvertised: RDMSR and WRMSR raise #GP(0) (faults 0x%x 0x%x%s)",
              c->name, c->msr, fr, fw, c->ro ? ", read-only anyway" : "");
    }
}

#define MSR_GUEST_IDLE 0x400000F0u
#define WAKE_VEC 0x90u

static void guest_idle_gated(void *arg)
{
    (void)arg;
    cli();
    /* Safety wake-up (x2APIC, not a synthetic MSR): one-shot, divide by 1, 50 us at 200 MHz. */
    uint32_t t = hvt_wrmsr_safe(0x83E, 0xB) | hvt_wrmsr_safe(0x832, WAKE_VEC) | hvt_wrmsr_safe(0x838, 10000);
    uint64_t t0 = hvt_ref_now(), v = 0;
    uint32_t fr = hvt_rdmsr_safe(MSR_GUEST_IDLE, &v);
    uint64_t t1 = hvt_ref_now();
    uint32_t fw = hvt_wrmsr_safe(MSR_GUEST_IDLE, 0);
    hvt_wrmsr_safe(0x838, 0);
    hvt_delay_us(100); /* take the wake-up vector if it is pending */
    CHECK(!t, "safety wake-up timer armed (faults 0x%x)", t);
    CHECK(fr == HVT_GP0 && fw == HVT_GP0,
          "GUEST_IDLE (0x%x) unadvertised (3A b10 clear): RDMSR and WRMSR raise #GP(0) (faults 0x%x 0x%x; the RDMSR took %lu ticks)",
          MSR_GUEST_IDLE, fr, fw, t1 - t0);
}

static void denied_hypercalls(void *arg)
{
    (void)arg;
    if (!hvt_hypercall_page) {
        CHECK(0, "hypercall page needed for the privilege checks");
        return;
    }
    uint8_t *in = hvt_alloc_page();
    uint32_t *w = (uint32_t *)(void *)in;
    w[0] = 1; /* connection id */
    w[2] = 1; /* message type */
    w[3] = 8; /* payload size */
    uint64_t r = hvt_hypercall(HVCALL_POST_MESSAGE, (uint64_t)(uintptr_t)in, 0);
    CHECK(HV_RESULT_STATUS(r) == HV_STATUS_ACCESS_DENIED, "PostMessage without 3B b4 -> ACCESS_DENIED 6 (0x%lx)", r);
    r = hvt_hypercall_fast(HVCALL_SIGNAL_EVENT, 1, 0);
    CHECK(HV_RESULT_STATUS(r) == HV_STATUS_ACCESS_DENIED, "SignalEvent without 3B b5 -> ACCESS_DENIED 6 (0x%lx)", r);
    uint32_t spin = cpuid(HV_CPUID_ENLIGHTENMENT, 0).ebx;
    r = hvt_hypercall(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_CONTROL_FAST, 0, 0);
    if (spin == 0 || spin == 0xFFFFFFFFu)
        CHECK(HV_RESULT_STATUS(r) == HV_STATUS_ACCESS_DENIED,
              "NotifyLongSpinWait with spinlock retries 0x%x -> ACCESS_DENIED 6 (0x%lx)", spin, r);
    else
        NOTE("spinlock retries 0x%x: NotifyLongSpinWait allowed (0x%lx)", spin, r);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_enforce", vp);
    if (vp != 0)
        hvt_ap_main();
    struct cpuid_regs f = hvt_hv_features();
    if (f.eax & HV_ACCESS_SYNIC) {
        CHECK(0, "command line: CPUID shows SynIC (eax 0x%x); run with --hv hv-vpindex,hv-time,hv-enforce-cpuid", f.eax);
        return hvt_finish();
    }
    hvt_run("cpuid", cpuid_checks, 0);
    hvt_run("advertised MSRs", working_msrs, 0);
    hvt_run("unadvertised MSRs", unadvertised_msrs, 0);
    hvt_run("GUEST_IDLE", guest_idle_gated, 0);
    hvt_run("hypercall privileges", denied_hypercalls, 0);
    return hvt_finish();
}
