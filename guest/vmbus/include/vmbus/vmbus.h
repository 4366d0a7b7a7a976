/* vmbus/vmbus.h - the VMBus client library for hvsim guests (freestanding C11).
 *
 * Behaviour follows Linux drivers/hv as described in PROTOCOL.md §5-10; every value the host
 * writes (messages, ring indices, packet headers) is validated, and a host that breaks the
 * protocol produces an error return or a "vmbus: protocol error" line, never a crash or a hang.
 *
 * Execution model:
 *   - Every VP calls vmbus_vp_init(); VP 0 first calls hv_init() (vmbus_vp_init does it on VP 0).
 *     The SINT2 handler runs on any VP: it first scans the VP's SIEF SINT2 bitmap (test-and-clear,
 *     bit 0 skipped) and runs the callback of each open channel by its event flag (the relid, or
 *     at 6.0 the flag it asked for in OpenChannel2; batched: the inbound interrupt_mask is set
 *     while draining, then cleared and re-checked), then copies messages out of the VP's SINT2
 *     slot into a FIFO (releasing the slot, EOM if msg_pending).
 *     Below VMBus 2.4 (§5.9) the channel bits are in the host->guest half of the shared interrupt
 *     page instead: the handler test-and-clears SIEF SINT2 bit 0 only and, if it was set, scans
 *     the page's relids 1..2047 (test-and-clear each) with the same dispatch. The host sends every
 *     channel interrupt to VP 0 then (OPENCHANNEL target_vp is ignored below 2.4).
 *   - The VP that called vmbus_connect() ("main context") processes that FIFO in arrival order,
 *     inside every library wait and in vmbus_poll(). Offers are announced to drivers, and rescinded
 *     channels are cleaned up (close, GPADL teardown, RELID_RELEASED), only in vmbus_poll(), never
 *     inside an interrupt or a wait.
 *   - All waits halt (sti; hlt) with a timeout; a rescind wakes every wait on that channel with
 *     VMBUS_ENODEV. A rescind at any step of vmbus_open() fails it with VMBUS_ENODEV and sends no
 *     OPENCHANNEL once the rescind is seen; the ring GPADL is torn down, even one whose
 *     GPADL_CREATED arrives after the rescind (the clean-up waits for it), before RELID_RELEASED.
 * Channel callbacks run with interrupts disabled and may call vmbus_recv() and vmbus_send().
 *
 * Guest->host notification (§5.8, vmbus_setevent): a channel whose offer has monitor_allocated sets
 * its bit in monitor page 2 (lock bts, no hypercall) unless it is in low-latency mode or the
 * connection has no monitor pages (MODIFY_CONNECTION dropped them); any other channel calls
 * HvCallSignalEvent on its signal_connection_id (the offer's, or at 6.0 the one it asked for in
 * OpenChannel2). Below 2.4 a channel without a dedicated interrupt (every channel
 * at 0.13, which signals connection id 2; at 1.1 the offer says) first sets its relid's bit in the
 * guest->host half of the interrupt page (§5.9). The library decides *when* to notify
 * (hv_signal_on_write, the pending_send_sz rule); the channel decides *how*.
 * Sub-channels (§5.6 step 6, VMBus >= 2.4): an offer with sub_channel_index > 0 belongs to the primary with the
 * same class and instance GUIDs; it is listed on the primary (sub_channels / next_sub, in index
 * order), announced to the primary's sc_create_callback instead of to drivers, and opened and
 * closed like any channel (own ring GPADL, own target VP). Closing a primary closes its open
 * sub-channels first. Rescind (§10.2), in vmbus_poll(): a rescinded sub-channel is closed if open
 * and released at once; a rescinded primary has its rescinded sub-channels cleaned up first. A
 * sub-channel whose primary is gone stays listed with primary = 0 until it is rescinded.
 * VMBus 6.0 ("Copper", PROTOCOL.md §5.2, §5.5): vmbus_request_features() chooses the feature flags
 * the next INITIATE_CONTACT asks for (default 0, as a non-confidential Linux guest); the host
 * grants a subset (vmbus_features()). With 0x1 or 0x2 granted every OPENCHANNEL is the 156-byte
 * OpenChannel2 (the host requires it), carrying the offer's connection id and the relid as event
 * flag unless vmbus_open_with() names others (0x1) or asks for redirection (0x2). With 0x4,
 * vmbus_modify_connection() replaces or drops the monitor pages.
 */
#ifndef VMBUS_VMBUS_H
#define VMBUS_VMBUS_H

#include <stdint.h>
#include "hvsim/sync.h"
#include "vmbus/protocol.h"

