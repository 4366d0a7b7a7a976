/* channel.c - open, close, retarget, and the data path of one channel (PROTOCOL.md §5.4, §5.6,
 * §6.3-6.5, §9, §10).
 *
 * Open: the channel claims its event flag (offers.c; the relid, or a guest-specified one); ring
 * memory = outbound ring (header + data pages) then inbound ring, both with feature bit b0 set;
 * one GPADL over both; OPENCHANNEL (openid = relid, downstream offset = pages of the outbound
 * ring, target_vp), unless a rescind has arrived by then; wait for OPENCHANNEL_RESULT, a rescind,
 * or the timeout. Once feature 0x1 or 0x2 was granted (6.0) OPENCHANNEL is always the 156-byte
 * OpenChannel2, because the host then ignores the short form; a plain open fills it with the
 * offer's connection id and the relid, which is what the host would use anyway (OpenVMM's client
 * does the same), so the host needs no special case for "not specified". The flag is released,
 * and signal_connection_id reverts to the offer's, when the channel closes or the open fails.
 * On failure (a rescind at any step included, §10.2) the ring GPADL is torn down; one whose
 * creation a rescind interrupted is torn down by the rescind clean-up (gpadl.c). Once open,
 * anything that arrived before the result is drained at once.
 * Close: a primary's open sub-channels are closed first (§10.2); then callbacks stop (the channel
 * leaves OPEN, a running callback is waited for), CLOSECHANNEL, ring GPADL teardown. Ring memory
 * whose GPADL could not be torn down is never reused.
 * Callbacks run batched (§6.4 step 4): interrupt_mask = 1 on the inbound ring while draining, then
 * cleared and re-checked. Reads commit after each callback round; a commit that satisfies the
 * host's pending_send_sz signals the host. Writes signal per hv_signal_on_write. Signals go out
 * through vmbus_setevent (signal.c: monitor bit or hypercall). A ring whose index the host corrupted
 * marks the channel broken (no more callbacks or sends); a lying packet is only dropped (ring.c).
 */
#include "hvsim/console.h"
#include "hvsim/cpu.h"
#include "hvsim/hyperv.h"
#include "internal.h"

#define MAX_RING_PAGES 256u
#define DISPATCH_ROUNDS 16u

static void mark_broken(struct vmbus_channel *ch, const char *ring)
{
    if (!ch->broken)
        printf("vmbus: relid %u: host corrupted the %s ring; channel stopped\n", ch->relid, ring);
    ch->broken = 1;
}

void vmbus_channel_dispatch(struct vmbus_channel *ch)
{
    spin_lock(&ch->sched_lock);
    if (ch->state == VMBUS_CH_OPEN && !ch->rescinded && !ch->broken && ch->callback) {
        ch->events++;
        for (unsigned round = 0; round < DISPATCH_ROUNDS; round++) {
            ch->in.ctl->interrupt_mask = 1;
            vmbus_mb();
            ch->callback(ch);
            if (vmbus_ring_commit(&ch->in)) {
                ch->intr_in_full++;
                vmbus_setevent(ch);
            }
            ch->in.ctl->interrupt_mask = 0;
            vmbus_mb(); /* mask cleared before re-reading write_index */
            int more = vmbus_ring_has_data(&ch->in);
            if (more < 0)
                mark_broken(ch, "inbound");
            if (more <= 0 || ch->broken)
                break;
        }
    }
    spin_unlock(&ch->sched_lock);
}

/* Runs a dispatch from the main context (interrupts off, as in the handler). */
static void dispatch_now(struct vmbus_channel *ch)
{
    uint64_t flags = read_rflags();
    cli();
    vmbus_channel_dispatch(ch);
    write_rflags(flags);
}

void vmbus_on_open_result(const struct vmbus_open_result *m)
{
    struct vmbus_channel *ch = vmbus_relid_to_channel(m->child_relid);
    if (!ch || ch->state != VMBUS_CH_OPENING || m->openid != ch->relid || ch->open_done) {
        vmbus_protocol_error("OPENCHANNEL_RESULT for no channel being opened, relid", m->child_relid);
        return;
    }
    ch->open_status = m->status;
    ch->open_done = 1;
}

