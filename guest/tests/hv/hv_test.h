/* hv_test.h - shared helpers for the Hyper-V conformance guests (guest/tests/hv/).
 *
 * Written from /work/shared/PROTOCOL.md (sections 1-4) only. Every constant below cites the
 * PROTOCOL section it comes from. The helpers:
 *   - CHECK(cond, fmt, ...): prints "ok ..." or "FAIL ..." (one line) and counts the result.
 *   - hvt_rdmsr_safe / hvt_wrmsr_safe / hvt_hypercall_inline_safe: run one instruction and report
 *     the exception it raised (0 = none, else HVT_FAULT(vector, error code)) instead of crashing.
 *   - hvt_run(name, fn, arg): runs a group of checks; an unexpected exception inside it prints a
 *     FAIL line, counts a failure and resumes after the group (so one missing feature does not
 *     hide the others).
 *   - a per-VP interrupt counter for every vector >= 32 (hvt_irq[vp]), which also records the
 *     TSC and TIME_REF_COUNT at arrival and EOIs the x2APIC.
 *   - hvt_on_vp(): run a function on another VP (VPs other than 0 serve requests in hvt_ap_main).
 *   - hypercall page setup and hypercall issue helpers (through the page, or inline).
 *   - hvt_msrs_gated(): whether the MSRs follow CPUID (hv-enforce-cpuid), for guests that take
 *     their expectations from CPUID.
 * All waits are bounded by a TSC deadline.
 */
#ifndef HV_TEST_H
#define HV_TEST_H

#include "hvsim_guest.h"

/* ---- CPUID (PROTOCOL 1.1-1.8) ---- */
#define HV_CPUID_VENDOR 0x40000000u
#define HV_CPUID_INTERFACE 0x40000001u
#define HV_CPUID_VERSION 0x40000002u
#define HV_CPUID_FEATURES 0x40000003u
#define HV_CPUID_ENLIGHTENMENT 0x40000004u
#define HV_CPUID_LIMITS 0x40000005u
#define HV_SIGNATURE_HV1 0x31237648u /* "Hv#1" */
#define HV_VENDOR_EBX 0x7263694Du    /* "Micr" */
#define HV_VENDOR_ECX 0x666F736Fu    /* "osof" */
#define HV_VENDOR_EDX 0x76482074u    /* "t Hv" */

/* 0x40000003 EAX (1.2) */
#define HV_ACCESS_VP_RUNTIME (1u << 0)
#define HV_ACCESS_TIME_REF_COUNT (1u << 1)
#define HV_ACCESS_SYNIC (1u << 2)
#define HV_ACCESS_STIMER (1u << 3)
#define HV_ACCESS_APIC_MSRS (1u << 4)
#define HV_ACCESS_HYPERCALL_MSRS (1u << 5)
#define HV_ACCESS_VP_INDEX (1u << 6)
#define HV_ACCESS_RESET (1u << 7)
#define HV_ACCESS_REF_TSC (1u << 9)
#define HV_ACCESS_GUEST_IDLE (1u << 10)
#define HV_ACCESS_FREQUENCY (1u << 11)
#define HV_ACCESS_REENLIGHTENMENT (1u << 13)
/* 0x40000003 EBX (1.3) */
#define HV_PRIV_POST_MESSAGES (1u << 4)
#define HV_PRIV_SIGNAL_EVENTS (1u << 5)
#define HV_PRIV_DEBUGGING (1u << 11)
#define HV_PRIV_ACCESS_VP_REGISTERS (1u << 17)
/* 0x40000003 EDX (1.5) */
#define HV_FEAT_GUEST_DEBUGGING (1u << 1)
#define HV_FEAT_FREQUENCY_MSRS (1u << 8)
#define HV_FEAT_CRASH_MSRS (1u << 10)
#define HV_FEAT_DEBUG_MSRS (1u << 11)
#define HV_FEAT_HYPERCALL_MSR_LOCK (1u << 18)
#define HV_FEAT_STIMER_DIRECT (1u << 19)
/* 0x40000004 EAX (1.6) */
#define HV_REC_REMOTE_TLB_FLUSH (1u << 2)
#define HV_REC_CLUSTER_IPI (1u << 10)

