/* hv_features.elf - every synthetic MSR family and every gated hypercall against the CPUID bits
 * that advertise it (PROTOCOL 1.2-1.8, 2.1, 3.2, 3.6): the "behaviour with each enlightenment
 * off" check, in the spirit of KVM's hyperv_features selftest.
 *
 * The expectations come from CPUID only, so one ELF runs under any --hv configuration
 * (tests/integration/hv_features_test.cc runs it under a table of them and compares the CPUID
 * words it prints with the bits PROTOCOL 1.8 says each flag sets). First it prints one line
 *   # cpuid hv=H 3a=0x.. 3b=0x.. 3c=0x.. 3d=0x.. 4a=0x.. 4b=0x.. gated=G
 * with H = 1 if the Hyper-V interface is present (0x40000001 EAX "Hv#1", max leaf >= 0x40000005;
 * the words are 0 otherwise) and G = 1 if the synthetic MSRs and hypercalls follow CPUID (as
 * under hv-enforce-cpuid): the first unadvertised MSR family among the table below raises #GP on
 * RDMSR (GUEST_IDLE last, with a wake-up armed). G is 1 without the interface (nothing exists),
 * -1 if every family is advertised (then nothing depends on it; the run is treated as ungated).
 *
 * MSRs (1.2 and the 1.8 KVM enforcement map): each one "exists" when its bit is advertised, never
 * without the interface, not when gated, and otherwise when hvsim implements it (every MSR with
 * Hyper-V on and no hv-enforce-cpuid, KVM's rule, docs/conformance.md; TSC_INVARIANT_CONTROL only
 * on a host from build 20348, 2.1; the synthetic debugger is not implemented, so no requirement).
 * Existing: RDMSR works (except the write-only EOI, which #GPs) and a harmless WRMSR works (reset
 * values, a self IPI through ICR, 0 to CRASH_CTL; read-only MSRs #GP). Not existing: RDMSR and
 * WRMSR both #GP(0). GUEST_IDLE is read with IF = 0 and a local APIC one-shot armed, so a read
 * that idles instead of faulting wakes up. STIMER direct mode (config b12) needs 3D b19 when
 * gated.
 *
 * Hypercalls (1.3, 1.6, 1.8, 3.2): without the interface inline VMCALL and VMMCALL #UD.
 * Otherwise, when gated, PostMessage needs 3B b4, SignalEvent 3B b5, NotifyLongSpinWait
 * 0x40000004 EBX other than 0 and 0xFFFFFFFF, the flushes 4A b2 (Ex also b11), the cluster IPIs 4A
 * b10 (Ex also b11), XMM fast input 3D b4 (#UD, after the privilege check); ungated they all
 * work. The debug calls need 3B b11 in every configuration (hvsim never grants it). A call that
 * must not work answers ACCESS_DENIED (6) and has no effect (no IPI arrives); one that works
 * answers its own status (0, or INVALID_CONNECTION_ID 0x12 for the unregistered connection
 * 0x7777). Run with one vCPU, e.g.:
 *   hvsim run --guest hv_features.elf --hv hv-vpindex,hv-synic,hv-enforce-cpuid
 */
#include "hv_test.h"

/* ---- what this guest needs beyond hv_test.h ---- */
#define HV_ACCESS_TSC_INVARIANT (1u << 15)    /* 3A (1.2) */
#define HV_FEAT_XMM_INPUT (1u << 4)           /* 3D (1.5) */
#define HV_REC_EX_PROCESSOR_MASKS (1u << 11)  /* 4A (1.6) */
#define HV_SPINLOCK_NEVER_NOTIFY 0xFFFFFFFFu  /* 4B (1.6) */
#define HV_BUILD_WS2022 20348u                /* 1.1: first release with TSC_INVARIANT_CONTROL */
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX 0x0013u
#define HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX 0x0015u
#define HV_CONTROL_VAR_HEADER(qwords) ((uint64_t)(qwords) << 17) /* 3.1 */
#define HV_GENERIC_SET_SPARSE_4K 0u                             /* 3.6.2 */
#define HV_GENERIC_SET_ALL 1u
#define UNREGISTERED_CONNECTION 0x7777u
#define IPI_VECTOR 0x62u
#define ICR_SELF_VECTOR 0x64u
#define WAKE_VECTOR 0x90u
#define X2APIC_ICR_SELF_SHORTHAND ((uint64_t)1 << 18)
#define MSR_X2APIC_LVT_TIMER 0x832u
#define MSR_X2APIC_TIMER_INITIAL 0x838u
#define MSR_X2APIC_TIMER_DIVIDE 0x83Eu

