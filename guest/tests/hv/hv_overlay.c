/* hv_overlay.elf - overlay pages hide RAM and give it back unchanged (PROTOCOL 2.3, 2.4, 4.1).
 *
 * A RAM page is filled with a pattern; the hypercall page, the reference TSC page, SIMP and SIEFP
 * are enabled over it (reads show the hypervisor's content), then disabled or moved (the pattern
 * is back, byte for byte). Partition-wide overlays (hypercall, reference TSC) are seen by VP 1
 * too; a per-VP overlay (VP 1's SIMP) is seen only by VP 1. The hypercall page is read/execute
 * only (2.3: a guest write raises #GP at the storing instruction and changes nothing); the
 * reference TSC page has no such rule and takes guest writes. SIMP and SIEFP enabled at a GPA
 * outside RAM are accepted without #GP and show nothing; a timer message held meanwhile arrives
 * once SIMP is back in RAM. The VP assist page (2.5): reset 0 on each VP, a zero-filled page over
 * the pattern, RsvdP bits stored, guest stores land in it, a #GP write (outside RAM) changes
 * nothing, per VP (VP 1 sees the RAM under VP 0's page, and its own page at the same GPA), and
 * moving or disabling it gives the pattern back. Hypercall parameter blocks in an overlay page are
 * read and written as the calling VP sees that page (the overlay, not the RAM beneath). Run:
 *   hvsim run --guest hv_overlay.elf --hv hv-passthrough --vcpus 2
 */
#include "hv_test.h"

static uint64_t pattern(uint64_t gpa, unsigned i)
{
    return (gpa + 8 * i) * 0x9E3779B97F4A7C15ull ^ 0xC0FFEE00DEADBEEFull;
}

static void fill(volatile uint64_t *p)
{
    for (unsigned i = 0; i < 512; i++)
        p[i] = pattern((uint64_t)(uintptr_t)p, i);
}

/* Number of qwords that differ from the pattern. */
static unsigned mismatches(volatile uint64_t *p)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 512; i++)
        n += p[i] != pattern((uint64_t)(uintptr_t)p, i);
    return n;
}

static unsigned nonzero(volatile uint64_t *p)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 512; i++)
        n += p[i] != 0;
    return n;
}

static int has_stub(volatile uint8_t *p)
{
    return p[0] == 0x0F && p[1] == 0x01 && (p[2] == 0xC1 || p[2] == 0xD9) && p[3] == 0xC3;
}

static uint64_t gpa_of(volatile void *p) { return (uint64_t)(uintptr_t)p; }

static volatile uint64_t *pg_a, *pg_b;

/* One 8-byte store of v at p (not the first instruction of its block); returns 0 or the fault
 * it raised, and the store instruction's address in *at. */
static uint32_t store_safe(volatile void *p, uint64_t v, uint64_t *at)
{
    uint64_t fault, rip;
    __asm__ volatile("movabs %[magic], %%r9\n\t"
                     "lea 1f(%%rip), %%r10\n\t"
                     "lea 2f(%%rip), %[rip]\n"
                     "2: movq %[v], (%[p])\n\t"
                     "xor %%r9d, %%r9d\n"
                     "1: mov %%r9, %[f]"
                     : [f] "=r"(fault), [rip] "=&r"(rip)
                     : [p] "r"(p), [v] "r"(v), [magic] "i"(HVT_SAFE_MAGIC)
                     : "r9", "r10", "memory");
    *at = rip;
    return (uint32_t)fault;
}

/* VP 1 observations */
static volatile int r_stub;
static volatile uint32_t r_seq;
static volatile unsigned r_mism, r_zero;
static volatile uint32_t r_fault;

static void remote_look(void *arg)
{
    volatile uint64_t *p = arg;
    r_stub = has_stub((volatile uint8_t *)p);
    r_seq = ((volatile struct hv_ref_tsc_page *)p)->sequence;
    r_mism = mismatches(p);
}

