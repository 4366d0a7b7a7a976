/* hv_test.c - shared runtime of the Hyper-V conformance guests (API and notes in hv_test.h). */
#include "hv_test.h"

#define KERNEL_CS 0x08
#define KERNEL_SS 0x10
#define USER_CS 0x2B
#define USER_SS 0x23
#define TSS_RSP0_OFFSET 4

struct hvt_jmp {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* setjmp without signal masks: returns 0 when called, 1 when resumed by hvt_resume_frame. */
int hvt_setjmp(struct hvt_jmp *j) __attribute__((returns_twice));
__asm__(".text\n"
        ".globl hvt_setjmp\n"
        ".type hvt_setjmp, @function\n"
        "hvt_setjmp:\n\t"
        "mov %rbx, 0(%rdi)\n\t"
        "mov %rbp, 8(%rdi)\n\t"
        "mov %r12, 16(%rdi)\n\t"
        "mov %r13, 24(%rdi)\n\t"
        "mov %r14, 32(%rdi)\n\t"
        "mov %r15, 40(%rdi)\n\t"
        "lea 8(%rsp), %rax\n\t"
        "mov %rax, 48(%rdi)\n\t"
        "mov (%rsp), %rax\n\t"
        "mov %rax, 56(%rdi)\n\t"
        "xor %eax, %eax\n\t"
        "ret\n"
        ".size hvt_setjmp, . - hvt_setjmp\n");

/* Makes the interrupted context continue as if hvt_setjmp(j) had returned 1, at CPL 0, IF = 0. */
static void hvt_resume_frame(struct trap_frame *tf, const struct hvt_jmp *j)
{
    tf->rbx = j->rbx;
    tf->rbp = j->rbp;
    tf->r12 = j->r12;
    tf->r13 = j->r13;
    tf->r14 = j->r14;
    tf->r15 = j->r15;
    tf->rsp = j->rsp;
    tf->rip = j->rip;
    tf->rax = 1;
    tf->cs = KERNEL_CS;
    tf->ss = KERNEL_SS;
    tf->rflags = 0x2;
}

static const char *test_name = "hv_test";
static volatile uint32_t n_passed, n_total;

struct hvt_ctx {
    volatile int active;
    const char *what;
    struct hvt_jmp jmp;
};
static struct hvt_ctx ctx[HVT_MAX_VPS];

struct hvt_mbox {
    volatile uint32_t seq, done;
    void (*volatile fn)(void *);
    void *volatile arg;
};
static struct hvt_mbox mbox[HVT_MAX_VPS];
static volatile uint32_t ap_ready[HVT_MAX_VPS];
static volatile uint32_t quit;
static volatile uint32_t handlers_ready;

struct hvt_irq_vp hvt_irq[HVT_MAX_VPS];
volatile uint64_t hvt_safe_fault_rip[HVT_MAX_VPS];
void (*volatile hvt_irq_hook)(uint32_t vp, uint32_t vector);

static struct {
    volatile int active;
    struct hvt_jmp jmp;
    struct hvt_user_fault f;
} user;
static uint8_t user_stack[8192] __attribute__((aligned(16)));
static uint8_t user_kstack[8192] __attribute__((aligned(16)));

void *volatile hvt_hypercall_page;
volatile int hvt_hypercall_vmmcall;

void hvt_count(int ok)
{
    atomic_fetch_add_u32(&n_total, 1);
    if (ok)
        atomic_fetch_add_u32(&n_passed, 1);
}

static uint32_t my_vp(void)
{
    uint32_t vp = this_vp();
    return vp < HVT_MAX_VPS ? vp : 0;
}

static void on_exception(struct trap_frame *tf)
{
    if (tf->r9 == HVT_SAFE_MAGIC) { /* an hvt_*_safe instruction: report the fault as a value */
        hvt_safe_fault_rip[my_vp()] = tf->rip;
        tf->r9 = HVT_FAULT(tf->vector, tf->error_code & 0xFFFF);
        tf->rip = tf->r10;
        return;
    }
    if ((tf->cs & 3) && user.active) { /* the exception that ends hvt_run_user */
        user.f.vector = tf->vector;
        user.f.error_code = tf->error_code;
        user.f.rip = tf->rip;
        user.f.cs = tf->cs;
        hvt_resume_frame(tf, &user.jmp);
        return;
    }
    uint32_t vp = this_vp();
    if (vp < HVT_MAX_VPS && ctx[vp].active) {
        ctx[vp].active = 0;
        hvt_count(0);
        printf("FAIL %s (vp %u): unexpected exception %lu err 0x%lx at rip 0x%lx cr2 0x%lx\n", ctx[vp].what, vp,
               tf->vector, tf->error_code, tf->rip, tf->cr2);
        hvt_resume_frame(tf, &ctx[vp].jmp);
        return;
    }
    hvt_count(0);
    printf("FAIL (vp %u) unexpected exception %lu err 0x%lx at rip 0x%lx outside any check\n", vp, tf->vector,
           tf->error_code, tf->rip);
    if (vp == 0)
        hv_exit((uint32_t)hvt_finish());
    halt_forever();
}

void hvt_apic_eoi(void)
{
    hvt_wrmsr_safe(MSR_X2APIC_EOI, 0);
}

static void on_irq(struct trap_frame *tf)
{
    uint32_t vp = my_vp(), v = (uint32_t)tf->vector & 0xFF;
    uint64_t ref;
    hvt_irq[vp].last_tsc[v] = rdtsc();
    hvt_irq[vp].last_ref[v] = hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &ref) ? 0 : ref;
    hvt_irq[vp].count[v]++;
    void (*hook)(uint32_t, uint32_t) = hvt_irq_hook;
    if (hook)
        hook(vp, v);
    if (v != 0xFF) /* spurious vector needs no EOI */
        hvt_apic_eoi();
}