void vmbus_on_modify_response(const struct vmbus_modify_channel_response *m)
{
    struct vmbus_channel *ch = vmbus_relid_to_channel(m->child_relid);
    if (!ch || !ch->modify_pending) {
        vmbus_protocol_error("MODIFYCHANNEL_RESPONSE for no pending MODIFYCHANNEL, relid", m->child_relid);
        return;
    }
    ch->modify_status = m->status;
    ch->modify_pending = 0;
    ch->modify_done = 1;
}

static int open_answered(void *p)
{
    struct vmbus_channel *ch = p;
    return ch->open_done || ch->rescinded;
}

static int modify_answered(void *p)
{
    struct vmbus_channel *ch = p;
    return ch->modify_done || ch->rescinded;
}

/* Tears the ring GPADL down; on failure the ring memory is abandoned (the host may still use it). */
static void drop_ring_gpadl(struct vmbus_channel *ch)
{
    if (vmbus_gpadl_teardown(ch, ch->ring_gpadl)) {
        ch->ring_pages = 0;
        ch->ring_page_count = 0;
    }
}

/* The channel is closed (or its open failed): it gives up its event flag and guest-specified
 * connection id. */
static void to_offered(struct vmbus_channel *ch)
{
    ch->state = VMBUS_CH_OFFERED;
    vmbus_event_flag_release(ch);
    ch->signal_connection_id = ch->connection_id;
}

/* The OpenChannel2 fields of this open (the defaults filled in) into *out, or why not allowed. */
static int open_params(const struct vmbus_channel *ch, const struct vmbus_open_params *in,
                       struct vmbus_open_params *out)
{
    *out = (struct vmbus_open_params){ch->connection_id, (uint16_t)ch->relid, 0};
    if (!in)
        return VMBUS_OK;
    uint32_t granted = vmbus_conn.features;
    if (in->flags & ~VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT)
        return VMBUS_EINVAL;
    if ((in->connection_id || in->event_flag) && !(granted & VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMS))
        return VMBUS_EOPNOTSUPP;
    if (in->flags && !(granted & VMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION))
        return VMBUS_EOPNOTSUPP;
    if (in->connection_id)
        out->connection_id = in->connection_id;
    if (in->event_flag)
        out->event_flag = in->event_flag;
    out->flags = in->flags;
    return VMBUS_OK;
}

/* OPENCHANNEL, or OpenChannel2 once feature 0x1 or 0x2 was granted. */
static int post_open(struct vmbus_channel *ch, uint32_t ring_pages, uint32_t target_vp,
                     const struct vmbus_open_params *p)
{
    struct vmbus_open_channel2 msg = {
        .open = {
            .hdr = {CHANNELMSG_OPENCHANNEL, 0},
            .child_relid = ch->relid,
            .openid = ch->relid,
            .ringbuffer_gpadlhandle = ch->ring_gpadl,
            .target_vp = target_vp,
            .downstream_ringbuffer_pageoffset = ring_pages,
        },
        .connection_id = p->connection_id,
        .event_flag = p->event_flag,
        .flags = p->flags,
    };
    int v2 = (vmbus_conn.features &
              (VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMS | VMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION)) != 0;
    return vmbus_post(&msg, v2 ? sizeof(msg) : sizeof(msg.open));
}

int vmbus_open(struct vmbus_channel *ch, uint32_t ring_pages, uint32_t target_vp, vmbus_callback_t cb,
               void *context)
{
    return vmbus_open_with(ch, ring_pages, target_vp, 0, cb, context);
}

