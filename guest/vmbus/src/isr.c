/* isr.c - per-VP SynIC setup and the SINT2 interrupt handler (PROTOCOL.md §4.3, §4.4, §5.9, §9.2).
 *
 * The handler runs on whichever VP took SINT2. Event flags first: every set bit of this VP's SIEF
 * SINT2 bitmap is test-and-cleared with `lock btr`; bit 0 is skipped; the channel is looked up by
 * its event flag (offers.c: the relid, or at 6.0 the flag its OpenChannel2 named; only channels
 * opening, open or closing hold one), so an interrupt still latched on a VP the channel no longer
 * targets is served too. A set bit no channel holds is counted in unclaimed_interrupts.
 * Below VMBus 2.4 the per-channel bits live in the host->guest half of the shared interrupt page
 * (§5.9): only SIEF SINT2 bit 0 is test-and-cleared (other SIEF bits are left as they are), and
 * if it was set the page's bits 0..2047 (bit n = relid n, the event flag of every channel then)
 * are scanned and dispatched the same way (counted in the channel's page_interrupts); bits past
 * relid 2047 are never read.
 * Then the message slot: each message is copied into the FIFO and the slot released (NONE, then
 * EOM if msg_pending). When the FIFO is full the message stays in the slot, which holds back
 * the host's queue until the main context has made room and drains the slot itself.
 */
#include "hvsim/console.h"
#include "hvsim/cpu.h"
#include "hvsim/hyperv.h"
#include "hvsim/idt.h"
#include "hvsim/string.h"
#include "hvsim/vp.h"
#include "internal.h"

#define AP_READY_WAIT_CYCLES 400000000ull

static int test_and_clear(volatile uint64_t *word, unsigned bit)
{
    uint8_t was;
    __asm__ volatile("lock btrq %2, %0; setc %1" : "+m"(*word), "=q"(was) : "r"((uint64_t)bit) : "memory", "cc");
    return was;
}

/* Runs the callbacks of the channels flagged in `flags` (bit n = event flag n, 64 * words bits);
 * returns how many ran. Inlined into both callers, as the one scan was before the legacy page: the
 * out-of-line copy shifted the ring code so that two pairs of its hot return addresses shared
 * entries of Unicorn's jump cache, and the V1 echo benchmark ran 5% slower (bench/README.md). */
