/* signal.c - how a channel notifies the host (PROTOCOL.md §5.8, §8.2).
 *
 * vmbus_setevent() is the one mechanism switch (Linux vmbus_setevent): a channel whose offer
 * allocated a monitor id, and that is not in low-latency mode, sets bit (id % 32) of
 * trigger_group[id / 32].pending in monitor page 2 with one locked instruction (the host scans the
 * page periodically; no hypercall); every other channel calls HvCallSignalEvent on the offer's
 * connection id. vmbus_signal_host() always makes the hypercall. Both count what they did in the
 * channel's sig_monitor / sig_hypercall. Callers decide whether a notification is due; this file
 * only carries it out. The < 2.4 interrupt page is never used (the library negotiates >= 2.4).
 */
#include "hvsim/hyperv.h"
#include "internal.h"

static void monitor_set_pending(volatile uint32_t *pending, uint32_t bit)
{
    __asm__ volatile("lock btsl %1, %0" : "+m"(*pending) : "r"(bit) : "memory", "cc");
}

int vmbus_signal_host(struct vmbus_channel *ch)
{
    atomic_fetch_add_u32(&ch->sig_hypercall, 1);
    return hv_signal_event(ch->connection_id, 0) == HV_STATUS_SUCCESS ? VMBUS_OK : VMBUS_EHV;
}

int vmbus_setevent(struct vmbus_channel *ch)
{
    if (!ch->monitored || ch->low_latency || !vmbus_conn.monitor_pages)
        return vmbus_signal_host(ch);
    struct vmbus_monitor_page *page = (struct vmbus_monitor_page *)(vmbus_conn.monitor_pages + VMBUS_PAGE_SIZE);
    uint32_t id = ch->monitor_id; /* < VMBUS_MONITOR_IDS, checked when the offer was kept */
    monitor_set_pending(&page->trigger_group[id / VMBUS_MONITOR_GROUP_BITS].pending, id % VMBUS_MONITOR_GROUP_BITS);
    atomic_fetch_add_u32(&ch->sig_monitor, 1);
    return VMBUS_OK;
}

void vmbus_set_channel_low_latency(struct vmbus_channel *ch, int on)
{
    ch->low_latency = on != 0;
}
