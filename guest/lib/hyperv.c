/* hyperv.c - the Hyper-V guest runtime layer (API and contract in hvsim/hyperv.h).
 *
 * Facts from PROTOCOL.md: CPUID §1.1-1.3, MSRs §2.1-2.3 and §2.6, hypercall ABI §3.1-3.2 and
 * §3.6 (PostMessage 0x5C input: 0 connection id, 8 message type, 12 payload size, 16 payload;
 * SignalEvent 0x5D fast: connection id | flag << 32), SynIC slots and EOM §4.1-4.4. The local APIC
 * is programmed per the guest contract §6a (x2APIC, SVR bit 8, TSC-deadline timer).
 */
#include "hvsim/boot_info.h"
#include "hvsim/console.h"
#include "hvsim/cpu.h"
#include "hvsim/hyperv.h"
#include "hvsim/idt.h"
#include "hvsim/string.h"
#include "hvsim/sync.h"
#include "hvsim/vp.h"

#define PAGE_SIZE 4096u
#define MAX_VPS 64u

#define MSR_IA32_APIC_BASE 0x1Bu
#define MSR_IA32_TSC_DEADLINE 0x6E0u
#define MSR_X2APIC_EOI 0x80Bu
#define MSR_X2APIC_SVR 0x80Fu
#define MSR_X2APIC_LVT_TIMER 0x832u
#define MSR_X2APIC_ID 0x802u
#define MSR_X2APIC_ICR 0x830u
#define APIC_BASE_X2APIC ((uint64_t)3 << 10) /* EN | EXTD */
#define APIC_SVR_ENABLE 0x100u
#define LVT_TIMER_TSC_DEADLINE (2u << 17)
#define WAKE_VECTOR 0xEEu /* the TSC-deadline timer that bounds every hv_wait halt */

struct hv_vp {
    uint32_t vp_index;
    uint32_t apic_id;
    uint32_t flags;
    struct hv_message *simp;
    uint8_t *siefp;
    uint8_t *post_page;
};
#define VP_INDEX_READ 1u
#define VP_APIC_READY 2u

static struct hv_vp vps[MAX_VPS];
static volatile uint32_t ready;
static uint8_t *hypercall_page;
static uint64_t tsc_per_us = 1;
static spinlock_t alloc_lock = SPINLOCK_INIT;
static uint64_t alloc_next, alloc_end;

/* The runtime slot of the calling VP (its boot-stack owner), or 0 off any boot stack. */
static struct hv_vp *me(void)
{
    uint32_t vp = this_vp();
    return &vps[vp < MAX_VPS ? vp : 0];
}

