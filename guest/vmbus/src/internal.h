/* internal.h - state and functions shared by the VMBus client library's source files.
 *
 * Not for drivers or guests (they include vmbus/vmbus.h). Ownership: `vmbus_conn` fields other
 * than the message FIFO, the channel table, the GPADL table and unclaimed_interrupts are written
 * by the main context only; the SINT2 handler reads the channel table and the event flag map,
 * pushes to the FIFO and counts unclaimed_interrupts (atomically).
 */
#ifndef VMBUS_INTERNAL_H
#define VMBUS_INTERNAL_H

#include "hvsim/sync.h"
#include "vmbus/vmbus.h"

#define VMBUS_MAX_CHANNELS 256u /* channel slots (74 KiB, offers.c); offers beyond them are released */
#define VMBUS_MAX_DRIVERS 8u
#define VMBUS_FIFO_LEN 64u

struct vmbus_fifo_msg {
    uint32_t size;
    uint8_t data[VMBUS_MAX_MESSAGE];
#ifdef HVSIM_BUGGY_DOUBLE_FETCH_MESSAGE
    struct hv_message *slot; /* deliberate bug for guest/buggy: the body is still in this slot (isr.c) */
#endif
};

struct vmbus_conn {
    uint32_t version;      /* negotiated; 0 = not connected */
    uint32_t msg_conn_id;  /* PostMessage connection id after VERSION_RESPONSE */
    uint32_t main_vp;      /* runtime VP number of the main context */
    uint32_t main_vp_index;
    /* waits of the main context, set by message handlers */
    volatile uint32_t connecting, version_done;
    struct vmbus_version_response version_resp;
    uint32_t version_resp_features; /* VERSION_RESPONSE2 supported_features; 0 if 16 bytes came */
    /* 6.0 features (features.c): asked for in the next INITIATE_CONTACT; granted (0 below 6.0) */
    uint32_t features_requested, features;
    volatile uint32_t modify_conn_pending, modify_conn_done, modify_conn_state;
    volatile uint32_t all_offers_delivered, unload_done;
    uint32_t next_gpadl;
    uint8_t *monitor_pages; /* the two zeroed pages named in INITIATE_CONTACT (§5.8) */
    /* where monitored channels set their pending bits: the second of monitor_pages, the
     * child_to_parent page of the last successful MODIFY_CONNECTION, or 0 (none: hypercalls) */
    struct vmbus_monitor_page *monitor_trigger;
    volatile uint32_t unclaimed_interrupts; /* see vmbus_unclaimed_interrupts() */
    uint8_t *interrupt_page; /* named in INITIATE_CONTACT below 5.0, zeroed first; used below 2.4 (§5.9) */
    /* inbound messages, oldest first */
    spinlock_t fifo_lock;
    volatile uint32_t fifo_head, fifo_tail;
    struct vmbus_fifo_msg fifo[VMBUS_FIFO_LEN];
    /* offers and drivers */
    void (*offer_hook)(struct vmbus_channel *ch);
    struct vmbus_driver *drivers[VMBUS_MAX_DRIVERS];
    uint32_t driver_count;
    volatile uint32_t vps_ready;
};
extern struct vmbus_conn vmbus_conn;

/* Below 2.4 channel interrupts travel through the shared interrupt page (§5.9). Read by the
 * SINT2 handler too: not connected (0) counts as >= 2.4. */
static inline int vmbus_legacy_interrupts(void)
{
    uint32_t v = *(volatile uint32_t *)&vmbus_conn.version;
    return v != 0 && v < VMBUS_VERSION_WIN8;
}

