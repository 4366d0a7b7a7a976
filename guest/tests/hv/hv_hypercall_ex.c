/* hv_hypercall_ex.elf - the flush / IPI hypercalls with a sparse VP set, XMM fast input and the
 * CPUID gating of all of them and of direct-mode timers (PROTOCOL 1.5, 1.6, 1.8, 3.1, 3.2, 3.6,
 * 3.6.2, 2.7).
 *
 * Which calls must work comes from CPUID: when the MSRs follow CPUID (hv-enforce-cpuid, detected
 * by hvt_msrs_gated()), FlushVirtualAddressSpace/List need 0x40000004 EAX b2, SendSyntheticClusterIpi
 * b10, the Ex variants (0x13/0x14/0x15) additionally b11, a fast call with more than 16 bytes of
 * input needs XMM fast input (0x40000003 EDX b4) and STIMER direct mode EDX b19; otherwise every
 * one of them works. A call that must not work answers ACCESS_DENIED (6) and has no effect (no
 * IPI arrives); XMM fast input that is not offered raises #UD (3.2 note 8).
 * When allowed (run with --vcpus 3 so that sets name more than one other VP):
 *  - FlushVirtualAddressSpaceEx with a sparse set (1 bank) and with the ALL format; a bank count
 *    that disagrees with the variable header size -> 3, an unknown set format -> 5;
 *  - FlushVirtualAddressListEx: banks, then 2 GVA entries -> 2 reps completed;
 *  - SendSyntheticClusterIpiEx: sparse {1, 2} interrupts exactly VPs 1 and 2 once, ALL every VP
 *    once, an empty sparse set nobody;
 *  - XMM fast input: SetVpRegisters (48 bytes) sets GUEST_OS_ID, SendSyntheticClusterIpiEx
 *    (32 bytes) interrupts VP 0, FlushVirtualAddressSpaceEx (40 bytes) succeeds.
 * Run (also under hv-enforce-cpuid configurations, tests/CMakeLists.txt):
 *   hvsim run --guest hv_hypercall_ex.elf --hv hv-passthrough --vcpus 3
 */
#include "hv_test.h"

#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX 0x0013u
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX 0x0014u
#define HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX 0x0015u
#define HV_CONTROL_VAR_HEADER(qwords) ((uint64_t)(qwords) << 17) /* 3.1: bits 26:17 */
#define HV_GENERIC_SET_SPARSE_4K 0u                             /* 3.6.2 */
#define HV_GENERIC_SET_ALL 1u
#define HV_REC_EX_PROCESSOR_MASKS (1u << 11) /* 0x40000004 EAX (1.6) */
#define HV_FEAT_XMM_INPUT (1u << 4)          /* 0x40000003 EDX (1.5) */
#define IPI_VECTOR 0x62u
#define DIRECT_VECTOR 0x63u
#define OS_ID_BY_XMM ((uint64_t)0x8100000000000A5Aull)

uint32_t hvx_hypercall_xmm_safe(int vmmcall, uint64_t control, const uint64_t q[14], uint64_t *result);

static struct cpuid_regs f3;
static uint32_t rec; /* 0x40000004 EAX */
static int gated, flush_ok, ipi_ok, ex_ok, xmm_ok, direct_ok, stimer_msrs;
static uint64_t *in;
static uint32_t nvp;

static uint64_t gpa(void *p) { return (uint64_t)(uintptr_t)p; }

#define EXPECT_STATUS(result, want, fmt, ...)                                                          \
    CHECK(HV_RESULT_STATUS(result) == (want), fmt " -> status 0x%x (want 0x%x)", ##__VA_ARGS__,           \
          HV_RESULT_STATUS(result), (want))

static uint16_t allowed(int ok) { return ok ? HV_STATUS_SUCCESS : HV_STATUS_ACCESS_DENIED; }

/* Interrupt counts of IPI_VECTOR on every VP. */
static void snapshot(uint32_t *c)
{
    for (uint32_t v = 0; v < nvp; v++)
        c[v] = hvt_irq[v].count[IPI_VECTOR];
}