uint32_t hvx_hypercall_xmm_safe(int vmmcall, uint64_t control, const uint64_t q[14], uint64_t *result);

enum reg { R3A, R3D };
enum kind {
    RW,   /* RDMSR works, WRMSR of wval works */
    RO,   /* RDMSR works, WRMSR #GPs */
    WO,   /* WRMSR of wval works, RDMSR #GPs (HV EOI) */
    IDLE, /* GUEST_IDLE: read-only, and a read idles the VP */
};
enum ungated { EXISTS, HOST_TSC_INVARIANT, NO_REQUIREMENT };

struct msr_case {
    uint32_t msr;
    const char *name;
    enum reg reg;
    uint32_t bit;
    enum kind kind;
    uint64_t wval; /* harmless if accepted */
    enum ungated ungated;
};

/* One or more MSRs of every family in the 1.8 enforcement map, in 2.1 order. */
static const struct msr_case msrs[] = {
    {0x40000000u, "GUEST_OS_ID", R3A, 1u << 5, RW, 0, EXISTS},
    {0x40000001u, "HYPERCALL", R3A, 1u << 5, RW, 0, EXISTS},
    {0x40000002u, "VP_INDEX", R3A, 1u << 6, RO, 0, EXISTS},
    {0x40000003u, "RESET", R3A, 1u << 7, RW, 0, EXISTS},
    {0x40000010u, "VP_RUNTIME", R3A, 1u << 0, RO, 0, EXISTS},
    {0x40000020u, "TIME_REF_COUNT", R3A, 1u << 1, RO, 0, EXISTS},
    {0x40000021u, "REFERENCE_TSC", R3A, 1u << 9, RW, 0, EXISTS},
    {0x40000022u, "TSC_FREQUENCY", R3A, 1u << 11, RO, 0, EXISTS},
    {0x40000023u, "APIC_FREQUENCY", R3A, 1u << 11, RO, 0, EXISTS},
    {0x40000070u, "EOI", R3A, 1u << 4, WO, 0, EXISTS},
    {0x40000071u, "ICR", R3A, 1u << 4, RW, X2APIC_ICR_SELF_SHORTHAND | ICR_SELF_VECTOR, EXISTS},
    {0x40000072u, "TPR", R3A, 1u << 4, RW, 0, EXISTS},
    {0x40000073u, "VP_ASSIST_PAGE", R3A, 1u << 4, RW, 0, EXISTS},
    {0x40000080u, "SCONTROL", R3A, 1u << 2, RW, 0, EXISTS},
    {0x40000081u, "SVERSION", R3A, 1u << 2, RO, 0, EXISTS},
    {0x40000082u, "SIEFP", R3A, 1u << 2, RW, 0, EXISTS},
    {0x40000083u, "SIMP", R3A, 1u << 2, RW, 0, EXISTS},
    {0x40000084u, "EOM", R3A, 1u << 2, RW, 0, EXISTS},
    {0x40000090u, "SINT0", R3A, 1u << 2, RW, HV_SINT_RESET_VALUE, EXISTS},
    {0x4000009Fu, "SINT15", R3A, 1u << 2, RW, HV_SINT_RESET_VALUE, EXISTS},
    {0x400000B0u, "STIMER0_CONFIG", R3A, 1u << 3, RW, 0, EXISTS},
    {0x400000B1u, "STIMER0_COUNT", R3A, 1u << 3, RW, 0, EXISTS},
    {0x400000B7u, "STIMER3_COUNT", R3A, 1u << 3, RW, 0, EXISTS},
    {0x400000F0u, "GUEST_IDLE", R3A, 1u << 10, IDLE, 0, EXISTS},
    {0x400000F2u, "SYNDBG_STATUS", R3D, 1u << 11, RW, 0, NO_REQUIREMENT},
    {0x40000100u, "CRASH_P0", R3D, 1u << 10, RW, 0, EXISTS},
    {0x40000104u, "CRASH_P4", R3D, 1u << 10, RW, 0, EXISTS},
    {0x40000105u, "CRASH_CTL", R3D, 1u << 10, RW, 0, EXISTS},
    {0x40000106u, "REENLIGHTENMENT_CONTROL", R3A, 1u << 13, RW, 0, EXISTS},
    {0x40000107u, "TSC_EMULATION_CONTROL", R3A, 1u << 13, RW, 0, EXISTS},
    {0x40000108u, "TSC_EMULATION_STATUS", R3A, 1u << 13, RW, 0, EXISTS},
    {0x40000118u, "TSC_INVARIANT_CONTROL", R3A, HV_ACCESS_TSC_INVARIANT, RW, 0, HOST_TSC_INVARIANT},
};
#define N_MSRS (sizeof msrs / sizeof msrs[0])