static void t_hypercall_overlay(void *arg)
{
    (void)arg;
    uint64_t v;
    fill(pg_a);
    fill(pg_b);
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID);
    uint32_t f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, gpa_of(pg_a) | HV_HYPERCALL_ENABLE);
    CHECK(f == 0 && has_stub((volatile uint8_t *)pg_a), "hypercall page over a RAM pattern shows the stub (fault 0x%x)",
          f);
    if (hvsim_boot->vcpu_count >= 2) {
        int ok = hvt_on_vp(1, remote_look, (void *)pg_a, 20000);
        CHECK(ok && r_stub, "VP 1 sees the partition-wide hypercall page too");
    }
    /* Move it: A gets its RAM back, B shows the stub. */
    f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, gpa_of(pg_b) | HV_HYPERCALL_ENABLE);
    unsigned m = mismatches(pg_a);
    CHECK(f == 0 && m == 0, "moving the hypercall page restores the old page's pattern (%u qwords differ)", m);
    CHECK(has_stub((volatile uint8_t *)pg_b), "moved hypercall page shows the stub at the new GPA");
    /* Disable: B gets its RAM back. */
    f = hvt_wrmsr_safe(HV_MSR_HYPERCALL, gpa_of(pg_b));
    hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v);
    m = mismatches(pg_b);
    CHECK(f == 0 && !(v & HV_HYPERCALL_ENABLE) && m == 0,
          "disabling the hypercall page restores the pattern (%u qwords differ, MSR 0x%lx)", m, v);
    /* Enable again at A, then disable by GUEST_OS_ID = 0 (2.1). */
    hvt_wrmsr_safe(HV_MSR_HYPERCALL, gpa_of(pg_a) | HV_HYPERCALL_ENABLE);
    hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, 0);
    m = mismatches(pg_a);
    CHECK(m == 0, "GUEST_OS_ID = 0 removes the hypercall overlay (%u qwords differ)", m);
    hvt_wrmsr_safe(HV_MSR_HYPERCALL, 0);
}

static void t_hypercall_page_read_only(void *arg)
{
    (void)arg;
    if (!CHECK(hvt_hypercall_setup(), "hypercall page enabled"))
        return;
    volatile uint8_t *pg = hvt_hypercall_page;
    uint64_t at = 0;
    hvt_safe_fault_rip[0] = 0;
    uint32_t f = store_safe(pg, 0x9090909090909090ull, &at);
    CHECK(f == HVT_GP0, "8-byte store over the hypercall stub raises #GP(0) (fault 0x%x)", f);
    CHECK(hvt_safe_fault_rip[0] == at, "the #GP points at the storing instruction (rip 0x%lx, store at 0x%lx)",
          hvt_safe_fault_rip[0], at);
    CHECK(has_stub(pg), "the stub is unchanged after the refused store");
    f = store_safe(pg + 0xFF8, 0, &at);
    CHECK(f == HVT_GP0 && pg[0xFF8] == 0xCC, "store to the last qword of the page raises #GP(0) (fault 0x%x)", f);
    uint64_t r = hvt_hypercall(0xFFF, 0, 0);
    CHECK(HV_RESULT_STATUS(r) == HV_STATUS_INVALID_HYPERCALL_CODE,
          "the page still executes after the refused stores: unknown call code -> 0x%x", HV_RESULT_STATUS(r));
}