/* Waits until every VP in want_mask got IPI_VECTOR once more than in before[] (or 2 ms), then
 * 50 us more. Returns how many each VP got, one hex digit per VP (VP 0 lowest, at most 15). */
static uint64_t ipi_deltas(const uint32_t *before, uint64_t want_mask)
{
    int all;
    HVT_WAIT(({
                 all = 1;
                 for (uint32_t v = 0; v < nvp; v++)
                     if (((want_mask >> v) & 1) && hvt_irq[v].count[IPI_VECTOR] == before[v])
                         all = 0;
                 all;
             }),
             2000);
    hvt_delay_us(50);
    uint64_t d = 0;
    for (uint32_t v = 0; v < nvp; v++) {
        uint32_t got = hvt_irq[v].count[IPI_VECTOR] - before[v];
        d |= (uint64_t)(got < 15 ? got : 15) << (4 * v);
    }
    return d;
}

/* want_mask as ipi_deltas() digits: one interrupt on each VP in the mask. */
static uint64_t once_on(uint64_t want_mask)
{
    uint64_t d = 0;
    for (uint32_t v = 0; v < nvp; v++)
        d |= ((want_mask >> v) & 1) << (4 * v);
    return d;
}

static void remote_nothing(void *arg) { (void)arg; }

static void t_configuration(void *arg)
{
    (void)arg;
    gated = hvt_msrs_gated();
    flush_ok = !gated || (rec & HV_REC_REMOTE_TLB_FLUSH);
    ipi_ok = !gated || (rec & HV_REC_CLUSTER_IPI);
    ex_ok = !gated || (rec & HV_REC_EX_PROCESSOR_MASKS);
    xmm_ok = !gated || (f3.edx & HV_FEAT_XMM_INPUT);
    direct_ok = !gated || (f3.edx & HV_FEAT_STIMER_DIRECT);
    stimer_msrs = !gated || (f3.eax & HV_ACCESS_STIMER);
    NOTE("0x40000003 EAX 0x%x EDX 0x%x, 0x40000004 EAX 0x%x, %s: flush %d, IPI %d, Ex %d, XMM input %d, direct timers %d",
         f3.eax, f3.edx, rec, gated ? "gated by CPUID" : "not gated", flush_ok, ipi_ok, ex_ok, xmm_ok, direct_ok);
    CHECK(!(rec & HV_REC_EX_PROCESSOR_MASKS) || (rec & (HV_REC_REMOTE_TLB_FLUSH | HV_REC_CLUSTER_IPI)),
          "0x40000004 EAX b11 (Ex processor masks) comes only with b2 (flush) or b10 (IPI) (EAX 0x%x)", rec);
    int ok = hvt_hypercall_setup();
    CHECK(ok, "hypercall page enabled");
    if (!ok)
        hvt_hypercall_page = 0;
    in = hvt_alloc_page();
    for (uint32_t v = 1; v < nvp; v++)
        hvt_on_vp(v, remote_nothing, 0, 20000); /* every AP idles in hvt_ap_main with IF = 1 */
}

/* ---- the calls without a VP set (0x0002, 0x0003, 0x000B) ---- */
static void t_plain_gating(void *arg)
{
    (void)arg;
    in[0] = read_cr3();
    in[1] = HV_FLUSH_ALL_PROCESSORS;
    in[2] = 0;
    uint64_t r = hvt_hypercall(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, gpa(in), 0);
    EXPECT_STATUS(r, allowed(flush_ok), "FlushVirtualAddressSpace with flush %s", flush_ok ? "offered" : "not offered");
    in[3] = gpa(in);
    r = hvt_hypercall(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST | HV_CONTROL_REP_COUNT(1), gpa(in), 0);
    EXPECT_STATUS(r, allowed(flush_ok), "FlushVirtualAddressList with flush %s", flush_ok ? "offered" : "not offered");

    uint32_t before[HVT_MAX_VPS];
    snapshot(before);
    r = hvt_hypercall_fast(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, IPI_VECTOR, 1);
    EXPECT_STATUS(r, allowed(ipi_ok), "SendSyntheticClusterIpi to VP 0 with IPIs %s", ipi_ok ? "offered" : "not offered");
    uint64_t d = ipi_deltas(before, ipi_ok ? 1 : 0), want = once_on(ipi_ok ? 1 : 0);
    CHECK(d == want, "SendSyntheticClusterIpi %s (per-VP counts 0x%lx, want 0x%lx)",
          ipi_ok ? "interrupts VP 0 once" : "denied interrupts nobody", d, want);
}