static int hv;       /* the Hyper-V interface is present */
static int gated;    /* 1, 0, or -1 (every family advertised) */
static struct cpuid_regs f3, f4;
static uint32_t host_build;
static uint64_t *in, *out;

static const struct msr_case *find_msr(uint32_t msr)
{
    for (unsigned i = 0; i < N_MSRS; i++)
        if (msrs[i].msr == msr)
            return &msrs[i];
    return 0;
}

static int advertised(const struct msr_case *c)
{
    return ((c->reg == R3A ? f3.eax : f3.edx) & c->bit) != 0;
}

/* 1 must exist, 0 must not, -1 no requirement. */
static int must_exist(const struct msr_case *c)
{
    if (!hv)
        return 0;
    if (advertised(c))
        return 1;
    if (gated == 1)
        return 0;
    switch (c->ungated) {
    case EXISTS: return 1;
    case HOST_TSC_INVARIANT: return host_build >= HV_BUILD_WS2022;
    case NO_REQUIREMENT: return -1;
    }
    return -1;
}

/* RDMSR of GUEST_IDLE with IF = 0 and a local APIC one-shot (50 us at 200 MHz) armed, so that a
 * read which idles instead of faulting still resumes; the wake-up vector is then taken. */
static uint32_t read_guest_idle(uint32_t *timer_fault)
{
    uint64_t v;
    cli();
    *timer_fault = hvt_wrmsr_safe(MSR_X2APIC_TIMER_DIVIDE, 0xB) | hvt_wrmsr_safe(MSR_X2APIC_LVT_TIMER, WAKE_VECTOR) |
                   hvt_wrmsr_safe(MSR_X2APIC_TIMER_INITIAL, 10000);
    uint32_t f = hvt_rdmsr_safe(0x400000F0u, &v);
    hvt_wrmsr_safe(MSR_X2APIC_TIMER_INITIAL, 0);
    hvt_delay_us(100);
    return f;
}

static int detect_gating(void)
{
    if (!hv)
        return 1;
    uint64_t v;
    for (unsigned i = 0; i < N_MSRS; i++) {
        const struct msr_case *c = &msrs[i];
        if (advertised(c) || (c->kind != RO && c->kind != RW) || c->ungated != EXISTS)
            continue;
        return hvt_rdmsr_safe(c->msr, &v) == HVT_GP0;
    }
    for (unsigned i = 0; i < N_MSRS; i++) {
        uint32_t tf;
        if (msrs[i].kind == IDLE && !advertised(&msrs[i]))
            return read_guest_idle(&tf) == HVT_GP0;
    }
    return -1;
}