static void t_ref_tsc_overlay(void *arg)
{
    (void)arg;
    fill(pg_a);
    fill(pg_b);
    uint32_t f = hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, gpa_of(pg_a) | HV_PAGE_ENABLE);
    volatile struct hv_ref_tsc_page *t = (volatile void *)pg_a;
    unsigned m = mismatches(pg_a);
    CHECK(f == 0 && t->sequence != 0 && t->scale != 0,
          "reference TSC page over a RAM pattern shows the hypervisor's page (seq %u scale 0x%lx, fault 0x%x)",
          t->sequence, t->scale, f);
    CHECK(m >= 500, "reference TSC overlay hides the RAM pattern (only %u of 512 qwords differ)", m);
    if (hvsim_boot->vcpu_count >= 2) {
        int ok = hvt_on_vp(1, remote_look, (void *)pg_a, 20000);
        CHECK(ok && r_seq == t->sequence, "VP 1 sees the same reference TSC page (seq %u vs %u)", r_seq, t->sequence);
    }
    f = hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, gpa_of(pg_b) | HV_PAGE_ENABLE);
    m = mismatches(pg_a);
    CHECK(f == 0 && m == 0, "moving the reference TSC page restores the old page (%u qwords differ)", m);
    hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, 0);
    m = mismatches(pg_b);
    CHECK(m == 0, "disabling the reference TSC page restores the pattern (%u qwords differ)", m);
    hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, gpa_of(pg_a) | HV_PAGE_ENABLE);
    uint64_t at;
    f = store_safe(&pg_a[256], 0x1234, &at);
    CHECK(f == 0 && pg_a[256] == 0x1234, "a guest store to the reference TSC page's reserved area lands (fault 0x%x)", f);
    hvt_wrmsr_safe(HV_MSR_REFERENCE_TSC, 0);
}

static void t_synic_overlay(void *arg)
{
    (void)arg;
    fill(pg_a);
    fill(pg_b);
    hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    uint32_t f = hvt_wrmsr_safe(HV_MSR_SIMP, gpa_of(pg_a) | HV_PAGE_ENABLE);
    uint32_t g = hvt_wrmsr_safe(HV_MSR_SIEFP, gpa_of(pg_b) | HV_PAGE_ENABLE);
    unsigned za = nonzero(pg_a), zb = nonzero(pg_b);
    CHECK(f == 0 && za == 0, "SIMP overlay shows an empty (all-zero) message page (%u non-zero qwords, fault 0x%x)", za,
          f);
    CHECK(g == 0 && zb == 0, "SIEFP overlay shows an empty (all-zero) event-flag page (%u non-zero qwords, fault 0x%x)",
          zb, g);
    /* The guest writes to its message page (it clears message_type); that must not reach RAM. */
    ((struct hv_message *)pg_a)[3].type = HVMSG_NONE;
    ((volatile uint8_t *)pg_b)[7 * 256 + 5] = 0; /* clearing an event flag byte */
    hvt_wrmsr_safe(HV_MSR_SIMP, gpa_of(pg_a));
    hvt_wrmsr_safe(HV_MSR_SIEFP, gpa_of(pg_b));
    unsigned ma = mismatches(pg_a), mb = mismatches(pg_b);
    CHECK(ma == 0, "disabling SIMP restores the RAM pattern unchanged (%u qwords differ)", ma);
    CHECK(mb == 0, "disabling SIEFP restores the RAM pattern unchanged (%u qwords differ)", mb);
}

/* SIMP / SIEFP enabled at a GPA beyond RAM (2^45): accepted without #GP and stored, the page they
 * left shows its RAM again, and nothing is shown anywhere (4.1 rules allow no #GP here; the TLFS
 * only makes the page inaccessible). A timer expiry for a SINT while the message page is
 * inaccessible is not delivered (no message can be written, so no interrupt) and stays pending:
 * moving SIMP back into RAM delivers it (2.7: an undeliverable timer message stays pending). */
#define FAR_GPA ((uint64_t)1 << 45)
#define OUTSIDE_SINT 2u
#define OUTSIDE_VECTOR 0x58u