/* ---- errors (negative return values) ---- */
#define VMBUS_OK 0
#define VMBUS_EPROTO (-1)     /* the host broke the protocol (bad message, bad ring index) */
#define VMBUS_ETIMEDOUT (-2)
#define VMBUS_ENODEV (-3)     /* the channel was rescinded */
#define VMBUS_EAGAIN (-4)     /* ring full */
#define VMBUS_EINVAL (-5)     /* bad argument or wrong state */
#define VMBUS_ENOMEM (-6)
#define VMBUS_EMSGSIZE (-7)   /* packet larger than the caller's buffer (it was skipped) */
#define VMBUS_EHV (-8)        /* a hypercall failed */
#define VMBUS_EOPNOTSUPP (-9) /* not available at the negotiated version */
#define VMBUS_EHOST (-10)     /* the host answered with a failure status */

#define VMBUS_SINT_VECTOR 0xF3u /* HYPERVISOR_CALLBACK_VECTOR, as Linux (§2.6) */
#define VMBUS_WAIT_US 1000000u  /* default bound on one control-message wait */

/* ---- rings ---- */
struct vmbus_ring {
    struct vmbus_ring_control *ctl;
    uint8_t *data;
    uint32_t size;   /* data bytes (ring pages - 1) * 4096 */
    uint32_t priv;   /* outbound: our write index; inbound: our read position */
    uint32_t batch;  /* inbound: bytes consumed since the last commit */
    uint32_t malformed; /* inbound: packets dropped because their descriptor lied (ring.c) */
};

struct vmbus_packet {
    uint16_t type;
    uint16_t flags;
    uint64_t trans_id;
    uint32_t len; /* payload bytes copied to the caller's buffer */
};

/* ---- channels ---- */
enum vmbus_channel_state { VMBUS_CH_FREE, VMBUS_CH_OFFERED, VMBUS_CH_OPENING, VMBUS_CH_OPEN, VMBUS_CH_CLOSING };

struct vmbus_channel;
struct vmbus_driver;
typedef void (*vmbus_callback_t)(struct vmbus_channel *ch);

struct vmbus_channel {
    /* offer (validated copy) */
    uint32_t relid;
    uint32_t connection_id; /* the offer's SignalEvent target, or VMBUS_EVENT_CONNECTION_ID at 0.13 */
    uint8_t dedicated_interrupt; /* offer's is_dedicated_interrupt (0 at 0.13); matters below 2.4 only */
    uint16_t sub_channel_index;
    uint16_t chn_flags;
    struct vmbus_guid if_type, if_instance;
    uint8_t monitored;  /* the offer allocated monitor id monitor_id (< VMBUS_MONITOR_IDS) */
    uint8_t monitor_id;
    /* sub-channels, written by the main context only */
    struct vmbus_channel *primary;      /* sub-channel: its primary (0 if gone); primary: 0 */
    struct vmbus_channel *sub_channels; /* primary: first sub-channel, in sub_channel_index order */
    struct vmbus_channel *next_sub;     /* sub-channel: the next one of the same primary */
    vmbus_callback_t sc_create_callback; /* primary: runs for each new sub-channel (main context) */
    vmbus_callback_t rescind_callback;   /* runs when a rescinded channel is cleaned up (main context) */
    volatile uint32_t low_latency;      /* 1: always HvCallSignalEvent, even when monitored */
    /* state, written by the main context only */
    volatile uint32_t state;
    volatile uint32_t rescinded;
    volatile uint32_t broken; /* a ring was found corrupted: callbacks stop */
    uint32_t announced, cleanup_pending;
    uint32_t target_vp;
    /* what the host and the guest signal each other on while open (set by vmbus_open/_with):
     * HvCallSignalEvent connection id (connection_id unless OpenChannel2 named another) and the
     * SIEF SINT2 bit / interrupt-page bit of host->guest interrupts (relid unless OpenChannel2
     * named another; the SINT2 handler looks channels up by it) */
    uint32_t signal_connection_id;
    uint16_t event_flag;
    /* ring buffer */
    struct vmbus_ring out, in;
    uint8_t *ring_pages;
    uint32_t ring_page_count; /* both rings */
    uint32_t ring_gpadl;
    /* waits */
    volatile uint32_t open_done, open_status;
    volatile uint32_t modify_pending, modify_done, modify_status;
    /* the driver bound to this channel and its callback */
    struct vmbus_driver *driver;
    vmbus_callback_t callback;
    void *context;
    spinlock_t out_lock;   /* outbound ring producers */
    spinlock_t sched_lock; /* one callback at a time, on any VP */
    /* counters (Linux sysfs names, §8.2) */
    volatile uint32_t interrupts, events, intr_out_empty, intr_in_full, out_full;
    /* guest->host notifications by mechanism: HvCallSignalEvent, monitor pending bit */
    volatile uint32_t sig_hypercall, sig_monitor;
    /* below 2.4 (§5.9): interrupts found through the interrupt page (of `interrupts`), and
     * hypercall signals that set the page's guest->host bit first (of `sig_hypercall`) */
    volatile uint32_t page_interrupts, sig_page;
};