static void apic_enable(void)
{
    uint64_t v;
    /* x2APIC mode (bits 10 and 11) so the EOI MSR works, then software-enable via SVR. Each step may
     * #GP on a model without it; interrupts may still be delivered, so carry on. */
    if (!hvt_rdmsr_safe(MSR_IA32_APIC_BASE, &v))
        hvt_wrmsr_safe(MSR_IA32_APIC_BASE, v | (1ull << 11) | (1ull << 10));
    if (!hvt_rdmsr_safe(MSR_X2APIC_SVR, &v))
        hvt_wrmsr_safe(MSR_X2APIC_SVR, (v & ~0xFFull) | 0x1FF);
}

void hvt_init(const char *name, uint32_t vp)
{
    idt_install();
    if (vp == 0) {
        test_name = name;
        for (unsigned v = 0; v < 32; v++)
            idt_set_handler((uint8_t)v, on_exception);
        for (unsigned v = 32; v < 256; v++)
            idt_set_handler((uint8_t)v, on_irq);
        __asm__ volatile("mfence" ::: "memory");
        handlers_ready = 1;
    } else {
        /* VP 0 fills the shared handler table; wait for it (bounded) before enabling anything. */
        uint64_t dl = rdtsc() + 200000000ull;
        while (rdtsc() < dl && !handlers_ready)
            pause();
    }
    apic_enable();
}

void hvt_run(const char *what, void (*fn)(void *), void *arg)
{
    struct hvt_ctx *c = &ctx[my_vp()];
    c->what = what;
    if (hvt_setjmp(&c->jmp) == 0) {
        c->active = 1;
        fn(arg);
    }
    c->active = 0;
    cli();
}

void hvt_ap_main(void)
{
    uint32_t vp = this_vp();
    if (vp >= HVT_MAX_VPS)
        halt_forever();
    uint32_t seen = mbox[vp].seq;
    ap_ready[vp] = 1;
    for (;;) {
        sti();
        while (mbox[vp].seq == seen && !quit)
            pause();
        cli();
        if (quit)
            halt_forever();
        seen = mbox[vp].seq;
        hvt_run("remote call", mbox[vp].fn, mbox[vp].arg);
        __asm__ volatile("mfence" ::: "memory");
        mbox[vp].done = seen;
    }
}