static void t_synic_outside_ram(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    fill(pg_a);
    fill(pg_b);
    hvt_wrmsr_safe(HV_MSR_SIMP, gpa_of(pg_a) | HV_PAGE_ENABLE);
    hvt_wrmsr_safe(HV_MSR_SIEFP, gpa_of(pg_b) | HV_PAGE_ENABLE);
    uint32_t f = hvt_wrmsr_safe(HV_MSR_SIMP, FAR_GPA | HV_PAGE_ENABLE);
    uint32_t g = hvt_rdmsr_safe(HV_MSR_SIMP, &v);
    CHECK(f == 0 && g == 0 && v == (FAR_GPA | HV_PAGE_ENABLE),
          "SIMP enabled at GPA 0x%lx outside RAM: no #GP, reads back 0x%lx (faults 0x%x/0x%x)", FAR_GPA, v, f, g);
    unsigned m = mismatches(pg_a);
    CHECK(m == 0, "SIMP moved outside RAM: its old page shows the RAM pattern again (%u qwords differ)", m);
    f = hvt_wrmsr_safe(HV_MSR_SIEFP, FAR_GPA | HV_PAGE_ENABLE);
    g = hvt_rdmsr_safe(HV_MSR_SIEFP, &v);
    CHECK(f == 0 && g == 0 && v == (FAR_GPA | HV_PAGE_ENABLE),
          "SIEFP enabled at GPA 0x%lx outside RAM: no #GP, reads back 0x%lx (faults 0x%x/0x%x)", FAR_GPA, v, f, g);
    m = mismatches(pg_b);
    CHECK(m == 0, "SIEFP moved outside RAM: its old page shows the RAM pattern again (%u qwords differ)", m);

    /* A STIMER0 expiry (COUNT in the past) for SINT2 while SIMP is outside RAM. */
    volatile uint32_t *cnt = &hvt_irq[0].count[OUTSIDE_VECTOR];
    uint32_t before = *cnt;
    f = hvt_wrmsr_safe(HV_MSR_SINT(OUTSIDE_SINT), OUTSIDE_VECTOR);
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(0), HV_STIMER_ENABLE | HV_STIMER_SINT(OUTSIDE_SINT));
    f |= hvt_wrmsr_safe(HV_MSR_STIMER_COUNT(0), 1);
    int got = HVT_WAIT(*cnt != before, 500);
    uint64_t config = hvt_rdmsr_or(HV_MSR_STIMER_CONFIG(0), 0);
    CHECK(f == 0 && !got, "SIMP outside RAM: a due STIMER0 message for sint%u raises no interrupt (count %u -> %u, faults 0x%x)",
          OUTSIDE_SINT, before, *cnt, f);
    CHECK(config & HV_STIMER_ENABLE, "SIMP outside RAM: the undelivered one-shot keeps Enable (CONFIG 0x%lx)", config);
    m = mismatches(pg_a);
    CHECK(m == 0, "SIMP outside RAM: nothing was written to the page SIMP left (%u qwords differ)", m);

    f = hvt_wrmsr_safe(HV_MSR_SIMP, gpa_of(pg_a) | HV_PAGE_ENABLE);
    got = HVT_WAIT(*cnt != before, 1000);
    volatile struct hv_message *slot = (volatile struct hv_message *)pg_a + OUTSIDE_SINT;
    uint32_t type = slot->type;
    CHECK(f == 0 && got && *cnt == before + 1 && type == HVMSG_TIMER_EXPIRED,
          "SIMP moved back into RAM: the held timer message (type 0x%x) arrives with one interrupt (count %u -> %u)", type,
          before, *cnt);
    hvt_msg_consume((struct hv_message *)slot);
    hvt_wrmsr_safe(HV_MSR_STIMER_CONFIG(0), 0);
    hvt_wrmsr_safe(HV_MSR_SINT(OUTSIDE_SINT), HV_SINT_RESET_VALUE);
    hvt_wrmsr_safe(HV_MSR_SIMP, 0);
    hvt_wrmsr_safe(HV_MSR_SIEFP, 0);
    m = mismatches(pg_a) + mismatches(pg_b);
    CHECK(m == 0, "SIMP/SIEFP disabled after the outside-RAM round trip: both RAM patterns unchanged (%u qwords differ)", m);
}

