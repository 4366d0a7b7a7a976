/* hvsim/hyperv.h - the reusable Hyper-V guest runtime layer (written from PROTOCOL.md §1-4).
 *
 * Contract:
 *   - hv_init() runs once, on VP 0, before any other hv_* call: checks the Hyper-V interface
 *     (CPUID "Hv#1", SynIC and PostMessage/SignalEvent privileges), writes GUEST_OS_ID, enables
 *     the hypercall page and installs the wake-timer handler. It returns 0 or a negative HV_E*.
 *     Other VPs wait for hv_ready() before calling anything else.
 *   - hv_synic_enable() runs on each VP that takes SynIC interrupts: software-enables the local
 *     APIC (x2APIC), gives the VP its own message (SIMP) and event-flag (SIEFP) pages and sets
 *     SCONTROL; hv_sint_unmask() then routes one SINT to an IDT vector (no AutoEOI: the handler
 *     EOIs with lapic_eoi()).
 *   - Hypercalls go through the hypercall page; hv_post_message() uses the calling VP's private
 *     input page with interrupts disabled, so any VP may call it (also from an interrupt handler).
 *   - hv_wait() is the one way to block: sti; hlt until done() holds, each halt bounded by the
 *     local APIC TSC-deadline timer, so a wait always ends by its timeout.
 *   - Pages come from a bump allocator over the boot-info free memory (never freed).
 * Every value read back from the hypervisor is treated as untrusted by the callers.
 */
#ifndef HVSIM_HYPERV_H
#define HVSIM_HYPERV_H

#include <stdint.h>

/* ---- CPUID (§1.1-1.3) ---- */
#define HV_CPUID_VENDOR 0x40000000u
#define HV_CPUID_INTERFACE 0x40000001u
#define HV_CPUID_FEATURES 0x40000003u
#define HV_SIGNATURE_HV1 0x31237648u           /* "Hv#1" (§1.1) */
#define HV_ACCESS_TIME_REF_COUNT (1u << 1)     /* 0x40000003 EAX (§1.2) */
#define HV_ACCESS_SYNIC (1u << 2)
#define HV_ACCESS_HYPERCALL_MSRS (1u << 5)
#define HV_ACCESS_VP_INDEX (1u << 6)
#define HV_PRIV_POST_MESSAGES (1u << 4)        /* 0x40000003 EBX (§1.3) */
#define HV_PRIV_SIGNAL_EVENTS (1u << 5)

/* ---- synthetic MSRs (§2.1) ---- */
#define HV_MSR_GUEST_OS_ID 0x40000000u
#define HV_MSR_HYPERCALL 0x40000001u
#define HV_MSR_VP_INDEX 0x40000002u
#define HV_MSR_TIME_REF_COUNT 0x40000020u
#define HV_MSR_SCONTROL 0x40000080u
#define HV_MSR_SIEFP 0x40000082u
#define HV_MSR_SIMP 0x40000083u
#define HV_MSR_EOM 0x40000084u
#define HV_MSR_SINT0 0x40000090u
#define HV_MSR_SINT(n) (HV_MSR_SINT0 + (n))

#define HV_HYPERCALL_ENABLE ((uint64_t)1 << 0) /* §2.3 */
#define HV_PAGE_ENABLE ((uint64_t)1 << 0)      /* SIMP / SIEFP b0 (§2.1) */
#define HV_SCONTROL_ENABLE ((uint64_t)1 << 0)
#define HV_SINT_MASKED ((uint64_t)1 << 16)     /* §2.6 */
#define HV_SINT_AUTO_EOI ((uint64_t)1 << 17)
#define HV_SINT_COUNT 16u

/* GUEST_OS_ID (§2.2): open-source encoding b63 = 1, OS type 1, build 1. */
#define HV_GUEST_OS_ID_HVSIM ((uint64_t)0x8100000000000001)

/* ---- hypercalls (§3.1, §3.5, §3.6) ---- */
#define HV_CONTROL_FAST ((uint64_t)1 << 16)
#define HV_RESULT_STATUS(r) ((uint16_t)(r))

