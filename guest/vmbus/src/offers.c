/* offers.c - the offer table, drivers, rescind and relid release (PROTOCOL.md §5.4, §5.6, §10).
 *
 * The table holds VMBUS_MAX_CHANNELS channels, primaries and sub-channels alike; it, the relid ->
 * slot map and the event flag -> slot map (the SINT2 handler's lookup, internal.h) are allocated
 * once, by the first vmbus_connect (vmbus_offers_init).
 * OFFERCHANNEL is validated before anything is kept: relid 1..2047, not already in use (a
 * duplicate is a protocol error, printed and ignored), a non-zero event connection id. At 0.13
 * the offer's connection_id and is_dedicated_interrupt are ignored, as old Linux did: every
 * channel signals VMBUS_EVENT_CONNECTION_ID through the interrupt page (signal.c). An offer
 * the guest cannot hold (table full, no connection id) is answered at once with RELID_RELEASED,
 * as Linux does when offer processing fails. A monitor id (monitor_allocated b0) is kept only if
 * it is below 128 (otherwise a protocol error, and the channel signals by hypercall). A
 * sub-channel is linked to its primary (subchannel.c).
 * vmbus_poll() announces new offers: a primary to the offer hook and then to the first driver of
 * its class; a sub-channel to the offer hook and then to its primary's sc_create_callback.
 * RESCIND marks the channel (every wait on it ends with VMBUS_ENODEV; callbacks stop) and leaves
 * the clean-up to vmbus_poll(): a primary's rescinded sub-channels first (§10.2), then the
 * channel's rescind callback, the driver's remove(), close if still open, teardown of the
 * channel's remaining GPADLs, then RELID_RELEASED and the slot is free again. A rescind for an
 * unknown relid, or a second rescind, is ignored.
 * After UNLOAD (vmbus_offers_reset) the table is emptied without RELID_RELEASED, so that a new
 * connection's offers find every relid free.
 */
#include "hvsim/console.h"
#include "hvsim/cpu.h"
#include "hvsim/hyperv.h"
#include "hvsim/string.h"
#include "internal.h"

/* The channel slots and the relid -> slot map are allocated by the first vmbus_connect (zeroed by
 * hv_alloc_pages with 8-byte stores), not in .bss: start.S clears .bss a byte per emulated
 * instruction, and 78 KiB of it would delay every VMBus guest's boot by ~40 us of virtual time.
 * Slots are taken lowest first, so every scan stops at slots_used. */
static struct vmbus_channel *channels;  /* VMBUS_MAX_CHANNELS slots */
static volatile uint16_t *relid_slot;   /* VMBUS_MAX_RELID + 1 entries: slot + 1; 0 = no channel */
static volatile uint16_t *flag_slot;    /* HV_EVENT_FLAGS_COUNT entries: slot + 1; 0 = no channel */
static uint32_t slots_used;             /* slots [0, slots_used) have held a channel */
_Static_assert(VMBUS_MAX_CHANNELS < 0xFFFFu, "relid_slot holds slot + 1 in 16 bits");