static void remote_simp_on(void *arg)
{
    volatile uint64_t *p = arg;
    hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    r_fault = hvt_wrmsr_safe(HV_MSR_SIMP, gpa_of(p) | HV_PAGE_ENABLE);
    r_zero = nonzero(p);
    r_mism = mismatches(p);
}

static void remote_simp_off(void *arg)
{
    volatile uint64_t *p = arg;
    r_fault = hvt_wrmsr_safe(HV_MSR_SIMP, 0);
    r_mism = mismatches(p);
}

static void t_per_vp_overlay(void *arg)
{
    (void)arg;
    if (hvsim_boot->vcpu_count < 2) {
        NOTE("single vCPU: per-VP overlay checks skipped (run with --vcpus 2)");
        return;
    }
    hvt_wrmsr_safe(HV_MSR_SIMP, 0);
    fill(pg_a);
    int ok = hvt_on_vp(1, remote_simp_on, (void *)pg_a, 20000);
    CHECK(ok && r_fault == 0 && r_zero == 0, "VP 1 enables its SIMP over the page and sees the message page (%u non-zero)",
          r_zero);
    unsigned m = mismatches(pg_a);
    CHECK(m == 0, "VP 0 still sees the RAM pattern under VP 1's SIMP (%u qwords differ)", m);
    ok = hvt_on_vp(1, remote_simp_off, (void *)pg_a, 20000);
    CHECK(ok && r_mism == 0, "VP 1 sees the RAM pattern again after disabling its SIMP (%u differ)", r_mism);
}

/* VP_ASSIST_PAGE (2.1, 2.5): V, RW, reset 0; b0 Enable, [11:1] RsvdP, [63:12] GPA. hvsim stores the
 * written value (RsvdP bits included), shows a zero-filled page on every enabling write (as KVM
 * clears it), never writes the page itself (2.5: apic_assist may stay 0), and keeps it per VP. */
#define ASSIST_RSVDP ((uint64_t)0xFFE)
#define ASSIST_MARK0 0xA5515700A5515700ull
#define ASSIST_MARK1 0xA5515701A5515701ull
#define ASSIST_MARK_QWORD 5u

static volatile uint64_t r_msr;
static volatile uint64_t r_mark;

static void remote_assist_read(void *arg)
{
    (void)arg;
    r_fault = hvt_rdmsr_safe(HV_MSR_VP_ASSIST_PAGE, (uint64_t *)&r_msr);
}

/* VP 1 looks at the page without touching its own VP_ASSIST_PAGE. */
static void remote_assist_look(void *arg)
{
    volatile uint64_t *p = arg;
    r_mism = mismatches(p);
    r_zero = nonzero(p);
    r_mark = p[ASSIST_MARK_QWORD];
}

static void remote_assist_on(void *arg)
{
    volatile uint64_t *p = arg;
    r_fault = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, gpa_of(p) | HV_PAGE_ENABLE);
    r_zero = nonzero(p);
    r_mism = mismatches(p);
    p[ASSIST_MARK_QWORD] = ASSIST_MARK1;
    r_mark = p[ASSIST_MARK_QWORD];
}

static void remote_assist_off(void *arg)
{
    volatile uint64_t *p = arg;
    r_fault = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, 0);
    r_mism = mismatches(p);
}