void *hv_alloc_pages(uint32_t count)
{
    uint64_t flags = read_rflags();
    cli();
    spin_lock(&alloc_lock);
    if (!alloc_next) {
        alloc_next = (hvsim_boot->free_mem_start + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
        alloc_end = hvsim_boot->free_mem_end;
    }
    uint64_t p = alloc_next, bytes = (uint64_t)count * PAGE_SIZE;
    int ok = count && p + bytes <= alloc_end && p + bytes > p;
    if (ok)
        alloc_next = p + bytes;
    spin_unlock(&alloc_lock);
    write_rflags(flags);
    if (!ok)
        return 0;
    memset((void *)(uintptr_t)p, 0, bytes);
    return (void *)(uintptr_t)p;
}

uint64_t hv_tsc_per_us(void)
{
    return tsc_per_us;
}

static void on_wake_timer(struct trap_frame *tf)
{
    (void)tf;
    lapic_eoi();
}

void lapic_eoi(void)
{
    wrmsr(MSR_X2APIC_EOI, 0);
}

static void lapic_setup(struct hv_vp *v)
{
    if (v->flags & VP_APIC_READY)
        return;
    wrmsr(MSR_IA32_APIC_BASE, rdmsr(MSR_IA32_APIC_BASE) | APIC_BASE_X2APIC);
    wrmsr(MSR_X2APIC_SVR, (rdmsr(MSR_X2APIC_SVR) & ~0xFFull) | APIC_SVR_ENABLE | 0xFF);
    wrmsr(MSR_X2APIC_LVT_TIMER, WAKE_VECTOR | LVT_TIMER_TSC_DEADLINE);
    v->apic_id = (uint32_t)rdmsr(MSR_X2APIC_ID);
    __asm__ volatile("" ::: "memory");
    v->flags |= VP_APIC_READY;
}

int hv_init(void)
{
    if (!(cpuid(1, 0).ecx & (1u << 31)) || cpuid(HV_CPUID_VENDOR, 0).eax < HV_CPUID_FEATURES ||
        cpuid(HV_CPUID_INTERFACE, 0).eax != HV_SIGNATURE_HV1)
        return HV_E_NO_HYPERV;
    struct cpuid_regs f = cpuid(HV_CPUID_FEATURES, 0);
    uint32_t need_a = HV_ACCESS_SYNIC | HV_ACCESS_HYPERCALL_MSRS | HV_ACCESS_VP_INDEX | HV_ACCESS_TIME_REF_COUNT;
    uint32_t need_b = HV_PRIV_POST_MESSAGES | HV_PRIV_SIGNAL_EVENTS;
    if ((f.eax & need_a) != need_a || (f.ebx & need_b) != need_b)
        return HV_E_NO_HYPERV;
    uint64_t per_us = hvsim_boot->tsc_hz / 1000000u;
    tsc_per_us = per_us ? per_us : 1;

    /* GUEST_OS_ID first, then the hypercall page (§2.2, §2.3). */
    if (!rdmsr(HV_MSR_GUEST_OS_ID))
        wrmsr(HV_MSR_GUEST_OS_ID, HV_GUEST_OS_ID_HVSIM);
    uint8_t *page = hv_alloc_pages(1);
    if (!page)
        return HV_E_NO_MEMORY;
    uint64_t v = rdmsr(HV_MSR_HYPERCALL) & 0xFFCull; /* keep RsvdP [11:2] */
    wrmsr(HV_MSR_HYPERCALL, hv_gpa(page) | v | HV_HYPERCALL_ENABLE);
    if (!(rdmsr(HV_MSR_HYPERCALL) & HV_HYPERCALL_ENABLE))
        return HV_E_MSR;
    hypercall_page = page;

    idt_set_handler(WAKE_VECTOR, on_wake_timer);
    lapic_setup(me());
    __asm__ volatile("mfence" ::: "memory");
    ready = 1;
    return 0;
}

int hv_ready(void)
{
    return (int)atomic_load_u32(&ready);
}

uint32_t hv_vp_index(void)
{
    struct hv_vp *v = me();
    if (this_vp() >= MAX_VPS)
        return (uint32_t)rdmsr(HV_MSR_VP_INDEX);
    if (!(v->flags & VP_INDEX_READ)) {
        v->vp_index = (uint32_t)rdmsr(HV_MSR_VP_INDEX);
        v->flags |= VP_INDEX_READ;
    }
    return v->vp_index;
}

uint64_t hv_time_ref_count(void)
{
    return rdmsr(HV_MSR_TIME_REF_COUNT);
}

int hv_synic_enable(void)
{
    struct hv_vp *v = me();
    lapic_setup(v);
    hv_vp_index();
    if (!v->simp) {
        v->simp = hv_alloc_pages(1);
        v->siefp = hv_alloc_pages(1);
        v->post_page = hv_alloc_pages(1);
        if (!v->simp || !v->siefp || !v->post_page)
            return HV_E_NO_MEMORY;
    }
    /* Linux order (§2.6): SIMP, SIEFP, SINTs, then SCONTROL; RsvdP bits preserved. */
    wrmsr(HV_MSR_SIMP, (rdmsr(HV_MSR_SIMP) & 0xFFEull) | hv_gpa(v->simp) | HV_PAGE_ENABLE);
    wrmsr(HV_MSR_SIEFP, (rdmsr(HV_MSR_SIEFP) & 0xFFEull) | hv_gpa(v->siefp) | HV_PAGE_ENABLE);
    wrmsr(HV_MSR_SCONTROL, rdmsr(HV_MSR_SCONTROL) | HV_SCONTROL_ENABLE);
    if ((rdmsr(HV_MSR_SIMP) & ~0xFFFull) != hv_gpa(v->simp) || !(rdmsr(HV_MSR_SCONTROL) & HV_SCONTROL_ENABLE))
        return HV_E_MSR;
    return 0;
}

void hv_sint_unmask(unsigned sint, uint8_t vector)
{
    uint64_t v = rdmsr(HV_MSR_SINT(sint & 15u));
    v &= ~(HV_SINT_MASKED | HV_SINT_AUTO_EOI | 0xFFull); /* unmasked, no AutoEOI, new vector */
    wrmsr(HV_MSR_SINT(sint & 15u), v | vector);
}

struct hv_message *hv_sint_slot(unsigned sint)
{
    struct hv_message *m = me()->simp;
    return m ? &m[sint & 15u] : 0;
}

volatile uint64_t *hv_sint_event_flags(unsigned sint)
{
    uint8_t *p = me()->siefp;
    return p ? (volatile uint64_t *)(p + (sint & 15u) * 256u) : 0;
}

void hv_eom(void)
{
    wrmsr(HV_MSR_EOM, 0);
}

void hv_message_release(struct hv_message *m)
{
    uint32_t none = HVMSG_NONE;
    __asm__ volatile("xchgl %0, %1" : "+r"(none), "+m"(m->type) : : "memory");
    if (m->flags & HV_MSG_FLAG_PENDING)
        hv_eom();
}

uint64_t hv_hypercall(uint64_t control, uint64_t in_gpa, uint64_t out_gpa)
{
    uint64_t result;
    register uint64_t r8 __asm__("r8") = out_gpa;
    if (!hypercall_page)
        return HV_STATUS_NO_PAGE;
    __asm__ volatile("call *%[pg]"
                     : "=a"(result), "+c"(control), "+d"(in_gpa), "+r"(r8)
                     : [pg] "r"(hypercall_page)
                     : "r9", "r10", "r11", "memory", "cc");
    return result;
}

uint64_t hv_hypercall_fast(uint64_t control, uint64_t in0, uint64_t in1)
{
    return hv_hypercall(control | HV_CONTROL_FAST, in0, in1);
}

uint16_t hv_post_message(uint32_t connection_id, uint32_t message_type, const void *payload, uint32_t size)
{
    if (size > HV_MESSAGE_PAYLOAD_BYTES)
        return HV_STATUS_INVALID_PARAMETER;
    uint64_t flags = read_rflags();
    cli();
    struct hv_vp *v = me();
    if (!v->post_page)
        v->post_page = hv_alloc_pages(1);
    uint16_t status = HV_STATUS_NO_PAGE;
    if (v->post_page) {
        uint8_t *in = v->post_page;
        uint32_t hdr[4] = {connection_id, 0, message_type, size};
        memcpy(in, hdr, sizeof(hdr));
        memcpy(in + sizeof(hdr), payload, size);
        status = HV_RESULT_STATUS(hv_hypercall(HVCALL_POST_MESSAGE, hv_gpa(in), 0));
    }
    write_rflags(flags);
    return status;
}

uint16_t hv_signal_event(uint32_t connection_id, uint16_t flag)
{
    return HV_RESULT_STATUS(hv_hypercall_fast(HVCALL_SIGNAL_EVENT, connection_id | ((uint64_t)flag << 32), 0));
}

int hv_wait(int (*done)(void *arg), void *arg, uint64_t timeout_us)
{
    uint64_t flags = read_rflags();
    uint64_t deadline = rdtsc() + timeout_us * tsc_per_us;
    lapic_setup(me());
    int r;
    for (;;) {
        cli();
        r = done(arg);
        if (r || rdtsc() >= deadline)
            break;
        wrmsr(MSR_IA32_TSC_DEADLINE, deadline); /* same value again is ignored */
        __asm__ volatile("sti; hlt" ::: "memory"); /* the STI shadow covers HLT: no lost wake-up */
    }
    wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    write_rflags(flags);
    return r;
}

void hv_kick(uint32_t vp)
{
    if (vp >= MAX_VPS || !(vps[vp].flags & VP_APIC_READY))
        return;
    wrmsr(MSR_X2APIC_ICR, ((uint64_t)vps[vp].apic_id << 32) | WAKE_VECTOR); /* fixed, edge, physical */
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

void hv_delay_us(uint64_t us)
{
    hv_wait(never, 0, us);
}