static const char *fault_text(uint32_t f)
{
    return f == 0 ? "works" : f == HVT_GP0 ? "#GP(0)" : "another fault";
}

static void check_msr(const struct msr_case *c)
{
    int want = must_exist(c);
    uint64_t v = 0;
    uint32_t r, w, tf = 0;
    if (c->kind == IDLE)
        r = read_guest_idle(&tf);
    else
        r = hvt_rdmsr_safe(c->msr, &v);
    w = hvt_wrmsr_safe(c->msr, c->wval);
    const char *why = advertised(c) ? "advertised" : !hv ? "no Hyper-V interface" : gated == 1 ? "unadvertised, gated"
                                                                                               : "unadvertised, not gated";
    if (want < 0) {
        NOTE("%s (0x%x) %s, no requirement: RDMSR %s, WRMSR %s", c->name, c->msr, why, fault_text(r), fault_text(w));
        return;
    }
    if (!want) {
        CHECK(r == HVT_GP0 && w == HVT_GP0 && !tf, "%s (0x%x) %s: RDMSR and WRMSR raise #GP(0) (faults 0x%x 0x%x)", c->name,
              c->msr, why, r, w);
        return;
    }
    uint32_t want_r = c->kind == WO ? HVT_GP0 : 0, want_w = c->kind == RO || c->kind == IDLE ? HVT_GP0 : 0;
    CHECK(r == want_r && w == want_w && !tf, "%s (0x%x) %s: RDMSR %s, WRMSR 0x%lx %s (faults 0x%x 0x%x)", c->name, c->msr,
          why, fault_text(want_r), c->wval, fault_text(want_w), r, w);
}

static void t_msrs(void *arg)
{
    (void)arg;
    uint32_t icr_before = hvt_irq[0].count[ICR_SELF_VECTOR];
    for (unsigned i = 0; i < N_MSRS; i++)
        check_msr(&msrs[i]);
    HVT_WAIT(hvt_irq[0].count[ICR_SELF_VECTOR] != icr_before, 200);
    uint32_t got = hvt_irq[0].count[ICR_SELF_VECTOR] - icr_before;
    int icr = must_exist(find_msr(0x40000071u)) == 1;
    CHECK(got == (icr ? 1u : 0u), "the self IPI written to ICR %s (vector 0x%x arrived %u times)",
          icr ? "arrived once" : "never arrived", ICR_SELF_VECTOR, got);
}

/* STIMER direct mode (2.7 config b12) is offered by 3D b19 (1.5); when gated it #GPs without. */
static void t_stimer_direct(void *arg)
{
    (void)arg;
    const struct msr_case *config = find_msr(HV_MSR_STIMER0_CONFIG);
    if (must_exist(config) != 1) {
        NOTE("STIMER0_CONFIG does not exist: direct mode not probed");
        return;
    }
    int offered = gated != 1 || (f3.edx & HV_FEAT_STIMER_DIRECT);
    uint32_t f = hvt_wrmsr_safe(config->msr, HV_STIMER_DIRECT | HV_STIMER_VECTOR(0x70));
    hvt_wrmsr_safe(config->msr, 0);
    CHECK(f == (offered ? 0u : HVT_GP0), "STIMER0_CONFIG direct mode (b12, not enabled) %s: %s (fault 0x%x)",
          offered ? "offered" : "not offered (3D b19 clear, gated)", fault_text(offered ? 0 : HVT_GP0), f);
}

/* ---- hypercalls ---- */
static uint64_t gpa(void *p) { return (uint64_t)(uintptr_t)p; }
static uint16_t allowed(int ok) { return ok ? HV_STATUS_SUCCESS : HV_STATUS_ACCESS_DENIED; }
static const char *offered_text(int ok) { return ok ? "allowed" : "denied"; }
static const char *bit_text(uint32_t word, uint32_t mask) { return (word & mask) ? "set" : "clear"; }