/* ---- synthetic MSRs (2.1) ---- */
#define HV_MSR_GUEST_OS_ID 0x40000000u
#define HV_MSR_HYPERCALL 0x40000001u
#define HV_MSR_VP_INDEX 0x40000002u
#define HV_MSR_RESET 0x40000003u
#define HV_MSR_VP_RUNTIME 0x40000010u
#define HV_MSR_TIME_REF_COUNT 0x40000020u
#define HV_MSR_REFERENCE_TSC 0x40000021u
#define HV_MSR_TSC_FREQUENCY 0x40000022u
#define HV_MSR_APIC_FREQUENCY 0x40000023u
#define HV_MSR_EOI 0x40000070u
#define HV_MSR_VP_ASSIST_PAGE 0x40000073u
#define HV_MSR_SCONTROL 0x40000080u
#define HV_MSR_SVERSION 0x40000081u
#define HV_MSR_SIEFP 0x40000082u
#define HV_MSR_SIMP 0x40000083u
#define HV_MSR_EOM 0x40000084u
#define HV_MSR_SINT0 0x40000090u
#define HV_MSR_SINT(n) (HV_MSR_SINT0 + (n))
#define HV_MSR_STIMER0_CONFIG 0x400000B0u
#define HV_MSR_STIMER_CONFIG(n) (0x400000B0u + 2u * (n))
#define HV_MSR_STIMER_COUNT(n) (0x400000B1u + 2u * (n))
#define HV_MSR_CRASH_P0 0x40000100u
#define HV_MSR_CRASH_CTL 0x40000105u
#define HV_MSR_REENLIGHTENMENT_CONTROL 0x40000106u
#define HV_MSR_UNKNOWN 0x400000FEu /* not in the 2.1 table */

#define HV_HYPERCALL_ENABLE ((uint64_t)1 << 0)
#define HV_HYPERCALL_LOCKED ((uint64_t)1 << 1)
#define HV_PAGE_ENABLE ((uint64_t)1 << 0) /* SIMP, SIEFP, REFERENCE_TSC */
#define HV_SCONTROL_ENABLE ((uint64_t)1 << 0)
#define HV_SINT_MASKED ((uint64_t)1 << 16) /* 2.6 */
#define HV_SINT_AUTO_EOI ((uint64_t)1 << 17)
#define HV_SINT_RESET_VALUE ((uint64_t)0x10000)
#define HV_SVERSION_VALUE 1u
#define HV_CRASH_CTL_NOTIFY ((uint64_t)1 << 63) /* 2.8 */

/* STIMER config (2.7) */
#define HV_STIMER_ENABLE ((uint64_t)1 << 0)
#define HV_STIMER_PERIODIC ((uint64_t)1 << 1)
#define HV_STIMER_LAZY ((uint64_t)1 << 2)
#define HV_STIMER_AUTO_ENABLE ((uint64_t)1 << 3)
#define HV_STIMER_VECTOR(v) ((uint64_t)(v) << 4)
#define HV_STIMER_DIRECT ((uint64_t)1 << 12)
#define HV_STIMER_SINT(n) ((uint64_t)(n) << 16)

/* GUEST_OS_ID (2.2): open-source encoding, b63 = 1, OS type 1, build 1. */
#define HVT_GUEST_OS_ID ((uint64_t)0x8100000000000001)

/* ---- hypercalls (3.1, 3.5, 3.6) ---- */
#define HV_CONTROL_FAST ((uint64_t)1 << 16)
#define HV_CONTROL_REP_COUNT(n) ((uint64_t)(n) << 32)
#define HV_CONTROL_REP_START(n) ((uint64_t)(n) << 48)
#define HV_RESULT_STATUS(r) ((uint16_t)(r))
#define HV_RESULT_REPS(r) (((r) >> 32) & 0xFFFu)

#define HV_STATUS_SUCCESS 0x0000u
#define HV_STATUS_INVALID_HYPERCALL_CODE 0x0002u
#define HV_STATUS_INVALID_HYPERCALL_INPUT 0x0003u
#define HV_STATUS_INVALID_ALIGNMENT 0x0004u
#define HV_STATUS_INVALID_PARAMETER 0x0005u
#define HV_STATUS_ACCESS_DENIED 0x0006u
#define HV_STATUS_INVALID_CONNECTION_ID 0x0012u
#define HV_STATUS_INVALID_SYNIC_STATE 0x0018u