int vmbus_open_with(struct vmbus_channel *ch, uint32_t ring_pages, uint32_t target_vp,
                    const struct vmbus_open_params *params, vmbus_callback_t cb, void *context)
{
    if (!ch || ch->state != VMBUS_CH_OFFERED || ring_pages < 2 || ring_pages > MAX_RING_PAGES || !cb)
        return VMBUS_EINVAL;
    if (ch->rescinded)
        return VMBUS_ENODEV;
    struct vmbus_open_params p;
    int r = open_params(ch, params, &p);
    if (r)
        return r;
    if (!ch->ring_pages || ch->ring_page_count != 2 * ring_pages) {
        ch->ring_pages = hv_alloc_pages(2 * ring_pages);
        ch->ring_page_count = ch->ring_pages ? 2 * ring_pages : 0;
        if (!ch->ring_pages)
            return VMBUS_ENOMEM;
    }
    if (vmbus_event_flag_claim(ch, p.event_flag)) {
        printf("vmbus: relid %u: event flag %u is held by another channel\n", ch->relid, p.event_flag);
        return VMBUS_EINVAL;
    }
    vmbus_ring_init(&ch->out, ch->ring_pages, ring_pages);
    vmbus_ring_init(&ch->in, ch->ring_pages + (uint64_t)ring_pages * VMBUS_PAGE_SIZE, ring_pages);
    ch->callback = cb;
    ch->context = context;
    ch->broken = 0;
    ch->open_done = 0;
    ch->open_status = 0;
    ch->state = VMBUS_CH_OPENING;

    r = vmbus_gpadl_create(ch, ch->ring_pages, 2 * ring_pages, &ch->ring_gpadl);
    if (r) {
        if (r != VMBUS_EHOST) /* no answer: the host may still hold the pages */
            ch->ring_pages = 0;
        to_offered(ch);
        return r;
    }
    vmbus_process_messages(); /* a rescind that arrived with GPADL_CREATED: do not open (§10.1) */
#ifdef HVSIM_BUGGY_OPEN_AFTER_RESCIND
    r = post_open(ch, ring_pages, target_vp, &p); /* deliberate bug for guest/buggy: OPENCHANNEL despite a rescind */
#else
    r = ch->rescinded ? VMBUS_ENODEV : post_open(ch, ring_pages, target_vp, &p);
#endif
    if (!r && !vmbus_wait(open_answered, ch, VMBUS_WAIT_US))
        r = VMBUS_ETIMEDOUT;
    else if (!r && !ch->open_done)
        r = VMBUS_ENODEV;
    else if (!r && ch->open_status)
        r = VMBUS_EHOST;
    if (!r && p.event_flag >= HV_EVENT_FLAGS_COUNT) { /* the host accepted a flag it cannot set */
        vmbus_protocol_error("OPENCHANNEL_RESULT accepts event flag", p.event_flag);
        struct vmbus_relid_msg close = {{CHANNELMSG_CLOSECHANNEL, 0}, ch->relid};
        vmbus_post(&close, sizeof(close));
        r = VMBUS_EPROTO;
    }
    if (r) {
        printf("vmbus: relid %u: open failed (%d, status 0x%x)\n", ch->relid, r, ch->open_status);
        drop_ring_gpadl(ch);
        to_offered(ch);
        return r;
    }
    ch->target_vp = target_vp;
    ch->signal_connection_id = p.connection_id;
    vmbus_mb();
    ch->state = VMBUS_CH_OPEN;
    dispatch_now(ch);
    return VMBUS_OK;
}

int vmbus_close(struct vmbus_channel *ch)
{
    if (!ch || ch->state != VMBUS_CH_OPEN)
        return VMBUS_EINVAL;
    int sub_r = VMBUS_OK;
    for (struct vmbus_channel *sc = ch->sub_channels; sc; sc = sc->next_sub) {
        int rs = sc->state == VMBUS_CH_OPEN ? vmbus_close(sc) : VMBUS_OK;
        if (!sub_r)
            sub_r = rs;
    }
    ch->state = VMBUS_CH_CLOSING;
    uint64_t flags = read_rflags();
    cli();
    spin_lock(&ch->sched_lock); /* a callback running on another VP finishes first */
    spin_unlock(&ch->sched_lock);
    write_rflags(flags);
    struct vmbus_relid_msg msg = {{CHANNELMSG_CLOSECHANNEL, 0}, ch->relid};
    int r = vmbus_post(&msg, sizeof(msg));
    drop_ring_gpadl(ch);
    to_offered(ch);
    return r ? r : sub_r;
}