/* barriers: x86 keeps loads and stores in order except store->load, which needs mfence */
static inline void vmbus_mb(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline void vmbus_barrier(void) { __asm__ volatile("" ::: "memory"); }

/* isr.c */
int vmbus_fifo_pop(struct vmbus_fifo_msg *out);
int vmbus_fifo_empty(void);
void vmbus_drain_slot(void); /* interrupts disabled, on the VP whose slot is drained */

/* connection.c */
int vmbus_post(const void *msg, uint32_t size);
/* Halts until cond(arg) (processing messages meanwhile) or timeout; 1 if cond held. */
int vmbus_wait(int (*cond)(void *arg), void *arg, uint64_t timeout_us);
void vmbus_process_messages(void);
void vmbus_protocol_error(const char *what, uint32_t value);

/* offers.c */
int vmbus_offers_init(void); /* once, before the first connection: the channel table; VMBUS_ENOMEM */
void vmbus_on_offer(const struct vmbus_offer_channel *o);
void vmbus_on_rescind(uint32_t relid);
struct vmbus_channel *vmbus_relid_to_channel(uint32_t relid);
/* The event flag -> channel map the SINT2 handler dispatches by (SIEF SINT2 bit at >= 2.4, the
 * interrupt page's host->guest bit below). A channel holds its event flag (ch->event_flag: the relid,
 * or the one it asked for in OpenChannel2) from vmbus_open until it is closed. Claiming a flag
 * another channel holds is VMBUS_EINVAL; a flag >= HV_EVENT_FLAGS_COUNT cannot be held (claiming it
 * records it in ch->event_flag only). The lookup returns only a channel opening, open or closing. */
int vmbus_event_flag_claim(struct vmbus_channel *ch, uint32_t flag);
void vmbus_event_flag_release(struct vmbus_channel *ch);
struct vmbus_channel *vmbus_event_flag_to_channel(uint32_t flag);
void vmbus_offers_poll(void);
/* After UNLOAD_RESPONSE: every channel leaves the table (no RELID_RELEASED: the host has forgotten
 * them); ring memory stays with its slot for reuse, the host no longer holds it. */
void vmbus_offers_reset(void);

/* gpadl.c */
int vmbus_gpadl_init(void); /* once, before the first connection: the GPADL table; VMBUS_ENOMEM */
int vmbus_gpadl_create(struct vmbus_channel *ch, void *buf, uint32_t pages, uint32_t *handle);
int vmbus_gpadl_teardown(struct vmbus_channel *ch, uint32_t handle);
/* Waits for the channel's orphaned GPADLs (creation cut short by a rescind), then tears down all. */
void vmbus_gpadl_teardown_all(struct vmbus_channel *ch);
void vmbus_gpadl_forget_all(void); /* after UNLOAD_RESPONSE: the host has forgotten every GPADL */
void vmbus_on_gpadl_created(const struct vmbus_gpadl_created *m);
void vmbus_on_gpadl_torndown(const struct vmbus_gpadl_torndown *m);

/* subchannel.c */
/* A new offer with sub_channel_index > 0: links it to its primary (protocol error if none). */
void vmbus_sub_channel_attach(struct vmbus_channel *ch);
/* A channel leaving the table: unlinks a sub-channel; a primary's sub-channels lose their primary. */
void vmbus_sub_channel_detach(struct vmbus_channel *ch);

/* channel.c */
void vmbus_channel_dispatch(struct vmbus_channel *ch); /* interrupts disabled */
void vmbus_on_open_result(const struct vmbus_open_result *m);
void vmbus_on_modify_response(const struct vmbus_modify_channel_response *m);

/* features.c */
/* After VERSION_RESPONSE accepted version v: the features the connection has (0 below 6.0). */
uint32_t vmbus_features_granted(uint32_t version);
void vmbus_on_modify_connection_response(const struct vmbus_modify_connection_response *m);

/* ring.c: the §6 algorithms on one ring, no locking, no signalling */
void vmbus_ring_init(struct vmbus_ring *r, uint8_t *pages, uint32_t page_count);
/* 0 (*signal = whether hv_signal_on_write asks for a signal), VMBUS_EAGAIN, VMBUS_EPROTO, VMBUS_EINVAL */
int vmbus_ring_write(struct vmbus_ring *r, const struct vmbus_packet_desc *d, const void *payload, uint32_t len,
                     int *signal);
int vmbus_ring_read(struct vmbus_ring *r, struct vmbus_packet *pkt, void *buf, uint32_t buflen);
/* Publishes the read position; 1 if the pending_send_sz rule asks to signal the producer. */
int vmbus_ring_commit(struct vmbus_ring *r);
int vmbus_ring_has_data(const struct vmbus_ring *r); /* 1, 0, or VMBUS_EPROTO */
/* Outbound: free bytes (as the producer computes them), or VMBUS_EPROTO. */
int64_t vmbus_ring_free(const struct vmbus_ring *r);
uint32_t vmbus_packet_total(uint32_t payload_len); /* descriptor + padded payload + trailer */

#endif