/* ---- Ex calls: VP set at offset 16 (flush) or 8 (IPI), banks in the variable header ---- */
static uint64_t flush_ex(uint64_t format, uint64_t bank_mask, const uint64_t *banks, unsigned nbanks, unsigned var_qwords,
                         const uint64_t *gvas, unsigned ngva)
{
    in[0] = read_cr3();
    in[1] = 0;
    in[2] = format;
    in[3] = bank_mask;
    for (unsigned i = 0; i < nbanks; i++)
        in[4 + i] = banks[i];
    for (unsigned i = 0; i < ngva; i++)
        in[4 + nbanks + i] = gvas[i];
    uint64_t control = (ngva ? HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX | HV_CONTROL_REP_COUNT(ngva)
                             : HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX) |
                       HV_CONTROL_VAR_HEADER(var_qwords);
    return hvt_hypercall(control, gpa(in), 0);
}

static uint64_t ipi_ex(uint64_t format, uint64_t bank_mask, const uint64_t *banks, unsigned nbanks)
{
    in[0] = IPI_VECTOR; /* vector, VTL 0, reserved 0 */
    in[1] = format;
    in[2] = bank_mask;
    for (unsigned i = 0; i < nbanks; i++)
        in[3 + i] = banks[i];
    return hvt_hypercall(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX | HV_CONTROL_VAR_HEADER(nbanks), gpa(in), 0);
}

static void t_flush_ex(void *arg)
{
    (void)arg;
    int ok = flush_ok && ex_ok;
    const uint64_t bank0 = 7, gvas[2] = {gpa(in) & ~0xFFFull, (gpa(in) & ~0xFFFull) | 1};
    uint64_t r = flush_ex(HV_GENERIC_SET_SPARSE_4K, 1, &bank0, 1, 1, 0, 0);
    EXPECT_STATUS(r, allowed(ok), "FlushVirtualAddressSpaceEx sparse set {0,1,2} (1 bank), Ex flush %s",
                  ok ? "offered" : "not offered");
    r = flush_ex(HV_GENERIC_SET_ALL, 0, 0, 0, 0, 0, 0);
    EXPECT_STATUS(r, allowed(ok), "FlushVirtualAddressSpaceEx ALL set");
    r = flush_ex(HV_GENERIC_SET_SPARSE_4K, 1, &bank0, 1, 1, gvas, 2);
    EXPECT_STATUS(r, allowed(ok), "FlushVirtualAddressListEx sparse set, 2 GVA entries");
    CHECK(HV_RESULT_REPS(r) == (ok ? 2u : 0u), "FlushVirtualAddressListEx reports %u reps completed (%lu)", ok ? 2u : 0u,
          HV_RESULT_REPS(r));
    if (!ok)
        return;
    r = flush_ex(HV_GENERIC_SET_SPARSE_4K, 3, &bank0, 1, 1, 0, 0);
    EXPECT_STATUS(r, HV_STATUS_INVALID_HYPERCALL_INPUT,
                  "FlushVirtualAddressSpaceEx valid_bank_mask 0x3 (2 banks) with a 1-qword variable header");
    r = flush_ex(2, 1, &bank0, 1, 1, 0, 0);
    EXPECT_STATUS(r, HV_STATUS_INVALID_PARAMETER, "FlushVirtualAddressSpaceEx unknown VP set format 2");
}