int vmbus_modify_channel(struct vmbus_channel *ch, uint32_t target_vp)
{
    if (vmbus_conn.version < VMBUS_VERSION_WIN10_V4_1)
        return VMBUS_EOPNOTSUPP;
    if (!ch || ch->state != VMBUS_CH_OPEN)
        return VMBUS_EINVAL;
    if (ch->rescinded)
        return VMBUS_ENODEV;
    if (ch->target_vp == target_vp)
        return VMBUS_OK;
    int answers = vmbus_conn.version >= VMBUS_VERSION_WIN10_V5_3; /* only 5.3 answers (§9.3) */
    ch->modify_done = 0;
    ch->modify_pending = (uint32_t)answers;
    struct vmbus_modify_channel msg = {{CHANNELMSG_MODIFYCHANNEL, 0}, ch->relid, target_vp};
    int r = vmbus_post(&msg, sizeof(msg));
    if (!r && answers) {
        if (!vmbus_wait(modify_answered, ch, VMBUS_WAIT_US))
            r = VMBUS_ETIMEDOUT;
        else if (!ch->modify_done)
            r = VMBUS_ENODEV;
        else if (ch->modify_status)
            r = VMBUS_EHOST;
    }
    ch->modify_pending = 0;
    if (r)
        return r;
    ch->target_vp = target_vp;
    return VMBUS_OK;
}

int vmbus_send(struct vmbus_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id, const void *payload,
               uint32_t len)
{
    if (!ch || (ch->state != VMBUS_CH_OPEN && ch->state != VMBUS_CH_CLOSING))
        return VMBUS_EINVAL;
    if (ch->rescinded)
        return VMBUS_ENODEV;
    if (ch->broken)
        return VMBUS_EPROTO;
    struct vmbus_packet_desc d = {.type = type, .offset8 = sizeof(d) / 8u, .flags = flags, .trans_id = trans_id};
    int signal = 0;
    uint64_t rflags = read_rflags();
    cli();
    spin_lock(&ch->out_lock);
    int r = vmbus_ring_write(&ch->out, &d, payload, len, &signal);
    spin_unlock(&ch->out_lock);
    write_rflags(rflags);
    if (r == VMBUS_EAGAIN)
        ch->out_full++;
    if (r == VMBUS_EPROTO)
        mark_broken(ch, "outbound");
    if (signal) {
        ch->intr_out_empty++;
        vmbus_setevent(ch);
    }
    return r;
}

struct space_wait {
    struct vmbus_channel *ch;
    uint32_t needed;
};

static int space_or_gone(void *p)
{
    struct space_wait *w = p;
    int64_t free_bytes = vmbus_ring_free(&w->ch->out);
    return free_bytes < 0 || (uint64_t)free_bytes > w->needed || w->ch->rescinded;
}

int vmbus_send_wait(struct vmbus_channel *ch, uint16_t type, uint16_t flags, uint64_t trans_id,
                    const void *payload, uint32_t len, uint64_t timeout_us)
{
    int r = vmbus_send(ch, type, flags, trans_id, payload, len);
    if (r != VMBUS_EAGAIN)
        return r;
    struct space_wait w = {ch, vmbus_packet_total(len)};
    ch->out.ctl->pending_send_sz = w.needed; /* we set feature bit b0: the host signals on room */
    vmbus_mb();
    int room = vmbus_wait(space_or_gone, &w, timeout_us);
    ch->out.ctl->pending_send_sz = 0;
    if (!room)
        return VMBUS_ETIMEDOUT;
    return vmbus_send(ch, type, flags, trans_id, payload, len);
}

int vmbus_recv(struct vmbus_channel *ch, struct vmbus_packet *pkt, void *buf, uint32_t buflen)
{
    if (ch->broken)
        return VMBUS_EPROTO;
    int r = vmbus_ring_read(&ch->in, pkt, buf, buflen);
    if (r == VMBUS_EPROTO)
        mark_broken(ch, "inbound");
    return r;
}