#define EXPECT_STATUS(result, want, fmt, ...)                                                                       \
    CHECK(HV_RESULT_STATUS(result) == (want), fmt " -> status 0x%x (want 0x%x)", ##__VA_ARGS__,                    \
          HV_RESULT_STATUS(result), (want))

/* Waits (interrupts enabled) up to 500 us for IPI_VECTOR when one is expected, 100 us otherwise;
 * returns how many arrived since `before`. */
static uint32_t ipis_since(uint32_t before, int expected)
{
    HVT_WAIT(hvt_irq[0].count[IPI_VECTOR] != before, expected ? 500 : 100);
    hvt_delay_us(20);
    return hvt_irq[0].count[IPI_VECTOR] - before;
}

static void t_no_interface(void *arg)
{
    (void)arg;
    uint64_t r;
    uint32_t f = hvt_hypercall_inline_safe(1, HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_CONTROL_FAST, 0, 0, &r);
    CHECK(f == HVT_UD, "no Hyper-V interface: inline VMMCALL raises #UD (fault 0x%x)", f);
    f = hvt_hypercall_inline_safe(0, HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_CONTROL_FAST, 0, 0, &r);
    CHECK(f == HVT_UD, "no Hyper-V interface: inline VMCALL raises #UD (fault 0x%x)", f);
}

static void t_synic_calls(void *arg)
{
    (void)arg;
    int post = gated != 1 || (f3.ebx & HV_PRIV_POST_MESSAGES);
    int signal = gated != 1 || (f3.ebx & HV_PRIV_SIGNAL_EVENTS);
    uint32_t *w = (uint32_t *)(void *)in;
    w[0] = UNREGISTERED_CONNECTION;
    w[1] = 0;
    w[2] = 1; /* message type */
    w[3] = 8; /* payload size */
    uint64_t r = hvt_hypercall(HVCALL_POST_MESSAGE, gpa(in), 0);
    EXPECT_STATUS(r, post ? HV_STATUS_INVALID_CONNECTION_ID : HV_STATUS_ACCESS_DENIED,
                  "PostMessage (3B b4 %s) %s", bit_text(f3.ebx, HV_PRIV_POST_MESSAGES), offered_text(post));
    r = hvt_hypercall_fast(HVCALL_SIGNAL_EVENT, UNREGISTERED_CONNECTION, 0);
    EXPECT_STATUS(r, signal ? HV_STATUS_INVALID_CONNECTION_ID : HV_STATUS_ACCESS_DENIED,
                  "SignalEvent (3B b5 %s) %s", bit_text(f3.ebx, HV_PRIV_SIGNAL_EVENTS), offered_text(signal));
}

static void t_spin_wait(void *arg)
{
    (void)arg;
    int ok = gated != 1 || (f4.ebx != 0 && f4.ebx != HV_SPINLOCK_NEVER_NOTIFY);
    uint64_t r = hvt_hypercall_fast(HVCALL_NOTIFY_LONG_SPIN_WAIT, 1, 0);
    EXPECT_STATUS(r, allowed(ok), "NotifyLongSpinWait (4B = 0x%x) %s", f4.ebx, offered_text(ok));
}

static void t_flush(void *arg)
{
    (void)arg;
    int ok = gated != 1 || (f4.eax & HV_REC_REMOTE_TLB_FLUSH);
    int ex = ok && (gated != 1 || (f4.eax & HV_REC_EX_PROCESSOR_MASKS));
    in[0] = read_cr3();
    in[1] = HV_FLUSH_ALL_PROCESSORS;
    in[2] = 0;
    in[3] = gpa(in);
    uint64_t r = hvt_hypercall(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, gpa(in), 0);
    EXPECT_STATUS(r, allowed(ok), "FlushVirtualAddressSpace (4A b2 %s) %s", bit_text(f4.eax, HV_REC_REMOTE_TLB_FLUSH),
                  offered_text(ok));
    r = hvt_hypercall(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST | HV_CONTROL_REP_COUNT(1), gpa(in), 0);
    EXPECT_STATUS(r, allowed(ok), "FlushVirtualAddressList, 1 entry, %s", offered_text(ok));
    in[0] = read_cr3();
    in[1] = 0;
    in[2] = HV_GENERIC_SET_ALL;
    in[3] = 0;
    r = hvt_hypercall(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX, gpa(in), 0);
    EXPECT_STATUS(r, allowed(ex), "FlushVirtualAddressSpaceEx ALL set (4A b11 %s) %s",
                  bit_text(f4.eax, HV_REC_EX_PROCESSOR_MASKS), offered_text(ex));
}

