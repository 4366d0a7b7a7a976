/* hv_msrs.elf - every synthetic MSR family (PROTOCOL section 2): reset values, read-only and
 * write-only rules, the hypercall-page MSR rules (2.3), overlay pages enabled at a GPA outside the
 * address space (#GP), reserved bits, unknown MSRs, crash MSRs. The hypercall page is the stub
 * followed by INT3 (0xCC) to the end of the page (3.7).
 * VP 1 (if present) reports its own VP_INDEX and checks GUEST_OS_ID is partition-wide. Run:
 *   hvsim run --guest hv_msrs.elf --hv hv-passthrough --vcpus 2
 */
#include "hv_test.h"

static struct cpuid_regs f3;

/* Expects a #GP(0) from writing value to msr, and the MSR to read back unchanged. */
static void expect_wr_gp(uint32_t msr, uint64_t value, const char *what)
{
    uint64_t before = hvt_rdmsr_or(msr, ~0ull);
    uint32_t f = hvt_wrmsr_safe(msr, value);
    uint64_t after = hvt_rdmsr_or(msr, ~0ull);
    CHECK(f == HVT_GP0, "%s: write 0x%lx to MSR 0x%x raises #GP(0) (fault 0x%x)", what, value, msr, f);
    /* Read-only counters move on their own; only compare registers that cannot change. */
    if (msr != HV_MSR_TIME_REF_COUNT && msr != HV_MSR_VP_RUNTIME)
        CHECK(after == before, "%s: MSR 0x%x unchanged after the faulting write (0x%lx -> 0x%lx)", what, msr, before,
              after);
}

static void t_reset_values(void *arg)
{
    (void)arg;
    uint64_t v;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_GUEST_OS_ID, &v);
    CHECK(!f && v == 0, "GUEST_OS_ID reset value 0 (0x%lx, fault 0x%x)", v, f);
    f = hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    CHECK(!f && v == 0, "HYPERCALL reset value 0 (0x%lx, fault 0x%x)", v, f);
    f = hvt_rdmsr_safe(HV_MSR_REFERENCE_TSC, &v);
    CHECK(!f && v == 0, "REFERENCE_TSC reset value 0 (0x%lx, fault 0x%x)", v, f);
    f = hvt_rdmsr_safe(HV_MSR_SIMP, &v);
    CHECK(!f && v == 0, "SIMP reset value 0 (0x%lx, fault 0x%x)", v, f);
    f = hvt_rdmsr_safe(HV_MSR_SIEFP, &v);
    CHECK(!f && v == 0, "SIEFP reset value 0 (0x%lx, fault 0x%x)", v, f);
    f = hvt_rdmsr_safe(HV_MSR_SCONTROL, &v);
    CHECK(!f && (v >> 1) == 0, "SCONTROL reads 0 or 1 at reset (0x%lx, fault 0x%x)", v, f);
    for (unsigned n = 0; n < 16; n++) {
        f = hvt_rdmsr_safe(HV_MSR_SINT(n), &v);
        CHECK(!f && v == HV_SINT_RESET_VALUE, "SINT%u reset value 0x10000 (masked) (0x%lx, fault 0x%x)", n, v, f);
    }
    for (unsigned n = 0; n < 4; n++) {
        uint64_t c, k;
        uint32_t f1 = hvt_rdmsr_safe(HV_MSR_STIMER_CONFIG(n), &c), f2 = hvt_rdmsr_safe(HV_MSR_STIMER_COUNT(n), &k);
        CHECK(!f1 && !f2 && c == 0 && k == 0, "STIMER%u CONFIG/COUNT reset 0 (0x%lx/0x%lx, faults 0x%x/0x%x)", n, c,
              k, f1, f2);
    }
    for (unsigned n = 0; n < 5; n++) {
        f = hvt_rdmsr_safe(HV_MSR_CRASH_P0 + n, &v);
        CHECK(!f && v == 0, "CRASH_P%u reset value 0 (0x%lx, fault 0x%x)", n, v, f);
    }
    f = hvt_rdmsr_safe(HV_MSR_RESET, &v);
    CHECK(!f && v == 0, "RESET reads 0 (0x%lx, fault 0x%x)", v, f);
}

