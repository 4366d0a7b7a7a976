/* hv_none.elf - a run with the Hyper-V interface removed (--hv none; guest contract 6b, 8).
 *
 * CPUID.1:ECX b31 (hypervisor present) stays set (hvsim is still a hypervisor), but leaf
 * 0x40000001 must not carry the "Hv#1" interface signature (PROTOCOL 1.1: a guest checks that,
 * not the vendor string), so a Hyper-V guest must not use any enlightenment. Every synthetic MSR
 * tried (GUEST_OS_ID, HYPERCALL, VP_INDEX, TIME_REF_COUNT, SCONTROL) raises #GP(0) on RDMSR and
 * on WRMSR (guest contract 8: unimplemented MSRs #GP), and inline VMCALL and VMMCALL raise #UD
 * (no hypercall interface; the CPU has no VMX/SVM). Run:
 *   hvsim run --guest hv_none.elf --hv none
 */
#include "hv_test.h"

static void cpuid_checks(void *arg)
{
    (void)arg;
    struct cpuid_regs l1 = cpuid(1, 0);
    CHECK(l1.ecx & (1u << 31), "CPUID.1:ECX b31 hypervisor present still set (ecx 0x%x)", l1.ecx);
    struct cpuid_regs v = cpuid(HV_CPUID_VENDOR, 0);
    NOTE("leaf 0x40000000: eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x", v.eax, v.ebx, v.ecx, v.edx);
    struct cpuid_regs i = cpuid(HV_CPUID_INTERFACE, 0);
    CHECK(i.eax != HV_SIGNATURE_HV1, "CPUID 0x40000001 EAX is not \"Hv#1\" (0x%x)", i.eax);
    int ms = v.ebx == HV_VENDOR_EBX && v.ecx == HV_VENDOR_ECX && v.edx == HV_VENDOR_EDX;
    CHECK(!ms || v.eax < HV_CPUID_INTERFACE, "leaf 0x40000000 does not present Microsoft Hv with interface leaves (max 0x%x)",
          v.eax);
}

static const uint32_t msrs[] = {HV_MSR_GUEST_OS_ID, HV_MSR_HYPERCALL, HV_MSR_VP_INDEX, HV_MSR_TIME_REF_COUNT,
                                HV_MSR_SCONTROL};

static void msr_checks(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < sizeof(msrs) / sizeof(msrs[0]); k++) {
        uint64_t v = 0;
        uint32_t fr = hvt_rdmsr_safe(msrs[k], &v);
        CHECK(fr == HVT_GP0, "RDMSR 0x%x raises #GP(0) (fault 0x%x, value 0x%lx)", msrs[k], fr, v);
        /* A harmless value (0; GUEST_OS_ID gets an ordinary id) in case the write is accepted. */
        uint64_t w = msrs[k] == HV_MSR_GUEST_OS_ID ? HVT_GUEST_OS_ID : 0;
        uint32_t fw = hvt_wrmsr_safe(msrs[k], w);
        CHECK(fw == HVT_GP0, "WRMSR 0x%x = 0x%lx raises #GP(0) (fault 0x%x)", msrs[k], w, fw);
    }
}

static void hypercall_checks(void *arg)
{
    (void)arg;
    uint64_t r = 0;
    uint32_t f = hvt_hypercall_inline_safe(1, HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, 0, &r);
    CHECK(f == HVT_UD, "inline VMMCALL raises #UD (fault 0x%x, rax 0x%lx)", f, r);
    r = 0;
    f = hvt_hypercall_inline_safe(0, HVCALL_NOTIFY_LONG_SPIN_WAIT, 0, 0, &r);
    CHECK(f == HVT_UD, "inline VMCALL raises #UD (fault 0x%x, rax 0x%lx)", f, r);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_none", vp);
    if (vp != 0)
        hvt_ap_main();
    hvt_run("cpuid", cpuid_checks, 0);
    hvt_run("msrs", msr_checks, 0);
    hvt_run("hypercalls", hypercall_checks, 0);
    return hvt_finish();
}