static inline __attribute__((always_inline)) unsigned run_flagged(volatile uint64_t *flags, unsigned words,
                                                                  int from_page)
{
    unsigned ran = 0;
    for (unsigned w = 0; w < words; w++) {
        uint64_t bits = flags[w];
        while (bits) {
            unsigned bit = (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (!test_and_clear(&flags[w], bit))
                continue;
            uint32_t flag = w * 64u + bit;
            struct vmbus_channel *ch = flag ? vmbus_event_flag_to_channel(flag) : 0;
            if (!ch) {
                if (flag)
                    atomic_fetch_add_u32(&vmbus_conn.unclaimed_interrupts, 1);
                continue;
            }
            ch->interrupts++;
            ch->page_interrupts += from_page != 0;
            vmbus_channel_dispatch(ch);
            ran++;
        }
    }
    return ran;
}

/* Runs the callbacks of the channels flagged for this VP; returns how many ran. */
static unsigned scan_event_flags(void)
{
    volatile uint64_t *flags = hv_sint_event_flags(VMBUS_SINT);
    if (!flags)
        return 0;
    if (!vmbus_legacy_interrupts())
        return run_flagged(flags, HV_EVENT_FLAGS_COUNT / 64u, 0);
    if (!test_and_clear(flags, 0) || !vmbus_conn.interrupt_page)
        return 0;
    return run_flagged((volatile uint64_t *)vmbus_conn.interrupt_page, (VMBUS_MAX_RELID + 1u) / 64u, 1);
}

static void copy_payload(struct vmbus_fifo_msg *e, const struct hv_message *m)
{
    for (unsigned i = 0; i < VMBUS_MAX_MESSAGE / 8u; i++) {
        uint64_t q = m->payload[i];
        memcpy(e->data + 8u * i, &q, 8);
    }
}

#ifdef HVSIM_BUGGY_DOUBLE_FETCH_MESSAGE
/* Deliberate bug for guest/buggy: the handler reads only the type and size from the slot and
 * queues an entry naming the slot; vmbus_fifo_pop (the main context, a bottom half) fetches the
 * body from the slot again and frees it. Until then the message must not be queued twice. */
static int slot_queued(const struct hv_message *m)
{
    for (uint32_t i = vmbus_conn.fifo_head; i != vmbus_conn.fifo_tail; i++)
        if (vmbus_conn.fifo[i % VMBUS_FIFO_LEN].slot == m)
            return 1;
    return 0;
}
#endif

void vmbus_drain_slot(void)
{
    struct hv_message *m = hv_sint_slot(VMBUS_SINT);
    if (!m)
        return;
    for (;;) {
        uint32_t type = m->type;
        if (type == HVMSG_NONE)
            return;
        vmbus_barrier(); /* type read before the payload */
        spin_lock(&vmbus_conn.fifo_lock);
        uint32_t tail = vmbus_conn.fifo_tail;
        int full = tail - vmbus_conn.fifo_head >= VMBUS_FIFO_LEN;
#ifdef HVSIM_BUGGY_DOUBLE_FETCH_MESSAGE
        full = full || slot_queued(m);
#endif
        if (!full && type == VMBUS_MESSAGE_TYPE) {
            struct vmbus_fifo_msg *e = &vmbus_conn.fifo[tail % VMBUS_FIFO_LEN];
            uint32_t size = m->payload_size;
            e->size = size > VMBUS_MAX_MESSAGE ? VMBUS_MAX_MESSAGE : size;
#ifdef HVSIM_BUGGY_DOUBLE_FETCH_MESSAGE
            e->slot = m;
#else
            copy_payload(e, m);
#endif
            vmbus_conn.fifo_tail = tail + 1;
        }
        spin_unlock(&vmbus_conn.fifo_lock);
        if (full)
            return;
#ifdef HVSIM_BUGGY_DOUBLE_FETCH_MESSAGE
        if (type == VMBUS_MESSAGE_TYPE)
            return; /* the bottom half frees the slot */
#endif
        hv_message_release(m); /* other message types are dropped (none are expected on SINT2) */
    }
}

int vmbus_fifo_pop(struct vmbus_fifo_msg *out)
{
    uint64_t flags = read_rflags();
    cli();
    spin_lock(&vmbus_conn.fifo_lock);
    int got = vmbus_conn.fifo_head != vmbus_conn.fifo_tail;
    if (got) {
        *out = vmbus_conn.fifo[vmbus_conn.fifo_head % VMBUS_FIFO_LEN];
#ifdef HVSIM_BUGGY_DOUBLE_FETCH_MESSAGE
        copy_payload(out, out->slot); /* deliberate bug for guest/buggy: the second fetch */
        hv_message_release(out->slot);
#endif
        vmbus_conn.fifo_head++;
    }
    spin_unlock(&vmbus_conn.fifo_lock);
    write_rflags(flags);
    return got;
}

int vmbus_fifo_empty(void)
{
    return atomic_load_u32(&vmbus_conn.fifo_head) == atomic_load_u32(&vmbus_conn.fifo_tail);
}

static void vmbus_isr(struct trap_frame *tf)
{
    (void)tf;
    int callbacks = scan_event_flags();
    uint32_t tail = atomic_load_u32(&vmbus_conn.fifo_tail);
    vmbus_drain_slot();
    int queued = atomic_load_u32(&vmbus_conn.fifo_tail) != tail;
#ifdef HVSIM_BUGGY_NO_CROSS_VP_WAKE
    queued = 0; /* deliberate bug for guest/buggy: messages queued here do not wake the main context */
#endif
    /* The main context may be halted waiting for a callback's effect or for a message that
     * arrived on this VP (e.g. UNLOAD_RESPONSE on another VP than the connect VP). */
    if ((callbacks || queued) && this_vp() != vmbus_conn.main_vp)
        hv_kick(vmbus_conn.main_vp);
    lapic_eoi();
}

uint32_t vmbus_unclaimed_interrupts(void)
{
    return atomic_load_u32(&vmbus_conn.unclaimed_interrupts);
}

int vmbus_vp_init(void)
{
    idt_install();
    if (this_vp() == 0) {
        idt_set_handler(VMBUS_SINT_VECTOR, vmbus_isr);
        int r = hv_init();
        if (r)
            return r;
    } else {
        uint64_t deadline = rdtsc() + AP_READY_WAIT_CYCLES;
        while (!hv_ready() && rdtsc() < deadline)
            pause();
        if (!hv_ready())
            return HV_E_NO_HYPERV;
    }
    int r = hv_synic_enable();
    if (r)
        return r;
    hv_sint_unmask(VMBUS_SINT, VMBUS_SINT_VECTOR);
    atomic_fetch_add_u32(&vmbus_conn.vps_ready, 1);
    return 0;
}

void vmbus_ap_idle(void)
{
    for (;;)
        __asm__ volatile("sti; hlt" ::: "memory");
}
