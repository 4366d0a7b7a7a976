/* hv_tsc_msrs.elf - the TSC control MSRs whose existence depends on the host release and the
 * configuration (PROTOCOL 1.1, 1.2, 1.8, 2.1, 2.9).
 *
 * TSC_INVARIANT_CONTROL (0x40000118): offered by hosts from Windows Server 2022 on (CPUID
 * 0x40000002 EAX build >= 20348) and then advertised as 0x40000003 EAX b15 exactly when TIME_REF_COUNT
 * (b1) is. It exists when advertised, or when the host offers it and the MSRs are not gated by
 * CPUID (hv-enforce-cpuid off, detected by hvt_msrs_gated()). Elsewhere RDMSR and
 * WRMSR #GP. When it exists: reset 0, only b0 is writable (any other bit #GP, value unchanged),
 * once b0 is set a write of 0 is accepted but it stays set, it is partition-wide (VP 1 reads it),
 * and invariant TSC (CPUID 0x80000007 EDX b8) is reported before and after.
 * TSC_EMULATION_CONTROL / STATUS (0x40000107/108, needing REENLIGHTENMENT, 3A b13, when gated):
 * CONTROL reset 0, b0 round trip, any other bit #GP; STATUS reads 0, a write of 0 is accepted,
 * a write of 1 #GPs (2.1: the guest may only clear InProgress).
 * The expectations come from CPUID, so the guest runs under several host profiles and
 * configurations (tests/CMakeLists.txt), e.g.:
 *   hvsim run --guest hv_tsc_msrs.elf --hv hv-passthrough --vcpus 2 --host ws2022
 */
#include "hv_test.h"

#define HV_MSR_TSC_EMULATION_CONTROL 0x40000107u
#define HV_MSR_TSC_EMULATION_STATUS 0x40000108u
#define HV_MSR_TSC_INVARIANT_CONTROL 0x40000118u
#define HV_ACCESS_TSC_INVARIANT (1u << 15) /* 1.2 */
#define HV_BUILD_WS2022 20348u              /* 1.1: first release with TSC_INVARIANT_CONTROL */
#define CPUID_INVARIANT_TSC (1u << 8)       /* 0x80000007 EDX */

static struct cpuid_regs f3;
static int gated; /* MSRs follow CPUID: an unadvertised family #GPs (hv-enforce-cpuid) */

static int invariant_tsc_reported(void)
{
    return cpuid(0x80000000u, 0).eax >= 0x80000007u && (cpuid(0x80000007u, 0).edx & CPUID_INVARIANT_TSC);
}

/* Expects a #GP(0) from RDMSR and WRMSR of an MSR that must not exist. */
static void expect_absent(uint32_t msr, const char *what)
{
    uint64_t v;
    uint32_t r = hvt_rdmsr_safe(msr, &v), w = hvt_wrmsr_safe(msr, 1);
    CHECK(r == HVT_GP0 && w == HVT_GP0, "%s (0x%x) does not exist: RDMSR and WRMSR raise #GP(0) (faults 0x%x/0x%x)", what,
          msr, r, w);
}

static void expect_wr_gp(uint32_t msr, uint64_t value, const char *what)
{
    uint64_t before = hvt_rdmsr_or(msr, ~0ull);
    uint32_t f = hvt_wrmsr_safe(msr, value);
    uint64_t after = hvt_rdmsr_or(msr, ~0ull);
    CHECK(f == HVT_GP0 && after == before, "%s: write 0x%lx raises #GP(0) and leaves 0x%lx (fault 0x%x, reads 0x%lx)", what,
          value, before, f, after);
}

static void t_configuration(void *arg)
{
    (void)arg;
    uint32_t build = cpuid(HV_CPUID_VERSION, 0).eax;
    int offered = build >= HV_BUILD_WS2022;
    int time = !!(f3.eax & HV_ACCESS_TIME_REF_COUNT);
    gated = hvt_msrs_gated();
    NOTE("host build %u (%s TSC_INVARIANT_CONTROL), 0x40000003 EAX 0x%x, MSRs %s by CPUID", build,
         offered ? "offers" : "does not offer", f3.eax, gated ? "gated" : "not gated");
    CHECK(!!(f3.eax & HV_ACCESS_TSC_INVARIANT) == (offered && time),
          "3A b15 (TSC_INVARIANT_CONTROL) is advertised iff the host offers it (build %u) and TIME_REF_COUNT (b1) is "
          "(EAX 0x%x)",
          build, f3.eax);
}

static volatile uint64_t remote_value;
static volatile uint32_t remote_fault;

static void remote_read_invariant(void *arg)
{
    (void)arg;
    uint64_t v;
    remote_fault = hvt_rdmsr_safe(HV_MSR_TSC_INVARIANT_CONTROL, &v);
    remote_value = v;
}