/* ---- drivers: matched by class GUID when vmbus_poll() announces an offer ---- */
struct vmbus_driver {
    const char *name;
    struct vmbus_guid class_id;
    int (*probe)(struct vmbus_channel *ch);  /* usually opens the channel */
    void (*remove)(struct vmbus_channel *ch); /* rescind or shutdown: usually closes it */
};

/* ---- connection ---- */
int vmbus_vp_init(void);        /* every VP: SynIC pages, SINT2 -> VMBUS_SINT_VECTOR */
void vmbus_ap_idle(void) __attribute__((noreturn)); /* VPs other than the main one: serve interrupts */
/* INITIATE_CONTACT from 6.0 down to 2.4, then 1.1 and 0.13, skipping versions above max_version
 * (0 = no cap; VMBUS_VERSION_WIN7 or VMBUS_VERSION_WS2008 asks for a legacy connection). */
int vmbus_connect(uint32_t max_version);
uint32_t vmbus_version(void);
/* VMBus 6.0 feature flags (VMBUS_FEATURE_*) the next vmbus_connect asks for in INITIATE_CONTACT
 * (default 0; kept across connections). Sent only when 6.0 is negotiated, as they are given: bits
 * whose messages the library does not implement (client id, pause/resume, ...) may be asked for
 * to see what a host grants, but the library never uses them. */
void vmbus_request_features(uint32_t flags);
/* The features the host granted: VERSION_RESPONSE2 supported_features of those asked for (0 below
 * 6.0, after a 16-byte VERSION_RESPONSE, or when not connected). */
uint32_t vmbus_features(void);
/* MODIFY_CONNECTION (6.0, feature 0x4): both GPAs non-zero = the host uses these two zeroed pages as
 * monitor pages from now on (monitored channels then set their bits in child_to_parent, which must
 * be identity-mapped guest RAM); both 0 = no monitor pages any more (monitored channels signal by
 * hypercall). Posts and waits for MODIFY_CONNECTION_RESPONSE; returns its connection_state
 * (VMBUS_CONNECTION_STATE_SUCCESSFUL, or e.g. VMBUS_CONNECTION_STATE_FAILED_UNKNOWN for one zero
 * GPA, pages that are not RAM, or while a monitored channel is open), or VMBUS_EOPNOTSUPP (0x4 not
 * granted: nothing posted), VMBUS_EINVAL (not connected), VMBUS_ETIMEDOUT, VMBUS_EHV. */
int vmbus_modify_connection(uint64_t parent_to_child, uint64_t child_to_parent);
/* SIEF SINT2 bits (interrupt-page bits below 2.4) other than bit 0 that the SINT2 handler found
 * set while no channel was opening, open or closing on them, over all VPs since the guest started. */
uint32_t vmbus_unclaimed_interrupts(void);
int vmbus_request_offers(void); /* REQUESTOFFERS, waits for ALLOFFERS_DELIVERED */
/* UNLOAD, waits for UNLOAD_RESPONSE; then every channel and GPADL is forgotten (channel pointers
 * go stale, no RELID_RELEASED), so vmbus_connect() may follow and the offers come afresh.
 * UNLOAD exists from 1.1 on: at 0.13 it returns VMBUS_EOPNOTSUPP at once and posts nothing. */
int vmbus_unload(void);
void vmbus_register_driver(struct vmbus_driver *drv);
/* Called for every new offer by vmbus_poll() before drivers are probed (e.g. to print it). */
void vmbus_set_offer_hook(void (*hook)(struct vmbus_channel *ch));
/* Main context: processes queued messages, announces new offers, cleans up rescinded channels. */
void vmbus_poll(void);
/* Main context: halts until a message or wake_flag != 0, at most timeout_us; then vmbus_poll(). */
void vmbus_wait_event(volatile uint32_t *wake_flag, uint64_t timeout_us);
/* Channel slots, for iteration: returns the i-th slot (0 past the last slot used so far; free
 * slots have state VMBUS_CH_FREE). At most 256 channels, sub-channels included. */
struct vmbus_channel *vmbus_channel_at(uint32_t i);
/* A live (not rescinded) primary channel of the class, or 0. */
struct vmbus_channel *vmbus_find_channel(const struct vmbus_guid *class_id);
/* Linux vmbus_set_sc_create_callback: set it before the primary is opened (the host offers
 * sub-channels as soon as the primary is open); it runs in vmbus_poll() for each new sub-channel. */
