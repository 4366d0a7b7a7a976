/* hv_cpuid.elf - Hyper-V CPUID discovery (PROTOCOL section 1).
 *
 * Checks the hypervisor-present bit, leaf 0x40000000 (max leaf >= 0x40000005, vendor
 * "Microsoft Hv"), leaf 0x40000001 ("Hv#1"), the feature bits that `--hv hv-passthrough` must
 * expose (1.8), the dependency rules between them (1.8), and that every MSR family a feature
 * bit advertises can be read without #GP (2 general rule). Run:
 *   hvsim run --guest hv_cpuid.elf --hv hv-passthrough
 */
#include "hv_test.h"

struct expect_bit {
    const char *what;
    int reg; /* 0 = EAX, 1 = EBX, 3 = EDX of leaf 0x40000003; 4 = EAX of 0x40000004 */
    uint32_t bit;
};

/* What hv-passthrough must expose (PROTOCOL 1.8: hv-synic, hv-stimer, hv-vpindex, hv-time,
 * hv-frequencies, hv-crash, hv-stimer-direct; AccessHypercallMsrs is always set). */
static const struct expect_bit passthrough_bits[] = {
    {"AccessPartitionReferenceCounter (3A b1, hv-time)", 0, HV_ACCESS_TIME_REF_COUNT},
    {"AccessSynicRegs (3A b2, hv-synic)", 0, HV_ACCESS_SYNIC},
    {"AccessSyntheticTimerRegs (3A b3, hv-stimer)", 0, HV_ACCESS_STIMER},
    {"AccessHypercallMsrs (3A b5)", 0, HV_ACCESS_HYPERCALL_MSRS},
    {"AccessVpIndex (3A b6, hv-vpindex)", 0, HV_ACCESS_VP_INDEX},
    {"AccessPartitionReferenceTsc (3A b9, hv-time)", 0, HV_ACCESS_REF_TSC},
    {"AccessFrequencyRegs (3A b11, hv-frequencies)", 0, HV_ACCESS_FREQUENCY},
    {"timer frequencies available (3D b8, hv-frequencies)", 3, HV_FEAT_FREQUENCY_MSRS},
    {"guest crash MSRs available (3D b10, hv-crash)", 3, HV_FEAT_CRASH_MSRS},
    {"direct synthetic timers (3D b19, hv-stimer-direct)", 3, HV_FEAT_STIMER_DIRECT},
};

static struct cpuid_regs f3, f4;

static uint32_t reg_of(int reg)
{
    switch (reg) {
    case 0: return f3.eax;
    case 1: return f3.ebx;
    case 2: return f3.ecx;
    case 3: return f3.edx;
    default: return f4.eax;
    }
}

static void check_leaves(void *arg)
{
    (void)arg;
    struct cpuid_regs l1 = cpuid(1, 0);
    CHECK(l1.ecx & (1u << 31), "CPUID.1:ECX[31] hypervisor present (ecx=0x%x)", l1.ecx);

    struct cpuid_regs v = cpuid(HV_CPUID_VENDOR, 0);
    CHECK(v.eax >= HV_CPUID_LIMITS && v.eax < 0x40000100u, "0x40000000 EAX max leaf 0x%x >= 0x40000005", v.eax);
    char vendor[13];
    memcpy(vendor, &v.ebx, 4);
    memcpy(vendor + 4, &v.ecx, 4);
    memcpy(vendor + 8, &v.edx, 4);
    vendor[12] = 0;
    CHECK(v.ebx == HV_VENDOR_EBX && v.ecx == HV_VENDOR_ECX && v.edx == HV_VENDOR_EDX,
          "vendor id \"%s\" == \"Microsoft Hv\"", vendor);

    struct cpuid_regs i = cpuid(HV_CPUID_INTERFACE, 0);
    CHECK(i.eax == HV_SIGNATURE_HV1, "0x40000001 EAX interface signature 0x%x == 0x31237648 (\"Hv#1\")", i.eax);

    struct cpuid_regs lim = cpuid(HV_CPUID_LIMITS, 0);
    CHECK(lim.eax == 0 || lim.eax >= hvsim_boot->vcpu_count,
          "0x40000005 EAX max VPs %u is 0 (unknown) or >= vcpu count %u", lim.eax, hvsim_boot->vcpu_count);

    f3 = cpuid(HV_CPUID_FEATURES, 0);
    f4 = cpuid(HV_CPUID_ENLIGHTENMENT, 0);
    NOTE("0x40000003 = eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x; 0x40000004 eax 0x%x ebx 0x%x", f3.eax, f3.ebx, f3.ecx,
         f3.edx, f4.eax, f4.ebx);
}

static void check_passthrough(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < sizeof(passthrough_bits) / sizeof(passthrough_bits[0]); k++) {
        const struct expect_bit *e = &passthrough_bits[k];
        CHECK(reg_of(e->reg) & e->bit, "hv-passthrough exposes %s", e->what);
    }
}

