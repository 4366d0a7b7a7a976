/* usermode.elf - CPL 3 round trip. The kernel (VP 0, on its own stack so TSS.RSP0 = the boot
 * stack top is free) sets up the IDT and STAR/LSTAR/FMASK, then iretq's to user code on a user
 * stack. User code makes a syscall (handled at CPL 0 on a syscall stack, back with sysretq), an
 * `int $0x80` through a DPL-3 gate, then `cli`, which must #GP. The #GP handler checks it came
 * from CS 0x2B and runs on TSS.RSP0, then resumes the kernel at CPL 0. Exit 0 if every check
 * held, else 1. */
#include "hvsim_guest.h"

#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_FMASK 0xC0000084
#define FMASK_BITS 0x47700 /* clear AC, NT, IOPL, DF, IF, TF on syscall */
#define KERNEL_CS 0x08
#define KERNEL_SS 0x10
#define USER_CS 0x2B
#define USER_SS 0x23
#define STACK_SIZE 16384
#define SYSCALL_ARG 0x1234
#define INT80_ARG 0x80

void run_on_stack(void (*fn)(void), void *top) __attribute__((noreturn));
void enter_user(void (*entry)(void), void *user_rsp);
void user_exit_resume(void);
void syscall_entry(void);
uint64_t syscall_handler(uint64_t arg, uint64_t nr);
extern uint8_t syscall_stack[], syscall_stack_top[];
extern uint64_t kernel_rsp;

static uint8_t kernel_stack[STACK_SIZE] __attribute__((aligned(16)));
static uint8_t user_stack[STACK_SIZE] __attribute__((aligned(16)));

static volatile struct {
    uint16_t user_cs, user_cs_after_sysret;
    uint16_t syscall_cs;
    uint64_t syscall_rsp, syscall_ret;
    uint64_t int80_cs, int80_ss, int80_ret;
    int int80_on_rsp0;
    uint64_t cli_rip, gp_rip, gp_cs, gp_ss, gp_err;
    int gp_on_rsp0;
    uint64_t rsp0;
} r;

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok" : "FAIL", what);
    failures += !ok;
}

/* True if tf is the frame the CPU pushed at TSS.RSP0 (this vCPU's boot stack top). */
static int frame_at_rsp0(struct trap_frame *tf)
{
    uint32_t vp = this_vp();
    if (vp == HVSIM_VP_NONE)
        return 0;
    r.rsp0 = hvsim_vcpu(hvsim_boot, vp)->stack_top;
    return (uintptr_t)(&tf->ss + 1) == r.rsp0;
}

uint64_t syscall_handler(uint64_t arg, uint64_t nr)
{
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    r.syscall_cs = read_cs();
    r.syscall_rsp = rsp;
    return arg * 3 + nr;
}

static void on_int80(struct trap_frame *tf)
{
    r.int80_cs = tf->cs;
    r.int80_ss = tf->ss;
    r.int80_on_rsp0 = frame_at_rsp0(tf);
    tf->rax = tf->rdi + 1;
}

static void on_gp(struct trap_frame *tf)
{
    r.gp_rip = tf->rip;
    r.gp_cs = tf->cs;
    r.gp_ss = tf->ss;
    r.gp_err = tf->error_code;
    r.gp_on_rsp0 = frame_at_rsp0(tf);
    tf->rip = (uintptr_t)user_exit_resume;
    tf->cs = KERNEL_CS;
    tf->ss = KERNEL_SS;
    tf->rsp = kernel_rsp;
    tf->rflags = 0x2;
}

/* Runs at CPL 3: touches only memory (all pages are user-accessible) and never returns. */
static void user_main(void)
{
    uint64_t ret, arg = SYSCALL_ARG, tmp;
    r.user_cs = read_cs();
    __asm__ volatile("syscall"
                     : "=a"(ret), "+D"(arg)
                     : "a"(1)
                     : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory");
    r.syscall_ret = ret;
    r.user_cs_after_sysret = read_cs();
    __asm__ volatile("int $0x80" : "=a"(ret) : "D"(INT80_ARG) : "memory");
    r.int80_ret = ret;
    __asm__ volatile("lea 1f(%%rip), %0\n\t"
                     "mov %0, %1\n"
                     "1: cli\n\t"
                     "ud2" /* not reached if cli raised #GP */
                     : "=&r"(tmp), "=m"(r.cli_rip)
                     :
                     : "memory");
}

static void __attribute__((noreturn)) kernel_main(void)
{
    idt_install();
    idt_set_handler(13, on_gp);
    idt_set_handler(0x80, on_int80);
    idt_set_dpl(0x80, 3);
    wrmsr(MSR_STAR, (0x18ull << 48) | ((uint64_t)KERNEL_CS << 32));
    wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
    wrmsr(MSR_FMASK, FMASK_BITS);

    /* - 8: user_main starts as if called, with a return-address slot below the aligned top. */
    enter_user(user_main, user_stack + STACK_SIZE - 8);

    check(read_cs() == KERNEL_CS, "back at CPL 0 after #GP");
    printf("user CS=0x%x, after sysret 0x%x\n", r.user_cs, r.user_cs_after_sysret);
    check(r.user_cs == USER_CS && r.user_cs_after_sysret == USER_CS, "user code ran at CPL 3");
    printf("syscall: CS=0x%x rsp=0x%lx ret=0x%lx\n", r.syscall_cs, r.syscall_rsp, r.syscall_ret);
    check(r.syscall_cs == KERNEL_CS, "syscall handler ran at CPL 0");
    check(r.syscall_rsp >= (uintptr_t)syscall_stack && r.syscall_rsp < (uintptr_t)syscall_stack_top,
          "syscall handler on its own stack");
    check(r.syscall_ret == SYSCALL_ARG * 3 + 1, "sysretq returned the result");
    printf("int 0x80: CS=0x%lx SS=0x%lx ret=0x%lx\n", r.int80_cs, r.int80_ss, r.int80_ret);
    check(r.int80_cs == USER_CS && r.int80_ss == USER_SS, "int 0x80 came from CPL 3");
    check(r.int80_on_rsp0, "int 0x80 frame at TSS.RSP0");
    check(r.int80_ret == INT80_ARG + 1, "int 0x80 returned to CPL 3 with the result");
    printf("#GP: CS=0x%lx SS=0x%lx err=0x%lx rip=0x%lx (cli at 0x%lx) rsp0=0x%lx\n", r.gp_cs, r.gp_ss,
           r.gp_err, r.gp_rip, r.cli_rip, r.rsp0);
    check(r.gp_cs == USER_CS && r.gp_ss == USER_SS, "#GP came from CPL 3");
    check(r.gp_err == 0 && r.gp_rip == r.cli_rip, "#GP(0) at cli");
    check(r.gp_on_rsp0, "#GP frame at TSS.RSP0 (boot stack top)");
    printf("usermode: %s\n", failures ? "FAILED" : "all checks passed");
    hv_exit(failures ? 1 : 0);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        return 0;
    run_on_stack(kernel_main, kernel_stack + STACK_SIZE);
}
