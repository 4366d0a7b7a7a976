/* hv_reset.elf - partition reset through HV_X64_MSR_RESET (PROTOCOL 2.1, 1.2 b7).
 *
 * Checks CPUID 0x40000003 EAX b7 (AccessResetReg), that RESET reads 0, and that writing 0 (b0
 * clear) does not reset (execution continues, RESET still reads 0). Then it writes b0 = 1: the
 * run must end right there with the reset verdict (process status 0, summary verdict=reset). If
 * execution continues past the write the guest prints "reset ignored" and exits 1; a failed
 * pre-check exits 1 without the write. Pass condition: status 0 with verdict=reset on the summary
 * line (a plain exit(0) is impossible: every path that returns exits 1). Run:
 *   hvsim run --guest hv_reset.elf --hv hv-passthrough
 */
#include "hv_test.h"

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_reset", vp);
    if (vp != 0)
        hvt_ap_main();

    struct cpuid_regs f = hvt_hv_features();
    CHECK(f.eax & HV_ACCESS_RESET, "CPUID 0x40000003 EAX b7 (AccessResetReg) advertised (eax 0x%x)", f.eax);
    uint64_t v = ~0ull;
    uint32_t fault = hvt_rdmsr_safe(HV_MSR_RESET, &v);
    CHECK(!fault && v == 0, "RESET reads 0 (0x%lx, fault 0x%x)", v, fault);
    fault = hvt_wrmsr_safe(HV_MSR_RESET, 0);
    v = ~0ull;
    uint32_t f2 = hvt_rdmsr_safe(HV_MSR_RESET, &v);
    CHECK(!fault && !f2 && v == 0, "writing 0 to RESET does not reset and it still reads 0 (0x%lx, faults 0x%x 0x%x)",
          v, fault, f2);

    if (hvt_finish() != 0) {
        printf("FAIL pre-checks failed: reset not attempted\n");
        return 1;
    }
    printf("# writing RESET = 1: the run must end with verdict=reset (status 0)\n");
    fault = hvt_wrmsr_safe(HV_MSR_RESET, 1);
    hvt_delay_us(100);
    printf("FAIL reset ignored (RESET write fault 0x%x)\n", fault);
    return 1;
}