/* Dependency rules of PROTOCOL 1.8 (QEMU enforces them; a consistent CPUID never breaks them). */
static void check_dependencies(void *arg)
{
    (void)arg;
    if (f3.eax & HV_ACCESS_STIMER)
        CHECK((f3.eax & HV_ACCESS_SYNIC) && (f3.eax & HV_ACCESS_TIME_REF_COUNT),
              "STIMER (3A b3) comes with SynIC (3A b2) and time ref count (3A b1)");
    if (f3.eax & HV_ACCESS_SYNIC)
        CHECK(f3.eax & HV_ACCESS_VP_INDEX, "SynIC (3A b2) comes with VP index (3A b6)");
    if (f3.edx & HV_FEAT_STIMER_DIRECT)
        CHECK(f3.eax & HV_ACCESS_STIMER, "direct STIMER (3D b19) comes with STIMER (3A b3)");
    if ((f3.eax & HV_ACCESS_FREQUENCY) || (f3.edx & HV_FEAT_FREQUENCY_MSRS))
        CHECK((f3.eax & HV_ACCESS_FREQUENCY) && (f3.edx & HV_FEAT_FREQUENCY_MSRS),
              "frequency bits 3A b11 and 3D b8 are set together (hv-frequencies)");
    if (f3.eax & HV_ACCESS_REF_TSC)
        CHECK(f3.eax & HV_ACCESS_TIME_REF_COUNT, "reference TSC (3A b9) comes with time ref count (3A b1)");
    if (f3.eax || f3.edx)
        CHECK(f3.eax & HV_ACCESS_HYPERCALL_MSRS, "any enlightenment implies AccessHypercallMsrs (3A b5)");
    CHECK((f3.eax >> 16) == 0, "0x40000003 EAX bits 31:16 are reserved (zero): 0x%x", f3.eax >> 16);
}

struct msr_family {
    const char *what;
    int reg;
    uint32_t bit;
    uint32_t msr;
};

/* An advertised family must be readable: reading a read-write or read-only MSR of it must not #GP. */
static const struct msr_family families[] = {
    {"VP_RUNTIME (3A b0)", 0, HV_ACCESS_VP_RUNTIME, HV_MSR_VP_RUNTIME},
    {"TIME_REF_COUNT (3A b1)", 0, HV_ACCESS_TIME_REF_COUNT, HV_MSR_TIME_REF_COUNT},
    {"SCONTROL (3A b2)", 0, HV_ACCESS_SYNIC, HV_MSR_SCONTROL},
    {"SVERSION (3A b2)", 0, HV_ACCESS_SYNIC, HV_MSR_SVERSION},
    {"SINT15 (3A b2)", 0, HV_ACCESS_SYNIC, HV_MSR_SINT(15)},
    {"STIMER3_COUNT (3A b3)", 0, HV_ACCESS_STIMER, HV_MSR_STIMER_COUNT(3)},
    {"GUEST_OS_ID (3A b5)", 0, HV_ACCESS_HYPERCALL_MSRS, HV_MSR_GUEST_OS_ID},
    {"HYPERCALL (3A b5)", 0, HV_ACCESS_HYPERCALL_MSRS, HV_MSR_HYPERCALL},
    {"VP_INDEX (3A b6)", 0, HV_ACCESS_VP_INDEX, HV_MSR_VP_INDEX},
    {"REFERENCE_TSC (3A b9)", 0, HV_ACCESS_REF_TSC, HV_MSR_REFERENCE_TSC},
    {"TSC_FREQUENCY (3A b11)", 0, HV_ACCESS_FREQUENCY, HV_MSR_TSC_FREQUENCY},
    {"APIC_FREQUENCY (3A b11)", 0, HV_ACCESS_FREQUENCY, HV_MSR_APIC_FREQUENCY},
    {"REENLIGHTENMENT_CONTROL (3A b13)", 0, HV_ACCESS_REENLIGHTENMENT, HV_MSR_REENLIGHTENMENT_CONTROL},
    {"CRASH_P0 (3D b10)", 3, HV_FEAT_CRASH_MSRS, HV_MSR_CRASH_P0},
    {"CRASH_CTL (3D b10)", 3, HV_FEAT_CRASH_MSRS, HV_MSR_CRASH_CTL},
};

static void check_msr_families(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
        const struct msr_family *m = &families[k];
        if (!(reg_of(m->reg) & m->bit))
            continue;
        uint64_t v;
        uint32_t f = hvt_rdmsr_safe(m->msr, &v);
        CHECK(f == 0, "advertised %s (MSR 0x%x) is readable (fault 0x%x)", m->what, m->msr, f);
    }
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_cpuid", vp);
    if (vp != 0)
        hvt_ap_main();
    hvt_run("CPUID leaves", check_leaves, 0);
    hvt_run("hv-passthrough bits", check_passthrough, 0);
    hvt_run("dependency rules", check_dependencies, 0);
    hvt_run("advertised MSR families", check_msr_families, 0);
    return hvt_finish();
}