static void t_ipi(void *arg)
{
    (void)arg;
    int ok = gated != 1 || (f4.eax & HV_REC_CLUSTER_IPI);
    int ex = ok && (gated != 1 || (f4.eax & HV_REC_EX_PROCESSOR_MASKS));
    uint32_t before = hvt_irq[0].count[IPI_VECTOR];
    uint64_t r = hvt_hypercall_fast(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, IPI_VECTOR, 1);
    uint32_t got = ipis_since(before, ok);
    CHECK(HV_RESULT_STATUS(r) == allowed(ok) && got == (ok ? 1u : 0u),
          "SendSyntheticClusterIpi to VP 0 (4A b10 %s) %s: status 0x%x, %u interrupts", bit_text(f4.eax, HV_REC_CLUSTER_IPI),
          offered_text(ok), HV_RESULT_STATUS(r), got);
    in[0] = IPI_VECTOR; /* vector, VTL 0 */
    in[1] = HV_GENERIC_SET_SPARSE_4K;
    in[2] = 1; /* valid_bank_mask: bank 0 */
    in[3] = 1; /* bank 0: VP 0 */
    before = hvt_irq[0].count[IPI_VECTOR];
    r = hvt_hypercall(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX | HV_CONTROL_VAR_HEADER(1), gpa(in), 0);
    got = ipis_since(before, ex);
    CHECK(HV_RESULT_STATUS(r) == allowed(ex) && got == (ex ? 1u : 0u),
          "SendSyntheticClusterIpiEx {VP 0} (4A b11 %s) %s: status 0x%x, %u interrupts",
          bit_text(f4.eax, HV_REC_EX_PROCESSOR_MASKS), offered_text(ex), HV_RESULT_STATUS(r), got);
}

/* XMM fast input (3.2): more than 16 bytes of fast input need 3D b4 when gated, else #UD. */
static void t_xmm_input(void *arg)
{
    (void)arg;
    int xmm = gated != 1 || (f3.edx & HV_FEAT_XMM_INPUT);
    int flush = gated != 1 || (f4.eax & HV_REC_REMOTE_TLB_FLUSH);
    uint64_t q[14] = {0}, r = 0;
    uint64_t os_id = hvt_rdmsr_or(HV_MSR_GUEST_OS_ID, 0);
    /* SetVpRegisters(self, GuestOsId = its value): 48 bytes; the call itself is always allowed. */
    q[0] = HV_PARTITION_ID_SELF;
    q[1] = HV_VP_INDEX_SELF;
    q[2] = HV_REGISTER_GUEST_OS_ID;
    q[4] = os_id;
    uint64_t control = HVCALL_SET_VP_REGISTERS | HV_CONTROL_FAST | HV_CONTROL_REP_COUNT(1);
    uint32_t f = hvx_hypercall_xmm_safe(hvt_hypercall_vmmcall, control, q, &r);
    CHECK(xmm ? f == 0 && HV_RESULT_STATUS(r) == 0 : f == HVT_UD,
          "XMM fast SetVpRegisters, 48 bytes (3D b4 %s): %s (fault 0x%x, status 0x%x)", bit_text(f3.edx, HV_FEAT_XMM_INPUT),
          xmm ? "status 0" : "#UD", f, HV_RESULT_STATUS(r));
    /* FlushVirtualAddressSpace, 24 bytes: the privilege check comes before the XMM one. */
    for (unsigned i = 0; i < 14; i++)
        q[i] = 0;
    q[0] = read_cr3();
    q[1] = HV_FLUSH_ALL_PROCESSORS;
    r = 0;
    f = hvx_hypercall_xmm_safe(hvt_hypercall_vmmcall, HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE | HV_CONTROL_FAST, q, &r);
    uint32_t want_f = flush && !xmm ? HVT_UD : 0;
    uint16_t want_s = flush ? HV_STATUS_SUCCESS : HV_STATUS_ACCESS_DENIED;
    CHECK(f == want_f && (f || HV_RESULT_STATUS(r) == want_s),
          "XMM fast FlushVirtualAddressSpace, 24 bytes (flush %s, XMM input %s): %s (fault 0x%x, status 0x%x)",
          offered_text(flush), offered_text(xmm), want_f ? "#UD" : want_s ? "ACCESS_DENIED" : "status 0", f,
          HV_RESULT_STATUS(r));
}