static void t_vp_assist(void *arg)
{
    (void)arg;
    uint64_t v = ~0ull;
    int two = hvsim_boot->vcpu_count >= 2;
    uint32_t f = hvt_rdmsr_safe(HV_MSR_VP_ASSIST_PAGE, &v);
    CHECK(f == 0 && v == 0, "VP_ASSIST_PAGE reset value 0 on VP 0 (0x%lx, fault 0x%x)", v, f);
    if (two) {
        int ok = hvt_on_vp(1, remote_assist_read, 0, 20000);
        CHECK(ok && r_fault == 0 && r_msr == 0, "VP_ASSIST_PAGE reset value 0 on VP 1 (0x%lx)", r_msr);
    }
    fill(pg_a);
    fill(pg_b);

    /* Enable over the pattern: a zero-filled page hides it. */
    f = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, gpa_of(pg_a) | HV_PAGE_ENABLE);
    hvt_rdmsr_safe(HV_MSR_VP_ASSIST_PAGE, &v);
    unsigned z = nonzero(pg_a), m = mismatches(pg_a);
    CHECK(f == 0 && v == (gpa_of(pg_a) | HV_PAGE_ENABLE), "VP_ASSIST_PAGE enable reads back 0x%lx (fault 0x%x)", v, f);
    CHECK(z == 0 && m == 512, "VP assist overlay is zero-filled and hides the RAM pattern (%u non-zero, %u of 512 differ)",
          z, m);
    /* RsvdP bits 11:1 (2.1): accepted without #GP; hvsim stores them as written. */
    f = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, gpa_of(pg_a) | ASSIST_RSVDP | HV_PAGE_ENABLE);
    hvt_rdmsr_safe(HV_MSR_VP_ASSIST_PAGE, &v);
    CHECK(f == 0 && v == (gpa_of(pg_a) | ASSIST_RSVDP | HV_PAGE_ENABLE),
          "VP_ASSIST_PAGE RsvdP bits 11:1 accepted and read back as written (0x%lx, fault 0x%x)", v, f);
    z = nonzero(pg_a);
    CHECK(z == 0, "the page stays shown and zero-filled after the RsvdP write (%u non-zero)", z);

    /* The guest writes to its assist page (Linux exchanges apic_assist): it lands in the overlay. */
    pg_a[ASSIST_MARK_QWORD] = ASSIST_MARK0;
    CHECK(pg_a[ASSIST_MARK_QWORD] == ASSIST_MARK0, "a guest store to the VP assist page reads back");
    uint32_t far = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, FAR_GPA | HV_PAGE_ENABLE);
    hvt_rdmsr_safe(HV_MSR_VP_ASSIST_PAGE, &v);
    CHECK(far == HVT_GP0 && v == (gpa_of(pg_a) | ASSIST_RSVDP | HV_PAGE_ENABLE) &&
              pg_a[ASSIST_MARK_QWORD] == ASSIST_MARK0,
          "VP_ASSIST_PAGE enabled outside RAM: #GP (0x%x), MSR (0x%lx), page and its content unchanged (0x%lx)", far, v,
          pg_a[ASSIST_MARK_QWORD]);

    if (two) {
        /* Per VP: VP 1 sees the RAM under VP 0's assist page, then its own page at the same GPA. */
        int ok = hvt_on_vp(1, remote_assist_look, (void *)pg_a, 20000);
        CHECK(ok && r_mism == 0, "VP 1 sees the RAM pattern under VP 0's VP assist page (%u qwords differ)", r_mism);
        ok = hvt_on_vp(1, remote_assist_on, (void *)pg_a, 20000);
        CHECK(ok && r_fault == 0 && r_zero == 0,
              "VP 1 enables its own VP assist page at the same GPA and sees a zero-filled page (%u non-zero, fault 0x%x)",
              r_zero, r_fault);
        CHECK(pg_a[ASSIST_MARK_QWORD] == ASSIST_MARK0,
              "VP 0 still sees its own VP assist page (mark 0x%lx), not VP 1's", pg_a[ASSIST_MARK_QWORD]);
        ok = hvt_on_vp(1, remote_assist_look, (void *)pg_a, 20000);
        CHECK(ok && r_mark == ASSIST_MARK1, "VP 1 sees its own mark 0x%lx, not VP 0's", r_mark);
        ok = hvt_on_vp(1, remote_assist_off, (void *)pg_a, 20000);
        CHECK(ok && r_fault == 0 && r_mism == 0,
              "VP 1 disables its VP assist page and sees the RAM pattern again (%u qwords differ)", r_mism);
    }

    /* Re-enabling at the same GPA shows a zero-filled page again (hvsim clears on every enable). */
    f = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, gpa_of(pg_a) | HV_PAGE_ENABLE);
    z = nonzero(pg_a);
    CHECK(f == 0 && z == 0, "re-enabling VP_ASSIST_PAGE at the same GPA shows a zero-filled page (%u non-zero)", z);
    pg_a[ASSIST_MARK_QWORD] = ASSIST_MARK0;

    /* Move: A shows its RAM byte for byte, B the zero-filled page. */
    f = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, gpa_of(pg_b) | HV_PAGE_ENABLE);
    m = mismatches(pg_a);
    z = nonzero(pg_b);
    CHECK(f == 0 && m == 0, "moving the VP assist page restores the old page's pattern (%u qwords differ)", m);
    CHECK(z == 0 && mismatches(pg_b) == 512, "the moved VP assist page is zero-filled at the new GPA (%u non-zero)", z);
    if (two) {
        int ok = hvt_on_vp(1, remote_assist_look, (void *)pg_b, 20000);
        CHECK(ok && r_mism == 0, "VP 1 sees the RAM pattern under VP 0's moved VP assist page (%u differ)", r_mism);
    }

    /* Disable: B shows its RAM byte for byte; a disabled GPA is stored and shows nothing. */
    f = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, gpa_of(pg_b));
    hvt_rdmsr_safe(HV_MSR_VP_ASSIST_PAGE, &v);
    m = mismatches(pg_b);
    CHECK(f == 0 && v == gpa_of(pg_b) && m == 0,
          "disabling the VP assist page restores the pattern (%u qwords differ), GPA kept (0x%lx)", m, v);
    m = mismatches(pg_a) + mismatches(pg_b);
    CHECK(m == 0, "VP assist page disabled: both RAM patterns unchanged (%u qwords differ)", m);
    hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, 0);
}