#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE 0x0002u
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST 0x0003u
#define HVCALL_NOTIFY_LONG_SPIN_WAIT 0x0008u
#define HVCALL_SEND_SYNTHETIC_CLUSTER_IPI 0x000Bu
#define HVCALL_GET_VP_REGISTERS 0x0050u
#define HVCALL_SET_VP_REGISTERS 0x0051u
#define HVCALL_POST_MESSAGE 0x005Cu
#define HVCALL_SIGNAL_EVENT 0x005Du
#define HVCALL_POST_DEBUG_DATA 0x0069u
#define HVCALL_RETRIEVE_DEBUG_DATA 0x006Au
#define HVCALL_RESET_DEBUG_SESSION 0x006Bu

#define HV_FLUSH_ALL_PROCESSORS ((uint64_t)1 << 0)
#define HV_PARTITION_ID_SELF ((uint64_t)0xFFFFFFFFFFFFFFFF) /* 3.4 */
#define HV_VP_INDEX_SELF 0xFFFFFFFEu
#define HV_REGISTER_GUEST_OS_ID 0x00090002u /* 2.10 */
#define HV_REGISTER_VP_INDEX 0x00090003u
#define HV_REGISTER_SINT0 0x000A0000u
#define HV_REGISTER_UNKNOWN 0x0009FFFFu /* not in the 2.10 table */

/* ---- SynIC (4.1, 4.2) ---- */
#define HVMSG_NONE 0x00000000u
#define HVMSG_TIMER_EXPIRED 0x80000010u
#define HV_MSG_FLAG_PENDING 0x01u
#define HV_MESSAGE_PAYLOAD_BYTES 240u

struct hv_message {
    volatile uint32_t type;
    volatile uint8_t payload_size;
    volatile uint8_t flags;
    uint16_t reserved;
    volatile uint64_t origin;
    volatile uint64_t payload[30];
};
_Static_assert(sizeof(struct hv_message) == 256, "hv_message is 256 bytes");

struct hv_timer_payload { /* 2.7 */
    uint32_t timer_index;
    uint32_t reserved;
    uint64_t expiration_time;
    uint64_t delivery_time;
};

struct hv_ref_tsc_page { /* 2.4 */
    volatile uint32_t sequence;
    uint32_t reserved;
    volatile uint64_t scale;
    volatile int64_t offset;
};

/* ---- x2APIC (guest contract 6 and ordinary x86) ---- */
#define MSR_IA32_APIC_BASE 0x1Bu
#define MSR_X2APIC_EOI 0x80Bu
#define MSR_X2APIC_SVR 0x80Fu

/* ---- reporting ---- */
#define HVT_MAX_VPS 8u