static void t_guest_os_id(void *arg)
{
    (void)arg;
    uint64_t v;
    uint32_t f = hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_GUEST_OS_ID, &v);
    CHECK(!f && !g && v == HVT_GUEST_OS_ID, "GUEST_OS_ID write/read back 0x%lx (faults 0x%x/0x%x)", v, f, g);
    f = hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, (uint64_t)0x1234);
    g = hvt_rdmsr_safe(HV_MSR_GUEST_OS_ID, &v);
    CHECK(!f && !g && v == (uint64_t)0x1234, "GUEST_OS_ID holds any value (0x%lx)", v);
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, 0);
}

static volatile uint64_t remote_vp_index, remote_os_id;
static volatile uint32_t remote_fault_idx, remote_fault_os;

static void remote_read(void *arg)
{
    (void)arg;
    uint64_t v;
    remote_fault_idx = hvt_rdmsr_safe(HV_MSR_VP_INDEX, &v);
    remote_vp_index = v;
    remote_fault_os = hvt_rdmsr_safe(HV_MSR_GUEST_OS_ID, &v);
    remote_os_id = v;
}

static void t_vp_index(void *arg)
{
    (void)arg;
    uint64_t v;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_VP_INDEX, &v);
    CHECK(!f && v == 0, "VP_INDEX on VP 0 reads 0 (0x%lx, fault 0x%x)", v, f);
    expect_wr_gp(HV_MSR_VP_INDEX, 5, "VP_INDEX is read-only");
    if (hvsim_boot->vcpu_count < 2) {
        NOTE("single vCPU: VP 1 checks skipped (run with --vcpus 2)");
        return;
    }
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID);
    int done = hvt_on_vp(1, remote_read, 0, 20000);
    CHECK(done && !remote_fault_idx && remote_vp_index == 1, "VP_INDEX on VP 1 reads 1 (0x%lx, fault 0x%x)",
          remote_vp_index, remote_fault_idx);
    CHECK(done && !remote_fault_os && remote_os_id == HVT_GUEST_OS_ID,
          "GUEST_OS_ID is partition-wide: VP 1 reads VP 0's value (0x%lx)", remote_os_id);
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, 0);
}

static int page_has_stub(const uint8_t *p)
{
    return p[0] == 0x0F && p[1] == 0x01 && (p[2] == 0xC1 || p[2] == 0xD9) && p[3] == 0xC3;
}

static void t_hypercall_msr(void *arg)
{
    (void)arg;
    uint8_t *page = hvt_alloc_page();
    uint64_t gpa = (uint64_t)(uintptr_t)page, v;

    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, 0);
    uint32_t f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, gpa | HV_HYPERCALL_ENABLE);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    CHECK(!f && !g && !(v & HV_HYPERCALL_ENABLE),
          "HYPERCALL enable ignored while GUEST_OS_ID == 0 (reads 0x%lx, faults 0x%x/0x%x)", v, f, g);
    hvt_wrmsr_safe(HV_MSR_HYPERCALL, 0);

    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID);
    f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, gpa | HV_HYPERCALL_ENABLE);
    g = hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    CHECK(!f && !g && v == (gpa | HV_HYPERCALL_ENABLE),
          "HYPERCALL enable with GUEST_OS_ID set reads back 0x%lx (want 0x%lx, faults 0x%x/0x%x)", v,
          gpa | HV_HYPERCALL_ENABLE, f, g);
    CHECK(page_has_stub(page), "hypercall page at 0x%lx starts with VMCALL/VMMCALL; RET (%02x %02x %02x %02x)", gpa,
          page[0], page[1], page[2], page[3]);
    unsigned not_int3 = 0, first = 0;
    for (unsigned i = 4; i < 4096; i++)
        if (page[i] != 0xCC && !not_int3++)
            first = i;
    CHECK(not_int3 == 0, "hypercall page bytes 4..4095 after the stub are all 0xCC (INT3) (%u differ, first at %u)",
          not_int3, first);

    f = hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, 0);
    g = hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    CHECK(!f && !g && !(v & HV_HYPERCALL_ENABLE), "writing GUEST_OS_ID = 0 disables the hypercall page (0x%lx)", v);
}