#define HV_STATUS_SUCCESS 0x0000u
#define HV_STATUS_INVALID_PARAMETER 0x0005u
#define HV_STATUS_ACCESS_DENIED 0x0006u
#define HV_STATUS_INSUFFICIENT_MEMORY 0x000Bu
#define HV_STATUS_INVALID_CONNECTION_ID 0x0012u
#define HV_STATUS_INSUFFICIENT_BUFFERS 0x0013u
#define HV_STATUS_INVALID_SYNIC_STATE 0x0018u
#define HV_STATUS_NO_PAGE 0xFFFFu /* hvsim guest: no hypercall page, the call was not made */

#define HVCALL_POST_MESSAGE 0x005Cu
#define HVCALL_SIGNAL_EVENT 0x005Du
#define HV_MESSAGE_PAYLOAD_BYTES 240u /* PostMessage payload limit (§3.6, §4.1) */

/* ---- SynIC (§4.1-4.3) ---- */
#define HVMSG_NONE 0x00000000u
#define HV_MSG_FLAG_PENDING 0x01u
#define HV_EVENT_FLAGS_COUNT 2048u /* per SINT bitmap (§4.3) */

struct hv_message {
    volatile uint32_t type;
    volatile uint8_t payload_size;
    volatile uint8_t flags;
    uint16_t reserved;
    volatile uint64_t origin;
    volatile uint64_t payload[30];
};
_Static_assert(sizeof(struct hv_message) == 256, "hv_message is 256 bytes (§4.1)");

/* ---- errors returned by this layer ---- */
#define HV_E_NO_HYPERV (-1)   /* no "Hv#1" interface or a needed feature/privilege is missing */
#define HV_E_MSR (-2)         /* an MSR write did not take effect */
#define HV_E_NO_MEMORY (-3)

/* ---- setup ---- */
int hv_init(void);
int hv_ready(void); /* 1 once hv_init() succeeded */
int hv_synic_enable(void);
void hv_sint_unmask(unsigned sint, uint8_t vector);

/* ---- per-VP facts ---- */
uint32_t hv_vp_index(void);             /* VP_INDEX of the calling VP (read once per VP) */
uint64_t hv_time_ref_count(void);       /* TIME_REF_COUNT, 100 ns units */

/* ---- hypercalls ---- */
uint64_t hv_hypercall(uint64_t control, uint64_t in_gpa, uint64_t out_gpa);
uint64_t hv_hypercall_fast(uint64_t control, uint64_t in0, uint64_t in1);
/* HvCallPostMessage (0x5C) from the calling VP's input page; returns the HV status. */
uint16_t hv_post_message(uint32_t connection_id, uint32_t message_type, const void *payload, uint32_t size);
/* HvCallSignalEvent (0x5D), fast: connection id | flag << 32; returns the HV status. */
uint16_t hv_signal_event(uint32_t connection_id, uint16_t flag);

/* ---- SynIC pages of the calling VP ---- */
struct hv_message *hv_sint_slot(unsigned sint);
volatile uint64_t *hv_sint_event_flags(unsigned sint); /* 2048 bits = 32 qwords */
/* Releases a consumed slot: type = NONE (atomic exchange, a full barrier), then EOM if msg_pending. */
void hv_message_release(struct hv_message *m);
void hv_eom(void);

/* ---- local APIC (x2APIC), needed to take SynIC interrupts ---- */
void lapic_eoi(void);

/* ---- waiting and memory ---- */
/* Returns done(arg) != 0 once it holds, or 0 after timeout_us of TSC time. done is evaluated with
 * interrupts disabled; between evaluations the VP halts with interrupts enabled. */
int hv_wait(int (*done)(void *arg), void *arg, uint64_t timeout_us);
void hv_delay_us(uint64_t us);
/* Wakes runtime VP `vp` from an hv_wait halt (an IPI on the wake vector) so it re-checks done(). */
void hv_kick(uint32_t vp);
uint64_t hv_tsc_per_us(void);
void *hv_alloc_pages(uint32_t count); /* zeroed, 4 KiB aligned, identity mapped; 0 if exhausted */
static inline uint64_t hv_gpa(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

#endif