int vmbus_offers_init(void)
{
    if (channels)
        return VMBUS_OK;
    uint64_t map_offset = (uint64_t)VMBUS_MAX_CHANNELS * sizeof(struct vmbus_channel);
    uint64_t flag_offset = map_offset + (VMBUS_MAX_RELID + 1u) * sizeof(uint16_t);
    uint64_t bytes = flag_offset + HV_EVENT_FLAGS_COUNT * sizeof(uint16_t);
    uint8_t *mem = hv_alloc_pages((uint32_t)((bytes + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE));
    if (!mem)
        return VMBUS_ENOMEM;
    relid_slot = (volatile uint16_t *)(mem + map_offset);
    flag_slot = (volatile uint16_t *)(mem + flag_offset);
    vmbus_barrier();
    channels = (struct vmbus_channel *)mem; /* published last: the SINT2 handler tests it */
    return VMBUS_OK;
}

struct vmbus_channel *vmbus_relid_to_channel(uint32_t relid)
{
    if (relid == 0 || relid > VMBUS_MAX_RELID || !channels)
        return 0;
    uint32_t s = relid_slot[relid];
    if (!s)
        return 0;
    struct vmbus_channel *ch = &channels[s - 1];
    return ch->relid == relid && ch->state != VMBUS_CH_FREE ? ch : 0;
}

int vmbus_event_flag_claim(struct vmbus_channel *ch, uint32_t flag)
{
    uint16_t mine = (uint16_t)(ch - channels + 1);
    if (flag < HV_EVENT_FLAGS_COUNT && flag_slot[flag] && flag_slot[flag] != mine)
        return VMBUS_EINVAL;
    ch->event_flag = (uint16_t)flag;
    if (flag < HV_EVENT_FLAGS_COUNT) /* a larger one is not held: the host must refuse it (channel.c) */
        flag_slot[flag] = mine;
    return VMBUS_OK;
}

void vmbus_event_flag_release(struct vmbus_channel *ch)
{
    uint32_t flag = ch->event_flag;
    if (flag < HV_EVENT_FLAGS_COUNT && flag_slot[flag] == (uint16_t)(ch - channels + 1))
        flag_slot[flag] = 0;
}

struct vmbus_channel *vmbus_event_flag_to_channel(uint32_t flag)
{
    if (flag >= HV_EVENT_FLAGS_COUNT || !channels)
        return 0;
    uint32_t s = flag_slot[flag];
    if (!s)
        return 0;
    struct vmbus_channel *ch = &channels[s - 1];
    uint32_t state = ch->state;
    return ch->event_flag == flag && state >= VMBUS_CH_OPENING ? ch : 0;
}

struct vmbus_channel *vmbus_channel_at(uint32_t i)
{
    return i < slots_used ? &channels[i] : 0;
}

struct vmbus_channel *vmbus_find_channel(const struct vmbus_guid *class_id)
{
    for (uint32_t i = 0; i < slots_used; i++) {
        struct vmbus_channel *ch = &channels[i];
        if (ch->state != VMBUS_CH_FREE && !ch->rescinded && ch->sub_channel_index == 0 &&
            vmbus_guid_equal(&ch->if_type, class_id))
            return ch;
    }
    return 0;
}

void vmbus_register_driver(struct vmbus_driver *drv)
{
    if (vmbus_conn.driver_count < VMBUS_MAX_DRIVERS)
        vmbus_conn.drivers[vmbus_conn.driver_count++] = drv;
}

void vmbus_set_offer_hook(void (*hook)(struct vmbus_channel *ch))
{
    vmbus_conn.offer_hook = hook;
}

static void release_relid(uint32_t relid)
{
    struct vmbus_relid_msg msg = {{CHANNELMSG_RELID_RELEASED, 0}, relid};
    vmbus_post(&msg, sizeof(msg));
}

void vmbus_on_offer(const struct vmbus_offer_channel *o)
{
    uint32_t relid = o->child_relid;
    if (relid == 0 || relid > VMBUS_MAX_RELID) {
        vmbus_protocol_error("OFFERCHANNEL with child_relid out of range", relid);
        return;
    }
    if (relid_slot[relid]) {
        vmbus_protocol_error("OFFERCHANNEL for a relid already in use", relid);
        return;
    }
    int ws2008 = vmbus_conn.version == VMBUS_VERSION_WS2008;
    if (!ws2008 && !o->connection_id) {
        vmbus_protocol_error("OFFERCHANNEL with connection id 0 for relid", relid);
        release_relid(relid);
        return;
    }
    struct vmbus_channel *ch = 0;
    for (uint32_t i = 0; i < slots_used && !ch; i++)
        if (channels[i].state == VMBUS_CH_FREE)
            ch = &channels[i];
    if (!ch && slots_used < VMBUS_MAX_CHANNELS)
        ch = &channels[slots_used++];
    if (!ch) {
        printf("vmbus: channel table full, offer relid %u released\n", relid);
        release_relid(relid);
        return;
    }
    ch->relid = relid;
    ch->connection_id = ws2008 ? VMBUS_EVENT_CONNECTION_ID : o->connection_id;
    ch->signal_connection_id = ch->connection_id;
    ch->event_flag = (uint16_t)relid;
    ch->dedicated_interrupt = !ws2008 && o->is_dedicated_interrupt != 0;
    ch->sub_channel_index = o->sub_channel_index;
    ch->chn_flags = o->chn_flags;
    ch->if_type = o->if_type;
    ch->if_instance = o->if_instance;
    ch->monitored = 0;
    ch->monitor_id = 0;
    if (o->monitor_allocated & VMBUS_OFFER_MONITOR_ALLOCATED) {
        if (o->monitorid < VMBUS_MONITOR_IDS) {
            ch->monitored = 1;
            ch->monitor_id = o->monitorid;
        } else {
            vmbus_protocol_error("OFFERCHANNEL monitorid out of range; signalling by hypercall", o->monitorid);
        }
    }
    ch->sub_channels = 0;
    ch->sc_create_callback = 0;
    ch->rescind_callback = 0;
    ch->low_latency = 0;
    ch->rescinded = 0;
    ch->broken = 0;
    ch->announced = 0;
    ch->cleanup_pending = 0;
    ch->driver = 0;
    ch->callback = 0;
    ch->context = 0;
    ch->interrupts = ch->events = ch->intr_out_empty = ch->intr_in_full = ch->out_full = 0;
    ch->sig_hypercall = ch->sig_monitor = 0;
    ch->page_interrupts = ch->sig_page = 0;
    ch->primary = 0;
    ch->next_sub = 0;
    if (ch->sub_channel_index)
        vmbus_sub_channel_attach(ch);
    vmbus_mb();
    ch->state = VMBUS_CH_OFFERED;
    relid_slot[relid] = (uint16_t)(ch - channels + 1);
}

void vmbus_on_rescind(uint32_t relid)
{
    struct vmbus_channel *ch = vmbus_relid_to_channel(relid);
    if (!ch) {
        if (relid == 0 || relid > VMBUS_MAX_RELID)
            vmbus_protocol_error("RESCIND_CHANNELOFFER with child_relid out of range", relid);
        return; /* the offer failed and was released already */
    }
    if (ch->rescinded) {
#ifdef HVSIM_BUGGY_DOUBLE_RELEASE
        release_relid(relid); /* deliberate bug for guest/buggy: a duplicate rescind releases the relid again */
#endif
        return; /* duplicate */
    }
    ch->rescinded = 1;
    ch->cleanup_pending = 1;
}

static void cleanup(struct vmbus_channel *ch)
{
    ch->cleanup_pending = 0;
    for (struct vmbus_channel *sc = ch->sub_channels; sc;) { /* §10.2: sub-channels first */
        struct vmbus_channel *next = sc->next_sub;
        if (sc->cleanup_pending)
            cleanup(sc);
        sc = next;
    }
    if (ch->rescind_callback)
        ch->rescind_callback(ch);
    if (ch->driver && ch->driver->remove)
        ch->driver->remove(ch);
    if (ch->state == VMBUS_CH_OPEN)
        vmbus_close(ch);
    vmbus_gpadl_teardown_all(ch);
    vmbus_sub_channel_detach(ch);
    uint32_t relid = ch->relid;
    relid_slot[relid] = 0;
    vmbus_mb();
    ch->state = VMBUS_CH_FREE;
    release_relid(relid);
}

void vmbus_offers_reset(void)
{
    for (uint32_t i = 0; i < slots_used; i++) {
        struct vmbus_channel *ch = &channels[i];
        if (ch->state == VMBUS_CH_FREE)
            continue;
        uint32_t was_open = ch->state == VMBUS_CH_OPEN;
        relid_slot[ch->relid] = 0;
        vmbus_event_flag_release(ch);
        vmbus_mb();
        ch->state = VMBUS_CH_FREE;
        if (was_open) { /* a callback running on another VP finishes first */
            uint64_t flags = read_rflags();
            cli();
            spin_lock(&ch->sched_lock);
            spin_unlock(&ch->sched_lock);
            write_rflags(flags);
        }
        ch->primary = ch->sub_channels = ch->next_sub = 0;
        ch->driver = 0;
        ch->callback = 0;
        ch->cleanup_pending = 0;
    }
}

static void announce(struct vmbus_channel *ch)
{
    ch->announced = 1;
    if (vmbus_conn.offer_hook)
        vmbus_conn.offer_hook(ch);
    if (ch->sub_channel_index) {
        if (ch->primary && ch->primary->sc_create_callback)
            ch->primary->sc_create_callback(ch);
        return;
    }
    for (uint32_t i = 0; i < vmbus_conn.driver_count; i++) {
        struct vmbus_driver *drv = vmbus_conn.drivers[i];
        if (!vmbus_guid_equal(&drv->class_id, &ch->if_type))
            continue;
        ch->driver = drv;
        int r = drv->probe ? drv->probe(ch) : VMBUS_OK;
        if (r)
            printf("vmbus: %s: probe of relid %u failed (%d)\n", drv->name, ch->relid, r);
        return;
    }
}

void vmbus_offers_poll(void)
{
    for (uint32_t i = 0; i < slots_used; i++) {
        struct vmbus_channel *ch = &channels[i];
        if (ch->state == VMBUS_CH_FREE)
            continue;
        if (!ch->announced && !ch->rescinded)
            announce(ch);
        vmbus_process_messages(); /* a rescind may have arrived meanwhile */
        if (ch->cleanup_pending)
            cleanup(ch);
    }
}