void hvt_start_on_vp(uint32_t vp, void (*fn)(void *), void *arg)
{
    if (vp >= HVT_MAX_VPS)
        return;
    mbox[vp].fn = fn;
    mbox[vp].arg = arg;
    __asm__ volatile("mfence" ::: "memory");
    mbox[vp].seq++;
}

int hvt_wait_vp(uint32_t vp, uint64_t timeout_us)
{
    if (vp >= HVT_MAX_VPS)
        return 0;
    uint32_t want = mbox[vp].seq;
    int ok = HVT_WAIT(mbox[vp].done == want, timeout_us);
    if (!ok)
        printf("# vp %u did not finish its remote call within %lu us\n", vp, timeout_us);
    return ok;
}

int hvt_on_vp(uint32_t vp, void (*fn)(void *), void *arg, uint64_t timeout_us)
{
    if (vp >= HVT_MAX_VPS || vp >= hvsim_boot->vcpu_count)
        return 0;
    if (!HVT_WAIT(ap_ready[vp], timeout_us)) {
        printf("# vp %u never reached hvt_ap_main\n", vp);
        return 0;
    }
    hvt_start_on_vp(vp, fn, arg);
    return hvt_wait_vp(vp, timeout_us);
}

int hvt_finish(void)
{
    quit = 1;
    uint32_t p = n_passed, t = n_total;
    printf("%s: %u of %u checks passed\n", test_name, p, t);
    return p == t ? 0 : 1;
}

uint64_t hvt_tsc_hz(void)
{
    uint64_t hz = hvsim_boot->tsc_hz;
    return hz ? hz : 2000000000ull;
}

uint64_t hvt_deadline_us(uint64_t us)
{
    return rdtsc() + us * (hvt_tsc_hz() / 1000000ull);
}

uint64_t hvt_ref_now(void)
{
    uint64_t v;
    if (!hvt_rdmsr_safe(HV_MSR_TIME_REF_COUNT, &v))
        return v;
    uint64_t per_tick = hvt_tsc_hz() / 10000000ull;
    return rdtsc() / (per_tick ? per_tick : 1);
}

void hvt_delay_us(uint64_t us)
{
    uint64_t dl = hvt_deadline_us(us);
    sti();
    while (rdtsc() < dl)
        pause();
    cli();
}

int hvt_wait_ref(uint64_t ref, uint64_t max_us)
{
    uint64_t dl = hvt_deadline_us(max_us);
    int reached;
    sti();
    while (!(reached = hvt_ref_now() >= ref) && rdtsc() < dl)
        pause();
    cli();
    return reached;
}

static spinlock_t alloc_lock = SPINLOCK_INIT;
static uint64_t alloc_next;

void *hvt_alloc_page(void)
{
    spin_lock(&alloc_lock);
    if (!alloc_next)
        alloc_next = (hvsim_boot->free_mem_start + 0xFFF) & ~0xFFFull;
    uint64_t p = alloc_next;
    if (p + 4096 > hvsim_boot->free_mem_end) {
        spin_unlock(&alloc_lock);
        printf("FAIL out of free guest memory\n");
        hv_exit(1);
    }
    alloc_next += 4096;
    spin_unlock(&alloc_lock);
    memset((void *)(uintptr_t)p, 0, 4096);
    return (void *)(uintptr_t)p;
}