void vmbus_set_sc_create_callback(struct vmbus_channel *primary, vmbus_callback_t cb);
/* Linux vmbus_set_chn_rescind_callback: runs in vmbus_poll() when the rescinded channel is cleaned
 * up, before the driver's remove() and before the library closes and releases it. */
void vmbus_set_chn_rescind_callback(struct vmbus_channel *ch, vmbus_callback_t cb);

/* ---- channel operations (main context) ---- */
/* Opens with ring_pages pages per direction (header included, >= 2), interrupts to VP index
 * target_vp (below 2.4 the host ignores it and interrupts VP 0); cb runs for inbound packets. */
int vmbus_open(struct vmbus_channel *ch, uint32_t ring_pages, uint32_t target_vp, vmbus_callback_t cb,
               void *context);
/* OpenChannel2 parameters of vmbus_open_with (VMBus 6.0). 0 in a field means the default. */
struct vmbus_open_params {
    uint32_t connection_id; /* feature 0x1: HvCallSignalEvent target while open (default: the offer's) */
    uint16_t event_flag;    /* feature 0x1: SIEF SINT2 bit of host->guest interrupts (default: relid) */
    uint16_t flags;         /* feature 0x2: VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT */
};
/* vmbus_open with OpenChannel2 parameters (params 0 = vmbus_open). A non-default connection id or
 * event flag needs feature 0x1, the redirect flag 0x2 (VMBUS_EOPNOTSUPP, nothing posted); other
 * flag bits are VMBUS_EINVAL, and so is an event flag another channel holds while open. Values the
 * host judges (connection id 1 or 4 or one in use, event flag >= 2048) are sent as given: a refusal
 * is VMBUS_EHOST with the status in ch->open_status; an event flag >= 2048 the host accepts is a
 * protocol error (the channel is closed again, VMBUS_EPROTO). They hold until the channel closes. */
int vmbus_open_with(struct vmbus_channel *ch, uint32_t ring_pages, uint32_t target_vp,
                    const struct vmbus_open_params *params, vmbus_callback_t cb, void *context);
/* Closes a channel; a primary's open sub-channels are closed first. */
int vmbus_close(struct vmbus_channel *ch);
int vmbus_modify_channel(struct vmbus_channel *ch, uint32_t target_vp);
/* Linux set_channel_low_latency / clear_channel_low_latency: on = 1 bypasses the monitor page. */
void vmbus_set_channel_low_latency(struct vmbus_channel *ch, int on);

/* ---- data path (main context or callbacks) ---- */
/* One packet (descriptor + payload) into the outbound ring; signals per hv_signal_on_write. */
int vmbus_send(struct vmbus_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *payload,
               uint32_t len);
/* Like vmbus_send, but on a full ring sets pending_send_sz and waits (main context only). */
int vmbus_send_wait(struct vmbus_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id,
                    const void *payload, uint32_t len, uint64_t timeout_us);
/* Next inbound packet: 1 (pkt filled, payload copied), 0 (empty), or a negative error. A packet
 * whose descriptor lies about its length or payload offset is skipped and counted in
 * ch->in.malformed (ring.c), never returned. */
int vmbus_recv(struct vmbus_channel *ch, struct vmbus_packet *pkt, void *buf, uint32_t buflen);
/* Notifies the host by the channel's mechanism (monitor bit or HvCallSignalEvent), unconditionally. */
int vmbus_setevent(struct vmbus_channel *ch);
/* HvCallSignalEvent(signal_connection_id, flag 0), unconditionally, whatever the mechanism
 * (below 2.4, without a dedicated interrupt, after setting the interrupt-page bit). */
int vmbus_signal_host(struct vmbus_channel *ch);

/* ---- helpers ---- */
int vmbus_guid_equal(const struct vmbus_guid *a, const struct vmbus_guid *b);
/* "0e0b6031-5213-4934-818b-38d90ced39db" into buf (>= 37 bytes). */
void vmbus_guid_format(const struct vmbus_guid *g, char *buf);
#define VMBUS_GUID(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7)                                                   \
    {                                                                                                           \
        {(uint8_t)(d1), (uint8_t)((d1) >> 8), (uint8_t)((d1) >> 16), (uint8_t)((uint32_t)(d1) >> 24),           \
         (uint8_t)(d2), (uint8_t)((d2) >> 8), (uint8_t)(d3), (uint8_t)((d3) >> 8), b0, b1, b2, b3, b4, b5, b6, b7} \
    }

#endif