static void t_debug_calls(void *arg)
{
    (void)arg;
    int ok = !!(f3.ebx & HV_PRIV_DEBUGGING);
    static const struct {
        uint16_t code;
        const char *name;
    } calls[] = {{HVCALL_POST_DEBUG_DATA, "PostDebugData"},
                 {HVCALL_RETRIEVE_DEBUG_DATA, "RetrieveDebugData"},
                 {HVCALL_RESET_DEBUG_SESSION, "ResetDebugSession"}};
    for (unsigned i = 0; i < 3; i++) {
        for (unsigned k = 0; k < 8; k++)
            in[k] = 0;
        uint64_t r = hvt_hypercall(calls[i].code, gpa(in), gpa(out));
        if (ok)
            CHECK(HV_RESULT_STATUS(r) != HV_STATUS_ACCESS_DENIED,
                  "%s with the Debugging privilege (3B b11) is not denied (0x%x)", calls[i].name, HV_RESULT_STATUS(r));
        else
            EXPECT_STATUS(r, HV_STATUS_ACCESS_DENIED, "%s without the Debugging privilege (3B b11)", calls[i].name);
    }
}

static void t_hypercalls(void *arg)
{
    (void)arg;
    if (!CHECK(hvt_hypercall_setup(), "hypercall page enabled (3A b5 is set whenever Hyper-V is)"))
        return;
    in = hvt_alloc_page();
    out = hvt_alloc_page();
    hvt_run("SynIC hypercalls", t_synic_calls, 0);
    hvt_run("NotifyLongSpinWait", t_spin_wait, 0);
    hvt_run("flush hypercalls", t_flush, 0);
    hvt_run("IPI hypercalls", t_ipi, 0);
    hvt_run("XMM fast input", t_xmm_input, 0);
    hvt_run("debug hypercalls", t_debug_calls, 0);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_features", vp);
    if (vp != 0)
        hvt_ap_main();
    hv = hvt_max_hv_leaf() >= HV_CPUID_LIMITS && cpuid(HV_CPUID_INTERFACE, 0).eax == HV_SIGNATURE_HV1;
    if (hv) {
        f3 = cpuid(HV_CPUID_FEATURES, 0);
        f4 = cpuid(HV_CPUID_ENLIGHTENMENT, 0);
        host_build = cpuid(HV_CPUID_VERSION, 0).eax;
    }
    gated = detect_gating();
    printf("# cpuid hv=%d 3a=0x%x 3b=0x%x 3c=0x%x 3d=0x%x 4a=0x%x 4b=0x%x gated=%d\n", hv, f3.eax, f3.ebx, f3.ecx, f3.edx,
           f4.eax, f4.ebx, gated);
    if (gated < 0)
        NOTE("every MSR family is advertised: nothing depends on CPUID gating (checked as ungated)");
    hvt_run("synthetic MSRs", t_msrs, 0);
    hvt_run("STIMER direct mode", t_stimer_direct, 0);
    if (hv)
        hvt_run("hypercalls", t_hypercalls, 0);
    else
        hvt_run("hypercalls without the interface", t_no_interface, 0);
    return hvt_finish();
}
