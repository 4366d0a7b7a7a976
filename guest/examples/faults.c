/* faults.elf - raises #DE #UD #BP #GP(wrmsr) #GP(non-canonical) #PF(read) #PF(write) in turn and
 * checks vector, error code, RIP (faulting instruction, or the next one for the #BP trap), CS
 * and CR2. One handler records what it saw and resumes at the instruction after the faulting one.
 * Prints "ok ..." per check; exits 0 if all passed, else 1 after naming the failing checks. */
#include "hvsim_guest.h"

#define UNMAPPED 0x140000000ull /* above the 4 GiB identity map */

struct seen {
    uint32_t hits;
    uint64_t vector, err, rip, cs, cr2;
};

struct check {
    const char *name, *detail;
    void (*trigger)(struct check *c);
    uint64_t vector;
    int has_err, is_trap, has_cr2;
    uint64_t err, cr2;
    uint64_t fault_rip, next_rip; /* filled by trigger */
};

static volatile struct seen seen;
static uint64_t resume_rip;

static void on_fault(struct trap_frame *tf)
{
    seen.hits++;
    seen.vector = tf->vector;
    seen.err = tf->error_code;
    seen.rip = tf->rip;
    seen.cs = tf->cs;
    seen.cr2 = tf->cr2;
    tf->rip = resume_rip;
}

/* BODY must contain the label "1:" on the faulting instruction; "2:" follows it. */
#define FAULT_ASM(c, body, ...)                                                                   \
    __asm__ volatile("lea 1f(%%rip), %[at]\n\t"                                                   \
                     "lea 2f(%%rip), %[af]\n\t"                                                   \
                     "mov %[af], %[resume]\n\t" body "\n2:"                                       \
                     : [at] "=&r"(c->fault_rip), [af] "=&r"(c->next_rip), [resume] "=m"(resume_rip) \
                     :                                                                            \
                     : __VA_ARGS__)

static void trigger_de(struct check *c)
{
    FAULT_ASM(c, "xor %%edx, %%edx\n\tmov $1, %%eax\n\txor %%ecx, %%ecx\n1: divl %%ecx", "rax", "rcx", "rdx", "memory", "cc");
}

static void trigger_ud(struct check *c) { FAULT_ASM(c, "1: ud2", "memory"); }
static void trigger_bp(struct check *c) { FAULT_ASM(c, "1: int3", "memory"); }

static void trigger_gp_msr(struct check *c)
{
    FAULT_ASM(c, "mov $0x12345, %%ecx\n\txor %%eax, %%eax\n\txor %%edx, %%edx\n1: wrmsr", "rax", "rcx", "rdx", "memory", "cc");
}

static void trigger_gp_noncanonical(struct check *c)
{
    FAULT_ASM(c, "movabs $0x8000000000000000, %%rax\n1: mov (%%rax), %%rax", "rax", "memory");
}

static void trigger_pf_read(struct check *c)
{
    FAULT_ASM(c, "movabs $0x140000000, %%rax\n1: mov (%%rax), %%rax", "rax", "memory");
}

static void trigger_pf_write(struct check *c)
{
    FAULT_ASM(c, "movabs $0x140000008, %%rax\n1: movq $0, (%%rax)", "rax", "memory");
}

static struct check checks[] = {
    {.name = "#DE", .detail = "", .trigger = trigger_de, .vector = 0},
    {.name = "#UD", .detail = "", .trigger = trigger_ud, .vector = 6},
    {.name = "#BP", .detail = "", .trigger = trigger_bp, .vector = 3, .is_trap = 1},
    {.name = "#GP", .detail = " (wrmsr 0x12345)", .trigger = trigger_gp_msr, .vector = 13, .has_err = 1, .err = 0},
    {.name = "#GP", .detail = " (non-canonical)", .trigger = trigger_gp_noncanonical, .vector = 13, .has_err = 1,
     .err = 0},
    {.name = "#PF", .detail = " (read)", .trigger = trigger_pf_read, .vector = 14, .has_err = 1, .err = 0,
     .has_cr2 = 1, .cr2 = UNMAPPED},
    {.name = "#PF", .detail = " (write)", .trigger = trigger_pf_write, .vector = 14, .has_err = 1, .err = 2,
     .has_cr2 = 1, .cr2 = UNMAPPED + 8},
};

static int run(struct check *c)
{
    seen.hits = 0;
    c->trigger(c);
    uint64_t want_rip = c->is_trap ? c->next_rip : c->fault_rip;
    int ok = seen.hits == 1 && seen.vector == c->vector && seen.rip == want_rip && seen.cs == 0x08 &&
             (!c->has_err || seen.err == c->err) && (!c->has_cr2 || seen.cr2 == c->cr2);
    if (!ok) {
        printf("FAIL %s%s: hits=%u vector=%lu err=0x%lx rip=0x%lx (want 0x%lx) cs=0x%lx cr2=0x%lx\n", c->name,
               c->detail, seen.hits, seen.vector, seen.err, seen.rip, want_rip, seen.cs, seen.cr2);
        return 0;
    }
    if (c->has_cr2)
        printf("ok %s err=0x%lx cr2=0x%lx%s\n", c->name, seen.err, seen.cr2, c->detail);
    else if (c->has_err)
        printf("ok %s err=0x%lx%s\n", c->name, seen.err, c->detail);
    else
        printf("ok %s rip=0x%lx\n", c->name, seen.rip);
    return 1;
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        return 0;
    idt_install();
    static const uint8_t vectors[] = {0, 3, 6, 13, 14};
    for (unsigned i = 0; i < sizeof(vectors); i++)
        idt_set_handler(vectors[i], on_fault);

    unsigned n = sizeof(checks) / sizeof(checks[0]), passed = 0;
    for (unsigned i = 0; i < n; i++)
        passed += (unsigned)run(&checks[i]);
    printf("faults: %u of %u checks passed\n", passed, n);
    return passed == n ? 0 : 1;
}