static void t_ipi_ex(void *arg)
{
    (void)arg;
    int ok = ipi_ok && ex_ok;
    uint32_t before[HVT_MAX_VPS];
    uint64_t all_vps = ((uint64_t)1 << nvp) - 1, bank = 6 & all_vps;
    if (nvp < 3)
        NOTE("%u vCPUs: the sparse set names VP 1 only (run with --vcpus 3)", nvp);
    snapshot(before);
    uint64_t r = ipi_ex(HV_GENERIC_SET_SPARSE_4K, 1, &bank, 1);
    EXPECT_STATUS(r, allowed(ok), "SendSyntheticClusterIpiEx sparse set 0x%lx, Ex IPIs %s", bank,
                  ok ? "offered" : "not offered");
    uint64_t d = ipi_deltas(before, ok ? bank : 0), want = once_on(ok ? bank : 0);
    CHECK(d == want, "SendSyntheticClusterIpiEx sparse 0x%lx: %s (per-VP counts 0x%lx, want 0x%lx)", bank,
          ok ? "exactly those VPs interrupted once" : "denied, nobody interrupted", d, want);
    if (!ok)
        return;
    snapshot(before);
    r = ipi_ex(HV_GENERIC_SET_ALL, 0, 0, 0);
    EXPECT_STATUS(r, HV_STATUS_SUCCESS, "SendSyntheticClusterIpiEx ALL set");
    d = ipi_deltas(before, all_vps);
    CHECK(d == once_on(all_vps), "SendSyntheticClusterIpiEx ALL: every VP interrupted once (per-VP counts 0x%lx)", d);
    snapshot(before);
    r = ipi_ex(HV_GENERIC_SET_SPARSE_4K, 0, 0, 0);
    EXPECT_STATUS(r, HV_STATUS_SUCCESS, "SendSyntheticClusterIpiEx empty sparse set");
    d = ipi_deltas(before, 0);
    CHECK(d == 0, "SendSyntheticClusterIpiEx empty sparse set interrupts nobody (per-VP counts 0x%lx)", d);
}

/* ---- XMM fast input (3.2): RDX, R8, then XMM0..XMM5 ---- */
static void t_xmm_input(void *arg)
{
    (void)arg;
    uint64_t q[14] = {0}, r = 0;
    int vmm = hvt_hypercall_vmmcall;
    /* SetVpRegisters(self, GuestOsId): 16-byte header + one 32-byte element = 48 bytes. Always
     * allowed, so its XMM input is refused only for want of XMM. */
    uint64_t os_before = hvt_rdmsr_or(HV_MSR_GUEST_OS_ID, 0);
    q[0] = HV_PARTITION_ID_SELF;
    q[1] = HV_VP_INDEX_SELF;
    q[2] = HV_REGISTER_GUEST_OS_ID;
    q[4] = OS_ID_BY_XMM;
    uint32_t f = hvx_hypercall_xmm_safe(vmm, HVCALL_SET_VP_REGISTERS | HV_CONTROL_FAST | HV_CONTROL_REP_COUNT(1), q, &r);
    uint64_t os_after = hvt_rdmsr_or(HV_MSR_GUEST_OS_ID, 0);
    if (xmm_ok) {
        CHECK(f == 0 && HV_RESULT_STATUS(r) == 0 && HV_RESULT_REPS(r) == 1 && os_after == OS_ID_BY_XMM,
              "XMM fast SetVpRegisters (48 bytes of input): status 0x%x, reps %lu, GUEST_OS_ID 0x%lx (fault 0x%x)",
              HV_RESULT_STATUS(r), HV_RESULT_REPS(r), os_after, f);
    } else {
        CHECK(f == HVT_UD && os_after == os_before,
              "XMM fast input not offered: 48-byte fast SetVpRegisters raises #UD, GUEST_OS_ID unchanged (fault 0x%x, "
              "0x%lx)",
              f, os_after);
        return;
    }
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, os_before);

    if (ipi_ok && ex_ok) {
        uint32_t before[HVT_MAX_VPS];
        snapshot(before);
        for (unsigned i = 0; i < 14; i++)
            q[i] = 0;
        q[0] = IPI_VECTOR;
        q[1] = HV_GENERIC_SET_SPARSE_4K;
        q[2] = 1; /* valid_bank_mask */
        q[3] = 1; /* bank 0: VP 0 */
        f = hvx_hypercall_xmm_safe(vmm, HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX | HV_CONTROL_FAST | HV_CONTROL_VAR_HEADER(1),
                                   q, &r);
        uint64_t d = ipi_deltas(before, 1);
        CHECK(f == 0 && HV_RESULT_STATUS(r) == 0 && d == once_on(1),
              "XMM fast SendSyntheticClusterIpiEx {VP 0} (32 bytes): status 0x%x, VP 0 interrupted once (per-VP counts "
              "0x%lx, fault 0x%x)",
              HV_RESULT_STATUS(r), d, f);
    }
    if (flush_ok && ex_ok) {
        for (unsigned i = 0; i < 14; i++)
            q[i] = 0;
        q[0] = read_cr3();
        q[2] = HV_GENERIC_SET_SPARSE_4K;
        q[3] = 1;
        q[4] = 3; /* VPs 0 and 1 */
        f = hvx_hypercall_xmm_safe(vmm, HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX | HV_CONTROL_FAST | HV_CONTROL_VAR_HEADER(1),
                                   q, &r);
        CHECK(f == 0 && HV_RESULT_STATUS(r) == 0,
              "XMM fast FlushVirtualAddressSpaceEx sparse {0,1} (40 bytes): status 0x%x (fault 0x%x)", HV_RESULT_STATUS(r),
              f);
    }
}