/* Hypercall parameter blocks in an overlay page: on Hyper-V the overlay occupies its GPA, so the
 * hypervisor reads and writes what the calling VP sees there (hvsim: the caller's view, with the
 * overlays shown to that VP). The RAM beneath holds a PostMessage block with payload size 241
 * (INVALID_PARAMETER); VP 0's VP assist page over it holds a valid one for unregistered connection
 * 0x7777 (INVALID_CONNECTION_ID). VP 1, with no overlay there, reads the RAM. An output block in
 * VP 0's assist page lands in the overlay, not in RAM; one in the hypercall page (which the guest
 * may not write) is refused with INVALID_ALIGNMENT and changes nothing. */
#define BLOCK_CONNECTION 0x7777u
#define OUT_OFFSET 0x800u

static volatile uint64_t r_status;

static void post_block(volatile uint64_t *p, uint32_t size)
{
    volatile uint32_t *w = (volatile uint32_t *)p;
    w[0] = BLOCK_CONNECTION;
    w[1] = 0;
    w[2] = 1; /* message type */
    w[3] = size;
}

static void remote_post(void *arg)
{
    r_status = hvt_hypercall(HVCALL_POST_MESSAGE, gpa_of(arg), 0);
}

static void t_hypercall_blocks_in_overlays(void *arg)
{
    (void)arg;
    if (!CHECK(hvt_hypercall_setup(), "hypercall page enabled"))
        return;
    fill(pg_a);
    fill(pg_b);
    post_block(pg_a, HV_MESSAGE_PAYLOAD_BYTES + 1); /* in RAM: invalid */
    uint64_t ram_head[2] = {pg_a[0], pg_a[1]};
    uint32_t f = hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, gpa_of(pg_a) | HV_PAGE_ENABLE);
    post_block(pg_a, 16); /* in VP 0's overlay: valid */
    uint64_t r = hvt_hypercall(HVCALL_POST_MESSAGE, gpa_of(pg_a), 0);
    CHECK(f == 0 && HV_RESULT_STATUS(r) == HV_STATUS_INVALID_CONNECTION_ID,
          "PostMessage input in VP 0's VP assist page is read from the overlay: status 0x%x (want 0x12; 0x5 = the RAM "
          "beneath was read)",
          HV_RESULT_STATUS(r));
    if (hvsim_boot->vcpu_count >= 2) {
        int ok = hvt_on_vp(1, remote_post, (void *)pg_a, 20000);
        CHECK(ok && HV_RESULT_STATUS(r_status) == HV_STATUS_INVALID_PARAMETER,
              "VP 1's PostMessage at the same GPA reads its own view, the RAM: status 0x%x (want 0x5)",
              HV_RESULT_STATUS(r_status));
    }

    /* Output into the overlay: GetVpRegisters(self, GuestOsId), input in RAM (pg_b). */
    volatile uint64_t *in = pg_b;
    in[0] = HV_PARTITION_ID_SELF;
    in[1] = HV_VP_INDEX_SELF;
    in[2] = HV_REGISTER_GUEST_OS_ID;
    uint64_t os_id = hvt_rdmsr_or(HV_MSR_GUEST_OS_ID, 0);
    r = hvt_hypercall(HVCALL_GET_VP_REGISTERS | HV_CONTROL_REP_COUNT(1), gpa_of(in), gpa_of(pg_a) + OUT_OFFSET);
    uint64_t got = pg_a[OUT_OFFSET / 8];
    CHECK(HV_RESULT_STATUS(r) == HV_STATUS_SUCCESS && got == os_id && os_id != 0,
          "GetVpRegisters output in VP 0's VP assist page lands in the overlay (0x%lx, GUEST_OS_ID 0x%lx, status 0x%x)",
          got, os_id, HV_RESULT_STATUS(r));

    /* Output into the hypercall page: the guest may not write it, nor may a hypercall for it. */
    volatile uint8_t *hp = hvt_hypercall_page;
    r = hvt_hypercall(HVCALL_GET_VP_REGISTERS | HV_CONTROL_REP_COUNT(1), gpa_of(in), gpa_of(hp) + OUT_OFFSET);
    unsigned changed = 0;
    for (unsigned i = 0; i < 16; i++)
        changed += hp[OUT_OFFSET + i] != 0xCC;
    CHECK(HV_RESULT_STATUS(r) == HV_STATUS_INVALID_ALIGNMENT && changed == 0 && has_stub(hp),
          "GetVpRegisters output in the hypercall page is refused: status 0x%x (want 0x4), %u bytes changed", HV_RESULT_STATUS(r),
          changed);

    hvt_wrmsr_safe(HV_MSR_VP_ASSIST_PAGE, 0);
    unsigned m = 0;
    for (unsigned i = 2; i < 512; i++)
        m += pg_a[i] != pattern(gpa_of(pg_a), i);
    CHECK(m == 0 && pg_a[0] == ram_head[0] && pg_a[1] == ram_head[1],
          "VP assist page disabled: the RAM beneath never saw the overlay's block or the output (%u qwords differ)", m);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_overlay", vp);
    if (vp != 0)
        hvt_ap_main();
    pg_a = hvt_alloc_page();
    pg_b = hvt_alloc_page();
    hvt_run("hypercall page overlay", t_hypercall_overlay, 0);
    hvt_run("hypercall page is read-only", t_hypercall_page_read_only, 0);
    hvt_run("reference TSC overlay", t_ref_tsc_overlay, 0);
    hvt_run("SIMP/SIEFP overlay", t_synic_overlay, 0);
    hvt_run("per-VP overlay", t_per_vp_overlay, 0);
    hvt_run("SIMP/SIEFP outside RAM", t_synic_outside_ram, 0);
    hvt_run("VP assist page", t_vp_assist, 0);
    hvt_run("hypercall blocks in overlay pages", t_hypercall_blocks_in_overlays, 0);
    return hvt_finish();
}