/* Enabling an overlay page at a GPA beyond the guest's memory is #GP (2.3); a disabled one is not
 * checked. 2^45 is inside the physical address width and far beyond any hvsim RAM size. */
static void t_gpa_outside_ram(void *arg)
{
    (void)arg;
    const uint64_t far = (uint64_t)1 << 45;
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID);
    hvt_wrmsr_safe(HV_MSR_HYPERCALL, 0);
    expect_wr_gp(HV_MSR_HYPERCALL, far | HV_HYPERCALL_ENABLE, "HYPERCALL enabled outside RAM");
    expect_wr_gp(HV_MSR_REFERENCE_TSC, far | HV_PAGE_ENABLE, "REFERENCE_TSC enabled outside RAM");
    if (f3.eax & HV_ACCESS_APIC_MSRS)
        expect_wr_gp(HV_MSR_VP_ASSIST_PAGE, far | HV_PAGE_ENABLE, "VP_ASSIST_PAGE enabled outside RAM");
    uint64_t v;
    uint32_t f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, far);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    CHECK(!f && !g && v == far, "a disabled HYPERCALL GPA outside RAM is stored (0x%lx, faults 0x%x/0x%x)", v, f, g);
    hvt_wrmsr_safe(HV_MSR_HYPERCALL, 0);
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, 0);
}

/* Last MSR check of the run: once locked, HYPERCALL stays locked until partition reset. */
static void t_hypercall_lock(void *arg)
{
    (void)arg;
    uint8_t *page = hvt_alloc_page(), *other = hvt_alloc_page();
    uint64_t gpa = (uint64_t)(uintptr_t)page, v;
    if (!(f3.edx & HV_FEAT_HYPERCALL_MSR_LOCK))
        NOTE("3D b18 (HypercallMsrLock available) not advertised; testing the Locked bit anyway (2.1 defines it)");
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID);
    uint32_t f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, gpa | HV_HYPERCALL_ENABLE | HV_HYPERCALL_LOCKED);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    CHECK(!f && !g && v == (gpa | HV_HYPERCALL_ENABLE | HV_HYPERCALL_LOCKED),
          "HYPERCALL enable+locked reads back 0x%lx (faults 0x%x/0x%x)", v, f, g);
    f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, (uint64_t)(uintptr_t)other | HV_HYPERCALL_ENABLE);
    g = hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    CHECK(f == HVT_GP0, "write to locked HYPERCALL raises #GP(0) (fault 0x%x)", f);
    CHECK(!g && v == (gpa | HV_HYPERCALL_ENABLE | HV_HYPERCALL_LOCKED), "locked HYPERCALL unchanged (0x%lx)", v);
    f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, 0);
    CHECK(f == HVT_GP0, "disabling a locked HYPERCALL raises #GP(0) (fault 0x%x)", f);
    CHECK(page_has_stub(page), "locked hypercall page still present");
}

static void t_time_msrs(void *arg)
{
    (void)arg;
    uint64_t a, b, c;
    uint32_t f1 = hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &a);
    uint32_t f2 = hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &b);
    CHECK(!f1 && !f2 && b >= a, "TIME_REF_COUNT monotonic on back-to-back reads (%lu, %lu)", a, b);
    hvt_delay_us(50);
    hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &c);
    CHECK(c >= b + 400 && c <= b + 5000, "TIME_REF_COUNT advances ~500 x 100ns over a 50 us busy wait (%lu -> %lu)",
          b, c);
    expect_wr_gp(HV_MSR_TIME_REF_COUNT, 0, "TIME_REF_COUNT is read-only");

    uint64_t tf, af;
    f1 = hvt_rdmsr_safe(HV_MSR_TSC_FREQUENCY, &tf);
    CHECK(!f1 && tf != 0, "TSC_FREQUENCY non-zero (%lu Hz, fault 0x%x)", tf, f1);
    CHECK(tf == hvsim_boot->tsc_hz, "TSC_FREQUENCY == guest TSC rate %lu Hz (%lu)", hvsim_boot->tsc_hz, tf);
    f2 = hvt_rdmsr_safe(HV_MSR_APIC_FREQUENCY, &af);
    CHECK(!f2 && af != 0, "APIC_FREQUENCY non-zero (%lu Hz, fault 0x%x)", af, f2);
    expect_wr_gp(HV_MSR_TSC_FREQUENCY, 1000, "TSC_FREQUENCY is read-only");
    expect_wr_gp(HV_MSR_APIC_FREQUENCY, 1000, "APIC_FREQUENCY is read-only");

    uint64_t rt, ref;
    f1 = hvt_rdmsr_safe(HV_MSR_VP_RUNTIME, &rt);
    f2 = hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &ref);
    CHECK(!f1 && !f2 && rt <= ref, "VP_RUNTIME %lu <= TIME_REF_COUNT %lu (faults 0x%x/0x%x)", rt, ref, f1, f2);
    expect_wr_gp(HV_MSR_VP_RUNTIME, 0, "VP_RUNTIME is read-only");
}