/* ---- direct-mode STIMER (2.7; 3D b19) ---- */
static void t_direct_timer(void *arg)
{
    (void)arg;
    if (!stimer_msrs) {
        NOTE("STIMER MSRs not advertised (3A b3): direct-mode gating not checked");
        return;
    }
    uint64_t config = HV_STIMER_DIRECT | HV_STIMER_VECTOR(DIRECT_VECTOR), v = 0;
    hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    uint32_t f = hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(0), config);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_STIMER_CONFIG(0), &v);
    if (direct_ok) {
        CHECK(!f && !g && v == config, "direct-mode STIMER0_CONFIG 0x%lx accepted (reads 0x%lx, faults 0x%x/0x%x)", config,
              v, f, g);
        volatile uint32_t *cnt = &hvt_irq[0].count[DIRECT_VECTOR];
        uint32_t before = *cnt;
        f = hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(0), 1) | hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(0), config | HV_STIMER_ENABLE);
        int got = HVT_WAIT(*cnt != before, 1000);
        CHECK(!f && got, "direct-mode STIMER0 with a past COUNT interrupts on vector 0x%x (faults 0x%x)", DIRECT_VECTOR, f);
    } else {
        CHECK(f == HVT_GP0 && !g && v == 0,
              "direct mode not offered (3D b19 clear): STIMER0_CONFIG 0x%lx raises #GP(0), still 0 (fault 0x%x, 0x%lx)",
              config, f, v);
    }
    hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(0), 0);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    hvt_init("hv_hypercall_ex", vp);
    if (vp != 0)
        hvt_ap_main();
    nvp = bi->vcpu_count < HVT_MAX_VPS ? bi->vcpu_count : HVT_MAX_VPS;
    f3 = hvt_hv_features();
    rec = hvt_max_hv_leaf() >= HV_CPUID_ENLIGHTENMENT ? cpuid(HV_CPUID_ENLIGHTENMENT, 0).eax : 0;
    hvt_run("configuration", t_configuration, 0);
    hvt_run("flush and IPI without a VP set", t_plain_gating, 0);
    hvt_run("FlushVirtualAddressSpace/ListEx", t_flush_ex, 0);
    hvt_run("SendSyntheticClusterIpiEx", t_ipi_ex, 0);
    hvt_run("XMM fast input", t_xmm_input, 0);
    hvt_run("direct-mode timer", t_direct_timer, 0);
    return hvt_finish();
}