void hvt_count(int ok);
#define CHECK(cond, fmt, ...)                                                                       \
    ({                                                                                              \
        int ok_ = !!(cond);                                                                         \
        hvt_count(ok_);                                                                             \
        printf("%s " fmt "\n", ok_ ? "ok" : "FAIL", ##__VA_ARGS__);                                \
        ok_;                                                                                        \
    })
#define NOTE(fmt, ...) printf("# " fmt "\n", ##__VA_ARGS__)

/* Call first on every VP. VP 0 names the test; the others then call hvt_ap_main(). */
void hvt_init(const char *name, uint32_t vp);
void hvt_ap_main(void) __attribute__((noreturn));
/* VP 0: stops the other VPs, prints "NAME: N of M checks passed", returns the exit code. */
int hvt_finish(void);

/* Runs fn(arg) on the calling VP; an unexpected exception inside prints FAIL and returns. */
void hvt_run(const char *what, void (*fn)(void *), void *arg);
/* Runs fn(arg) (through hvt_run) on VP vp and waits up to timeout_us; 1 if it completed. */
int hvt_on_vp(uint32_t vp, void (*fn)(void *), void *arg, uint64_t timeout_us);
void hvt_start_on_vp(uint32_t vp, void (*fn)(void *), void *arg);
int hvt_wait_vp(uint32_t vp, uint64_t timeout_us);

/* ---- exceptions as values ---- */
#define HVT_SAFE_MAGIC 0x5AFEC0DE5AFEC0DEull
#define HVT_FAULT(vec, err) (0x100u | (uint32_t)(vec) | ((uint32_t)(err) << 16))
#define HVT_GP0 HVT_FAULT(13, 0)
#define HVT_UD HVT_FAULT(6, 0)
#define HVT_FAULT_VEC(f) ((f) & 0xFFu)
/* RIP of the last exception reported as a value on each VP (the faulting instruction). */
extern volatile uint64_t hvt_safe_fault_rip[HVT_MAX_VPS];

/* Returns 0, or HVT_FAULT(vector, error code) if the instruction raised an exception. */
static inline uint32_t hvt_rdmsr_safe(uint32_t msr, uint64_t *val)
{
    uint32_t lo, hi;
    uint64_t fault;
    __asm__ volatile("movabs %[magic], %%r9\n\t"
                     "lea 1f(%%rip), %%r10\n\t"
                     "xor %%eax, %%eax\n\t"
                     "xor %%edx, %%edx\n\t"
                     "rdmsr\n\t"
                     "xor %%r9d, %%r9d\n"
                     "1: mov %%r9, %[f]"
                     : "=&a"(lo), "=&d"(hi), [f] "=r"(fault)
                     : "c"(msr), [magic] "i"(HVT_SAFE_MAGIC)
                     : "r9", "r10", "memory");
    *val = fault ? 0 : ((uint64_t)hi << 32) | lo;
    return (uint32_t)fault;
}

static inline uint32_t hvt_wrmsr_safe(uint32_t msr, uint64_t val)
{
    uint64_t fault;
    __asm__ volatile("movabs %[magic], %%r9\n\t"
                     "lea 1f(%%rip), %%r10\n\t"
                     "wrmsr\n\t"
                     "xor %%r9d, %%r9d\n"
                     "1: mov %%r9, %[f]"
                     : [f] "=r"(fault)
                     : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)), [magic] "i"(HVT_SAFE_MAGIC)
                     : "r9", "r10", "memory");
    return (uint32_t)fault;
}

/* rdmsr that reports a fault as an all-ones value (for "read and compare" checks). */
static inline uint64_t hvt_rdmsr_or(uint32_t msr, uint64_t if_fault)
{
    uint64_t v;
    return hvt_rdmsr_safe(msr, &v) ? if_fault : v;
}

/* Messages print fault codes as hex: 0 = none, 0x10d = #GP(0), 0x106 = #UD. */

/* ---- interrupts ---- */
struct hvt_irq_vp {
    volatile uint32_t count[256];
    volatile uint64_t last_tsc[256];
    volatile uint64_t last_ref[256]; /* TIME_REF_COUNT read in the handler (0 if it faulted) */
};
extern struct hvt_irq_vp hvt_irq[HVT_MAX_VPS];
/* Called from the interrupt handler (after counting, before the EOI) if set. */
extern void (*volatile hvt_irq_hook)(uint32_t vp, uint32_t vector);
void hvt_apic_eoi(void);

/* ---- time ---- */
uint64_t hvt_tsc_hz(void);
uint64_t hvt_deadline_us(uint64_t us); /* TSC value us microseconds from now */
uint64_t hvt_ref_now(void);             /* TIME_REF_COUNT, or TSC-derived if the MSR faults */
void hvt_delay_us(uint64_t us);         /* busy wait with interrupts enabled */
/* Busy-waits (interrupts enabled) until TIME_REF_COUNT >= ref or max_us passed; 1 if reached. */
int hvt_wait_ref(uint64_t ref, uint64_t max_us);

/* Busy-waits (interrupts enabled) until cond or us microseconds passed; value of cond. */
#define HVT_WAIT(cond, us)                                                                          \
    ({                                                                                              \
        uint64_t dl_ = hvt_deadline_us(us);                                                         \
        sti();                                                                                      \
        while (!(cond) && rdtsc() < dl_)                                                            \
            pause();                                                                                \
        cli();                                                                                      \
        !!(cond);                                                                                   \
    })