static void t_synic_msrs(void *arg)
{
    (void)arg;
    uint64_t v;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_SVERSION, &v);
    CHECK(!f && v == HV_SVERSION_VALUE, "SVERSION == 1 (0x%lx, fault 0x%x)", v, f);
    expect_wr_gp(HV_MSR_SVERSION, 2, "SVERSION is read-only");
    f = hvt_wrmsr_safe(HV_MSR_EOM, 0);
    CHECK(f == 0, "EOM write with nothing pending does not fault (fault 0x%x)", f);
    f = hvt_rdmsr_safe(HV_MSR_EOM, &v);
    CHECK(!f && v == 0, "EOM reads 0 (0x%lx, fault 0x%x)", v, f);
    /* SINT: vector + unmask + AutoEOI round trip, then back to the reset value. */
    uint64_t sint = 0x51 | HV_SINT_AUTO_EOI;
    f = hvt_wrmsr_safe(HV_MSR_SINT(3), sint);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_SINT(3), &v);
    CHECK(!f && !g && v == sint, "SINT3 write/read back 0x%lx (0x%lx)", sint, v);
    hvt_wrmsr_safe(HV_MSR_SINT(3), HV_SINT_RESET_VALUE);
    /* Per-VP scope: SCONTROL enable round trip. */
    f = hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    g = hvt_rdmsr_safe(HV_MSR_SCONTROL, &v);
    CHECK(!f && !g && (v & HV_SCONTROL_ENABLE), "SCONTROL enable reads back (0x%lx)", v);
}

