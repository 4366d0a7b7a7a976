/* hv_crash.elf - guest crash notification through the crash MSRs (PROTOCOL 2.1, 2.8).
 *
 * Checks first that CRASH_CTL reads back the capabilities (b63 CrashNotify and b62 CrashMessage,
 * both used below) and that CRASH_P0..P4 hold what is written. Then it writes distinct values to
 * P0..P2, a message buffer's GPA to P3 and its length to P4, and CRASH_CTL = CrashNotify |
 * CrashMessage. The hypervisor must end the run right there with the crash verdict (status 3,
 * the report naming P0-P4 and the message). If execution continues past the write, the guest
 * prints "crash notification ignored" and exits 1; a failed pre-check exits 1 without the write.
 * Pass condition: exit status 3. Built three times (CRASH_VARIANT):
 *   hv_crash       the message "hv_crash: deliberate crash notification from the conformance guest";
 *   hv_crash_long  P4 = 5000 (over the 4096-byte limit of 2.8) for a 5000-byte buffer of 'a'..'z'
 *                  repeated, no NUL: hvsim reports the first 4096 bytes;
 *   hv_crash_far   P3 = 2^45 (outside RAM), P4 = 64: hvsim reports no message.
 * Cli.HyperVCrashNotificationAndResetAreVerdicts checks the reported text of each. Run:
 *   hvsim run --guest hv_crash.elf --hv hv-passthrough
 */
#include "hv_test.h"

#define HV_CRASH_CTL_MESSAGE ((uint64_t)1 << 62)

static const uint64_t params[5] = {0x1111111111111111ull, 0x2222222222222222ull, 0x3333333333333333ull, 0, 0};
#ifndef CRASH_VARIANT
#define CRASH_VARIANT 0
#endif
#define LONG_MESSAGE_BYTES 5000u
#define FAR_GPA ((uint64_t)1 << 45)

static char msg[] = "hv_crash: deliberate crash notification from the conformance guest";
static char long_msg[LONG_MESSAGE_BYTES];

/* P3 (message GPA) and P4 (length) of this variant. */
static void message_params(uint64_t *gpa, uint64_t *len)
{
    if (CRASH_VARIANT == 1) {
        for (unsigned i = 0; i < LONG_MESSAGE_BYTES; i++)
            long_msg[i] = (char)('a' + i % 26);
        *gpa = (uint64_t)(uintptr_t)long_msg;
        *len = LONG_MESSAGE_BYTES;
    } else if (CRASH_VARIANT == 2) {
        *gpa = FAR_GPA;
        *len = 64;
    } else {
        *gpa = (uint64_t)(uintptr_t)msg;
        *len = sizeof(msg) - 1;
    }
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_crash", vp);
    if (vp != 0)
        hvt_ap_main();

    struct cpuid_regs f = hvt_hv_features();
    CHECK(f.edx & HV_FEAT_CRASH_MSRS, "CPUID 0x40000003 EDX b10 (crash MSRs) advertised (edx 0x%x)", f.edx);
    uint64_t ctl = 0;
    uint32_t fault = hvt_rdmsr_safe(HV_MSR_CRASH_CTL, &ctl);
    CHECK(!fault && (ctl & HV_CRASH_CTL_NOTIFY) && (ctl & HV_CRASH_CTL_MESSAGE),
          "CRASH_CTL reads the capabilities CrashNotify|CrashMessage (0x%lx, fault 0x%x)", ctl, fault);

    uint64_t p[5] = {params[0], params[1], params[2], 0, 0};
    message_params(&p[3], &p[4]);
    uint32_t wf = 0;
    for (unsigned i = 0; i < 5; i++)
        wf |= hvt_wrmsr_safe(HV_MSR_CRASH_P0 + i, p[i]);
    unsigned bad = 0;
    for (unsigned i = 0; i < 5; i++)
        bad += hvt_rdmsr_or(HV_MSR_CRASH_P0 + i, ~p[i]) != p[i];
    CHECK(!wf && bad == 0, "CRASH_P0..P4 read back P0-P2 = 0x1111.., 0x2222.., 0x3333.., P3 = GPA 0x%lx, P4 = %lu "
          "(%u differ, faults 0x%x)", p[3], p[4], bad, wf);

    int pre = hvt_finish();
    if (pre != 0) {
        printf("FAIL pre-checks failed: crash notification not attempted\n");
        return 1;
    }
    printf("# writing CRASH_CTL = CrashNotify|CrashMessage: the run must end with the crash verdict (status 3)\n");
    fault = hvt_wrmsr_safe(HV_MSR_CRASH_CTL, HV_CRASH_CTL_NOTIFY | HV_CRASH_CTL_MESSAGE);
    hvt_delay_us(100);
    printf("FAIL crash notification ignored (CRASH_CTL write fault 0x%x)\n", fault);
    return 1;
}