/* ---- memory ---- */
void *hvt_alloc_page(void); /* zeroed, 4 KiB aligned, identity mapped free RAM */

/* ---- hypercalls ---- */
extern void *volatile hvt_hypercall_page;
extern volatile int hvt_hypercall_vmmcall; /* page holds VMMCALL (AMD) rather than VMCALL */
/* Sets GUEST_OS_ID (if 0) and enables the hypercall page at a fresh page; 1 if enabled. */
int hvt_hypercall_setup(void);

#define HVT_NO_PAGE 0xFFFFu
/* Hypercall through the page (3.2): RCX control, RDX input GPA / fast bytes 0-7, R8 output GPA /
 * fast bytes 8-15; returns RAX. */
static inline uint64_t hvt_hypercall(uint64_t control, uint64_t in, uint64_t out)
{
    uint64_t result;
    register uint64_t r8 __asm__("r8") = out;
    if (!hvt_hypercall_page)
        return HVT_NO_PAGE; /* never call through a missing page: report an impossible status */
    __asm__ volatile("call *%[pg]"
                     : "=a"(result), "+c"(control), "+d"(in), "+r"(r8)
                     : [pg] "m"(hvt_hypercall_page)
                     : "r9", "r10", "r11", "memory", "cc");
    return result;
}

static inline uint64_t hvt_hypercall_fast(uint64_t control, uint64_t in0, uint64_t in1)
{
    return hvt_hypercall(control | HV_CONTROL_FAST, in0, in1);
}

/* Inline VMCALL or VMMCALL (not through the page); returns 0 or the fault, *result = RAX. */
static inline uint32_t hvt_hypercall_inline_safe(int vmmcall, uint64_t control, uint64_t in, uint64_t out,
                                                 uint64_t *result)
{
    uint64_t fault, rax;
    register uint64_t r8 __asm__("r8") = out;
    if (vmmcall)
        __asm__ volatile("movabs %[magic], %%r9\n\t"
                         "lea 1f(%%rip), %%r10\n\t"
                         "xor %%eax, %%eax\n\t"
                         "vmmcall\n\t"
                         "xor %%r9d, %%r9d\n"
                         "1: mov %%r9, %[f]"
                         : [f] "=r"(fault), "=&a"(rax), "+c"(control), "+d"(in), "+r"(r8)
                         : [magic] "i"(HVT_SAFE_MAGIC)
                         : "r9", "r10", "r11", "memory", "cc");
    else
        __asm__ volatile("movabs %[magic], %%r9\n\t"
                         "lea 1f(%%rip), %%r10\n\t"
                         "xor %%eax, %%eax\n\t"
                         "vmcall\n\t"
                         "xor %%r9d, %%r9d\n"
                         "1: mov %%r9, %[f]"
                         : [f] "=r"(fault), "=&a"(rax), "+c"(control), "+d"(in), "+r"(r8)
                         : [magic] "i"(HVT_SAFE_MAGIC)
                         : "r9", "r10", "r11", "memory", "cc");
    *result = rax;
    return (uint32_t)fault;
}

/* ---- CPL 3 ---- */
struct hvt_user_fault {
    uint64_t vector, error_code, rip, cs;
};
/* Runs entry at CPL 3 (user stack, TSS.RSP0 moved to a private stack) until it raises an
 * exception, which ends user mode; *f describes that exception. entry must never return. */
void hvt_run_user(void (*entry)(void), struct hvt_user_fault *f);

/* ---- misc ---- */
struct cpuid_regs hvt_hv_features(void); /* leaf 0x40000003, or zeros if max leaf < 3 */
uint32_t hvt_max_hv_leaf(void);
/* 1 if the synthetic MSRs (and hypercalls) follow CPUID, as under hv-enforce-cpuid (1.8): the first
 * unadvertised family among VP_RUNTIME, TIME_REF_COUNT, SynIC, RESET, frequencies and
 * REENLIGHTENMENT raises #GP. 0 if it reads, or if all of them are advertised. */
int hvt_msrs_gated(void);

/* Atomically empties a message slot and writes EOM if the pending flag was set (4.4). */
void hvt_msg_consume(struct hv_message *m);

static inline uint64_t hvt_mul_hi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

#endif