static void t_tsc_invariant_control(void *arg)
{
    (void)arg;
    uint32_t build = cpuid(HV_CPUID_VERSION, 0).eax;
    int exists = (f3.eax & HV_ACCESS_TSC_INVARIANT) || (build >= HV_BUILD_WS2022 && !gated);
    if (!exists) {
        expect_absent(HV_MSR_TSC_INVARIANT_CONTROL, "TSC_INVARIANT_CONTROL");
        return;
    }
    uint64_t v;
    int inv_before = invariant_tsc_reported();
    uint32_t f = hvt_rdmsr_safe(HV_MSR_TSC_INVARIANT_CONTROL, &v);
    CHECK(!f && v == 0, "TSC_INVARIANT_CONTROL exists and reads 0 at reset (0x%lx, fault 0x%x)", v, f);
    expect_wr_gp(HV_MSR_TSC_INVARIANT_CONTROL, 2, "TSC_INVARIANT_CONTROL bit 1 (only b0 writable)");
    expect_wr_gp(HV_MSR_TSC_INVARIANT_CONTROL, (uint64_t)1 << 63, "TSC_INVARIANT_CONTROL bit 63 (only b0 writable)");
    f = hvt_wrmsr_safe(HV_MSR_TSC_INVARIANT_CONTROL, 1);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_TSC_INVARIANT_CONTROL, &v);
    CHECK(!f && !g && v == 1, "TSC_INVARIANT_CONTROL b0 set reads back 1 (0x%lx, faults 0x%x/0x%x)", v, f, g);
    f = hvt_wrmsr_safe(HV_MSR_TSC_INVARIANT_CONTROL, 0);
    g = hvt_rdmsr_safe(HV_MSR_TSC_INVARIANT_CONTROL, &v);
    CHECK(!f && !g && v == 1, "TSC_INVARIANT_CONTROL is sticky: writing 0 is accepted and it still reads 1 (0x%lx, faults "
          "0x%x/0x%x)", v, f, g);
    expect_wr_gp(HV_MSR_TSC_INVARIANT_CONTROL, 3, "TSC_INVARIANT_CONTROL b0|b1 once set");
    CHECK(inv_before && invariant_tsc_reported(),
          "invariant TSC (CPUID 0x80000007 EDX b8) reported before and after setting TSC_INVARIANT_CONTROL (%d, %d)",
          inv_before, invariant_tsc_reported());
    if (hvsim_boot->vcpu_count < 2) {
        NOTE("single vCPU: partition-wide check skipped (run with --vcpus 2)");
        return;
    }
    int done = hvt_on_vp(1, remote_read_invariant, 0, 20000);
    CHECK(done && !remote_fault && remote_value == 1,
          "TSC_INVARIANT_CONTROL is partition-wide: VP 1 reads 1 (0x%lx, fault 0x%x)", remote_value, remote_fault);
}

static void t_tsc_emulation(void *arg)
{
    (void)arg;
    if (gated && !(f3.eax & HV_ACCESS_REENLIGHTENMENT)) {
        expect_absent(HV_MSR_TSC_EMULATION_CONTROL, "TSC_EMULATION_CONTROL unadvertised (3A b13 clear)");
        expect_absent(HV_MSR_TSC_EMULATION_STATUS, "TSC_EMULATION_STATUS unadvertised (3A b13 clear)");
        return;
    }
    uint64_t v;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_TSC_EMULATION_CONTROL, &v);
    CHECK(!f && v == 0, "TSC_EMULATION_CONTROL reset value 0 (0x%lx, fault 0x%x)", v, f);
    f = hvt_wrmsr_safe(HV_MSR_TSC_EMULATION_CONTROL, 1);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_TSC_EMULATION_CONTROL, &v);
    CHECK(!f && !g && v == 1, "TSC_EMULATION_CONTROL b0 (Enabled) reads back (0x%lx, faults 0x%x/0x%x)", v, f, g);
    expect_wr_gp(HV_MSR_TSC_EMULATION_CONTROL, 3, "TSC_EMULATION_CONTROL bit 1 (only b0 writable)");
    f = hvt_wrmsr_safe(HV_MSR_TSC_EMULATION_CONTROL, 0);
    g = hvt_rdmsr_safe(HV_MSR_TSC_EMULATION_CONTROL, &v);
    CHECK(!f && !g && v == 0, "TSC_EMULATION_CONTROL cleared again (0x%lx, faults 0x%x/0x%x)", v, f, g);

    f = hvt_rdmsr_safe(HV_MSR_TSC_EMULATION_STATUS, &v);
    CHECK(!f && v == 0, "TSC_EMULATION_STATUS reads 0 (no emulation in progress) (0x%lx, fault 0x%x)", v, f);
    f = hvt_wrmsr_safe(HV_MSR_TSC_EMULATION_STATUS, 0);
    CHECK(!f, "TSC_EMULATION_STATUS: writing 0 is accepted (fault 0x%x)", f);
    expect_wr_gp(HV_MSR_TSC_EMULATION_STATUS, 1, "TSC_EMULATION_STATUS: the guest may only write 0");
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_tsc_msrs", vp);
    if (vp != 0)
        hvt_ap_main();
    f3 = hvt_hv_features();
    hvt_run("configuration", t_configuration, 0);
    hvt_run("TSC_INVARIANT_CONTROL", t_tsc_invariant_control, 0);
    hvt_run("TSC emulation MSRs", t_tsc_emulation, 0);
    return hvt_finish();
}