int hvt_hypercall_setup(void)
{
    uint64_t v;
    if (hvt_hypercall_page && !hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v) && (v & HV_HYPERCALL_ENABLE))
        return 1;
    if (hvt_rdmsr_safe(HV_MSR_GUEST_OS_ID, &v) || (!v && hvt_wrmsr_safe(HV_MSR_GUEST_OS_ID, HVT_GUEST_OS_ID)))
        return 0;
    uint8_t *page = hvt_alloc_page();
    if (hvt_wrmsr_safe(HV_MSR_HYPERCALL, (uint64_t)(uintptr_t)page | HV_HYPERCALL_ENABLE))
        return 0;
    if (hvt_rdmsr_safe(HV_MSR_HYPERCALL, &v) || !(v & HV_HYPERCALL_ENABLE))
        return 0;
    hvt_hypercall_vmmcall = page[2] == 0xD9; /* 0F 01 D9 = VMMCALL, 0F 01 C1 = VMCALL (3.7) */
    hvt_hypercall_page = page;
    return 1;
}

void hvt_run_user(void (*entry)(void), struct hvt_user_fault *f)
{
    uint32_t vp = my_vp();
    uint8_t *tss = (uint8_t *)(uintptr_t)hvsim_vcpu(hvsim_boot, vp)->tss_base;
    uint64_t old_rsp0, new_rsp0 = (uint64_t)(uintptr_t)(user_kstack + sizeof(user_kstack));
    uint64_t ustack = (uint64_t)(uintptr_t)(user_stack + sizeof(user_stack) - 8);
    memcpy(&old_rsp0, tss + TSS_RSP0_OFFSET, 8);
    memcpy(tss + TSS_RSP0_OFFSET, &new_rsp0, 8);
    user.f = (struct hvt_user_fault){.vector = ~0ull};
    user.active = 1;
    if (hvt_setjmp(&user.jmp) == 0) {
        __asm__ volatile("pushq %[ss]\n\t"
                         "pushq %[rsp]\n\t"
                         "pushq $0x2\n\t"
                         "pushq %[cs]\n\t"
                         "pushq %[rip]\n\t"
                         "iretq"
                         :
                         : [ss] "i"(USER_SS), [rsp] "r"(ustack), [cs] "i"(USER_CS), [rip] "r"(entry)
                         : "memory");
        __builtin_unreachable();
    }
    user.active = 0;
    memcpy(tss + TSS_RSP0_OFFSET, &old_rsp0, 8);
    *f = user.f;
}

uint32_t hvt_max_hv_leaf(void)
{
    if (!(cpuid(1, 0).ecx & (1u << 31)))
        return 0;
    return cpuid(HV_CPUID_VENDOR, 0).eax;
}

int hvt_msrs_gated(void)
{
    static const struct {
        uint32_t bit, msr;
    } probes[] = {
        {HV_ACCESS_VP_RUNTIME, HV_MSR_VP_RUNTIME},   {HV_ACCESS_TIME_REF_COUNT, HV_MSR_TIME_REF_COUNT},
        {HV_ACCESS_SYNIC, HV_MSR_SVERSION},          {HV_ACCESS_RESET, HV_MSR_RESET},
        {HV_ACCESS_FREQUENCY, HV_MSR_TSC_FREQUENCY}, {HV_ACCESS_REENLIGHTENMENT, HV_MSR_REENLIGHTENMENT_CONTROL},
    };
    uint32_t eax = hvt_hv_features().eax;
    uint64_t v;
    for (unsigned i = 0; i < sizeof probes / sizeof probes[0]; i++)
        if (!(eax & probes[i].bit))
            return hvt_rdmsr_safe(probes[i].msr, &v) == HVT_GP0;
    return 0;
}

struct cpuid_regs hvt_hv_features(void)
{
    if (hvt_max_hv_leaf() < HV_CPUID_FEATURES)
        return (struct cpuid_regs){0, 0, 0, 0};
    return cpuid(HV_CPUID_FEATURES, 0);
}

void hvt_msg_consume(struct hv_message *m)
{
    uint32_t none = HVMSG_NONE;
    __asm__ volatile("xchgl %0, %1" : "+r"(none), "+m"(m->type) : : "memory"); /* full barrier */
    if (m->flags & HV_MSG_FLAG_PENDING)
        hvt_wrmsr_safe(HV_MSR_EOM, 0);
}
