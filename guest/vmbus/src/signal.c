/* signal.c - how a channel notifies the host (PROTOCOL.md §5.8, §8.2).
 *
 * vmbus_setevent() is the one mechanism switch (Linux vmbus_setevent): a channel whose offer
 * allocated a monitor id, and that is not in low-latency mode, sets bit (id % 32) of
 * trigger_group[id / 32].pending in the child->parent monitor page (monitor page 2 of
 * INITIATE_CONTACT, or the one a later MODIFY_CONNECTION named) with one locked instruction (the
 * host scans the page periodically; no hypercall); every other channel, and every channel once
 * MODIFY_CONNECTION dropped the monitor pages, calls HvCallSignalEvent on the channel's
 * signal_connection_id (the offer's connection id, or at 6.0 the one its OpenChannel2 named).
 * vmbus_signal_host() always makes the hypercall. Both count what they did in the channel's
 * sig_monitor / sig_hypercall. Callers decide whether a notification is due; this file only
 * carries it out.
 * Below 2.4 (§5.9) a hypercall signal of a channel without a dedicated interrupt (every channel at
 * 0.13, whose connection id is then VMBUS_EVENT_CONNECTION_ID; at 1.1 as the offer says) first
 * sets bit relid of the interrupt page's guest->host half with one locked instruction, so the
 * host can tell which channel signalled (counted in sig_page). From 2.4 on the page is not used.
 */
#include "hvsim/hyperv.h"
#include "internal.h"

static void set_bit_locked(volatile uint32_t *word, uint32_t bit)
{
    __asm__ volatile("lock btsl %1, %0" : "+m"(*word) : "r"(bit) : "memory", "cc");
}

int vmbus_signal_host(struct vmbus_channel *ch)
{
    if (!ch->dedicated_interrupt && vmbus_legacy_interrupts()) {
        volatile uint32_t *guest_to_host =
            (volatile uint32_t *)(vmbus_conn.interrupt_page + VMBUS_INTERRUPT_PAGE_HALF);
        set_bit_locked(&guest_to_host[ch->relid / 32u], ch->relid % 32u); /* relid <= 2047: checked at offer */
        atomic_fetch_add_u32(&ch->sig_page, 1);
    }
    atomic_fetch_add_u32(&ch->sig_hypercall, 1);
    return hv_signal_event(ch->signal_connection_id, 0) == HV_STATUS_SUCCESS ? VMBUS_OK : VMBUS_EHV;
}

int vmbus_setevent(struct vmbus_channel *ch)
{
    struct vmbus_monitor_page *page = vmbus_conn.monitor_trigger;
    if (!ch->monitored || ch->low_latency || !page)
        return vmbus_signal_host(ch);
    uint32_t id = ch->monitor_id; /* < VMBUS_MONITOR_IDS, checked when the offer was kept */
    set_bit_locked(&page->trigger_group[id / VMBUS_MONITOR_GROUP_BITS].pending, id % VMBUS_MONITOR_GROUP_BITS);
    atomic_fetch_add_u32(&ch->sig_monitor, 1);
    return VMBUS_OK;
}

void vmbus_set_channel_low_latency(struct vmbus_channel *ch, int on)
{
    ch->low_latency = on != 0;
}
