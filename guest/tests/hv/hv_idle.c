/* hv_idle.elf - HV_X64_MSR_GUEST_IDLE (PROTOCOL 2.1): a read idles the VP until an interrupt is
 * pending, even with RFLAGS.IF = 0, and execution then continues after the RDMSR.
 *
 * VP 1 disables interrupts, reads TIME_REF_COUNT (t0), announces itself and reads GUEST_IDLE.
 * VP 0 waits for the announcement, busy-waits DELAY_US more, reads TIME_REF_COUNT (ts) and sends
 * VP 1 a fixed IPI (x2APIC ICR, vector 0x70). VP 1 must resume after the RDMSR with IF still 0
 * and the vector not yet taken, at t1 (TIME_REF_COUNT right after the RDMSR) with
 * t1 >= ts (it slept until the IPI; TIME_REF_COUNT is monotonic across VPs), t1 - t0 >= the delay
 * and t1 - ts <= SLACK ticks (woken promptly). Then VP 1 enables interrupts and must take vector
 * 0x70 exactly once. A second round sends the IPI while VP 1 is already idle for a longer delay,
 * checking the wake-up time scales with VP 0's delay. Run:
 *   hvsim run --guest hv_idle.elf --hv hv-passthrough --vcpus 2
 */
#include "hv_test.h"

#define MSR_GUEST_IDLE 0x400000F0u
#define MSR_X2APIC_ICR 0x830u
#define IPI_VEC 0x70u
#define SLACK 50u /* ticks (5 us): the IPI send, the wake-up and a few instructions */

struct idle_rec {
    volatile uint32_t announced, resumed;
    volatile uint64_t t0, t1, rflags;
    volatile uint32_t fault, count_after_rdmsr, count_before, count_end;
};
static struct idle_rec rec;

static void vp1_idle(void *arg)
{
    (void)arg;
    cli();
    rec.count_before = hvt_irq[1].count[IPI_VEC];
    uint64_t t0 = hvt_ref_now(), v;
    rec.t0 = t0;
    __asm__ volatile("mfence" ::: "memory");
    rec.announced = 1;
    uint32_t f = hvt_rdmsr_safe(MSR_GUEST_IDLE, &v);
    uint64_t t1 = hvt_ref_now();
    rec.t1 = t1;
    rec.rflags = read_rflags();
    rec.fault = f;
    rec.count_after_rdmsr = hvt_irq[1].count[IPI_VEC];
    __asm__ volatile("mfence" ::: "memory");
    rec.resumed = 1;
    HVT_WAIT(hvt_irq[1].count[IPI_VEC] != rec.count_before, 1000); /* sti: take the pending vector */
    hvt_delay_us(20);                                                 /* and nothing more arrives */
    rec.count_end = hvt_irq[1].count[IPI_VEC];
}

static void round(unsigned n, uint64_t delay_us)
{
    rec = (struct idle_rec){0};
    __asm__ volatile("mfence" ::: "memory");
    hvt_start_on_vp(1, vp1_idle, 0);
    int ann = HVT_WAIT(rec.announced, 100000);
    CHECK(ann, "round %u: vp1 reached GUEST_IDLE", n);
    if (!ann)
        return;
    hvt_delay_us(delay_us);
    int early = rec.resumed;
    uint64_t ts = hvt_ref_now();
    uint32_t f = hvt_wrmsr_safe(MSR_X2APIC_ICR, ((uint64_t)1 << 32) | IPI_VEC);
    CHECK(!early, "round %u: vp1 still idle after %lu us with IF = 0 and nothing pending", n, delay_us);
    CHECK(!f, "round %u: fixed IPI vector 0x%x to VP 1 sent (fault 0x%x)", n, IPI_VEC, f);
    int res = HVT_WAIT(rec.resumed, 10000);
    CHECK(res, "round %u: vp1 resumed after the RDMSR of GUEST_IDLE once the IPI was pending", n);
    if (!res) {
        NOTE("vp1 never left GUEST_IDLE: remaining checks of this round skipped");
        return;
    }
    CHECK(rec.fault == 0, "round %u: RDMSR GUEST_IDLE raised no fault (0x%x)", n, rec.fault);
    CHECK(!(rec.rflags & (1u << 9)) && rec.count_after_rdmsr == rec.count_before,
          "round %u: resumed with IF = 0 and the vector not yet taken (rflags 0x%lx, count %u -> %u)", n, rec.rflags,
          rec.count_before, rec.count_after_rdmsr);
    uint64_t slept = rec.t1 - rec.t0;
    CHECK(rec.t1 >= ts && slept >= delay_us * 10 && rec.t1 - ts <= SLACK,
          "round %u: TIME_REF_COUNT advanced %lu ticks in the RDMSR (>= %lu), woke %ld ticks after the IPI (<= %u)", n, slept,
          delay_us * 10, (long)(rec.t1 - ts), SLACK);
    int ended = hvt_wait_vp(1, 10000);
    CHECK(ended && rec.count_end == rec.count_before + 1,
          "round %u: after STI vp1 took vector 0x%x exactly once (%u -> %u)", n, IPI_VEC, rec.count_before, rec.count_end);
}

static void noop(void *arg) { (void)arg; }

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    hvt_init("hv_idle", vp);
    if (vp != 0)
        hvt_ap_main();
    if (bi->vcpu_count < 2) {
        CHECK(0, "needs --vcpus 2");
        return hvt_finish();
    }
    struct cpuid_regs f = hvt_hv_features();
    NOTE("0x40000003 EAX b10 (AccessGuestIdleReg) %s, EDX b5 %s, 0x40000004 EAX b10 %s", (f.eax & HV_ACCESS_GUEST_IDLE) ? "set" : "clear",
         (f.edx & (1u << 5)) ? "set" : "clear", (cpuid(HV_CPUID_ENLIGHTENMENT, 0).eax & (1u << 10)) ? "set" : "clear");
    hvt_on_vp(1, noop, 0, 100000); /* VP 1 is serving requests before the first hvt_start_on_vp */
    round(1, 200);
    round(2, 1000);
    CHECK(hvt_irq[0].count[IPI_VEC] == 0, "VP 0 never received vector 0x%x (%u)", IPI_VEC, hvt_irq[0].count[IPI_VEC]);
    return hvt_finish();
}