static void t_reserved_and_unknown(void *arg)
{
    (void)arg;
    uint64_t v;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_UNKNOWN, &v);
    CHECK(f == HVT_GP0, "read of unknown synthetic MSR 0x%x raises #GP(0) (fault 0x%x)", HV_MSR_UNKNOWN, f);
    f = hvt_wrmsr_safe(HV_MSR_UNKNOWN, 0);
    CHECK(f == HVT_GP0, "write of unknown synthetic MSR 0x%x raises #GP(0) (fault 0x%x)", HV_MSR_UNKNOWN, f);

    if (f3.eax & HV_ACCESS_REENLIGHTENMENT) {
        uint64_t good = (uint64_t)0x40; /* vector 0x40, not enabled, target VP 0 */
        f = hvt_wrmsr_safe(HV_MSR_REENLIGHTENMENT_CONTROL, good);
        uint32_t g = hvt_rdmsr_safe(HV_MSR_REENLIGHTENMENT_CONTROL, &v);
        CHECK(!f && !g && v == good, "REENLIGHTENMENT_CONTROL valid write reads back (0x%lx, faults 0x%x/0x%x)", v,
              f, g);
        expect_wr_gp(HV_MSR_REENLIGHTENMENT_CONTROL, good | ((uint64_t)1 << 8), "REENLIGHTENMENT_CONTROL bit 8 (RsvdZ 15:8)");
        expect_wr_gp(HV_MSR_REENLIGHTENMENT_CONTROL, good | ((uint64_t)1 << 15), "REENLIGHTENMENT_CONTROL bit 15 (RsvdZ 15:8)");
        expect_wr_gp(HV_MSR_REENLIGHTENMENT_CONTROL, good | ((uint64_t)1 << 17), "REENLIGHTENMENT_CONTROL bit 17 (RsvdZ 31:17)");
        uint32_t vps = cpuid(HV_CPUID_LIMITS, 0).eax; /* hvsim: the partition's VP count (1.7) */
        f = hvt_wrmsr_safe(HV_MSR_REENLIGHTENMENT_CONTROL, good | ((uint64_t)(vps - 1) << 32));
        CHECK(vps >= 1 && !f, "REENLIGHTENMENT_CONTROL target VP %u (the last VP) accepted (fault 0x%x)", vps - 1, f);
        expect_wr_gp(HV_MSR_REENLIGHTENMENT_CONTROL, good | ((uint64_t)vps << 32),
                     "REENLIGHTENMENT_CONTROL target VP = VP count");
        hvt_wrmsr_safe(HV_MSR_REENLIGHTENMENT_CONTROL, 0);
    } else {
        f = hvt_rdmsr_safe(HV_MSR_REENLIGHTENMENT_CONTROL, &v);
        CHECK(f == HVT_GP0, "REENLIGHTENMENT_CONTROL not advertised (3A b13): access #GPs (fault 0x%x)", f);
    }

    /* STIMER CONFIG RsvdZ bits 15:13 and 63:20 (2.7). */
    hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    expect_wr_gp(HV_MSR_STIMER_CONFIG(0), HV_STIMER_SINT(2) | ((uint64_t)1 << 13), "STIMER0_CONFIG bit 13 (RsvdZ)");
    expect_wr_gp(HV_MSR_STIMER_CONFIG(0), HV_STIMER_SINT(2) | ((uint64_t)1 << 20), "STIMER0_CONFIG bit 20 (RsvdZ)");
    if (f3.eax & HV_ACCESS_APIC_MSRS) {
        f = hvt_rdmsr_safe(HV_MSR_EOI, &v);
        CHECK(f == HVT_GP0, "EOI MSR 0x40000070 is write-only: read #GPs (fault 0x%x)", f);
    }
}

static void t_crash(void *arg)
{
    (void)arg;
    uint64_t v;
    if (!(f3.edx & HV_FEAT_CRASH_MSRS))
        NOTE("crash MSRs not advertised (3D b10); expecting them anyway (hv-passthrough)");
    uint32_t f = hvt_rdmsr_safe(HV_MSR_CRASH_CTL, &v);
    CHECK(!f && (v & HV_CRASH_CTL_NOTIFY), "CRASH_CTL reads capabilities with CrashNotify (bit 63) (0x%lx, fault 0x%x)",
          v, f);
    CHECK(!f && (v & (((uint64_t)1 << 58) - 1)) == 0, "CRASH_CTL capability bits 57:0 reserved (0x%lx)", v);
    for (unsigned n = 0; n < 5; n++) {
        uint64_t w = (uint64_t)0xC0DE000000000000 | n;
        f = hvt_wrmsr_safe(HV_MSR_CRASH_P0 + n, w);
        uint32_t g = hvt_rdmsr_safe(HV_MSR_CRASH_P0 + n, &v);
        CHECK(!f && !g && v == w, "CRASH_P%u write/read back (0x%lx)", n, v);
        hvt_wrmsr_safe(HV_MSR_CRASH_P0 + n, 0);
    }
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_msrs", vp);
    if (vp != 0)
        hvt_ap_main();
    f3 = hvt_hv_features();
    hvt_run("reset values", t_reset_values, 0);
    hvt_run("GUEST_OS_ID", t_guest_os_id, 0);
    hvt_run("VP_INDEX", t_vp_index, 0);
    hvt_run("HYPERCALL", t_hypercall_msr, 0);
    hvt_run("overlay GPA outside RAM", t_gpa_outside_ram, 0);
    hvt_run("time MSRs", t_time_msrs, 0);
    hvt_run("SynIC MSRs", t_synic_msrs, 0);
    hvt_run("reserved bits and unknown MSRs", t_reserved_and_unknown, 0);
    hvt_run("crash MSRs", t_crash, 0);
    hvt_run("HYPERCALL lock", t_hypercall_lock, 0);
    return hvt_finish();
}
