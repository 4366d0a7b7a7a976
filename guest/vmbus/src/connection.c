/* connection.c - the VMBus connection: version negotiation, message posting and dispatch,
 * REQUESTOFFERS, UNLOAD (which empties the channel and GPADL tables, so a later vmbus_connect
 * starts afresh), and the main-context poll (PROTOCOL.md §5.1-5.3, §5.6, §5.9, §8.2).
 *
 * Negotiation tries 6.0, 5.3, 5.2, 5.1, 5.0, 4.1, 4.0, 3.0, 2.4, 1.1, 0.13 (newest first, as Linux
 * with the confidential-VMBus work; above the caller's cap skipped): INITIATE_CONTACT on
 * connection id 4 for >= 5.0 (msg_sint = 2; at 6.0 feature_flags = the requested features,
 * features.c), 1 below (the GPA of the interrupt page, zeroed before every connect); target_vcpu
 * = the caller's VP index. PostMessage failing with INVALID_CONNECTION_ID moves on to the next
 * version at once; VERSION_RESPONSE.version_supported = 0 likewise. After acceptance, >= 5.0
 * posts on VERSION_RESPONSE.msg_conn_id, and at 6.0 the features the VERSION_RESPONSE2 granted
 * hold until UNLOAD. Monitored channels set their bits in the second monitor page from each
 * connect on (until a MODIFY_CONNECTION, features.c).
 * Posting retries INSUFFICIENT_BUFFERS / INSUFFICIENT_MEMORY with a doubling back-off (1 us up
 * to 16 ms, at most 100 attempts). UNLOAD exists from 1.1 on: at 0.13 vmbus_unload() refuses
 * (VMBUS_EOPNOTSUPP) without posting. Inbound messages are dispatched from the FIFO in arrival
 * order; one whose type has no handler, or whose size is below the type's minimum, is dropped.
 */
#include "hvsim/boot_info.h"
#include "hvsim/console.h"
#include "hvsim/cpu.h"
#include "hvsim/hyperv.h"
#include "hvsim/string.h"
#include "hvsim/vp.h"
#include "internal.h"

#define POST_ATTEMPTS 100u
#define POST_MAX_DELAY_US 16384u
#define VP_READY_WAIT_US 100000u
#define OFFERS_WAIT_US (5u * VMBUS_WAIT_US)

struct vmbus_conn vmbus_conn;

static const uint32_t versions[] = {
    VMBUS_VERSION_WIN10_V6_0, VMBUS_VERSION_WIN10_V5_3, VMBUS_VERSION_WIN10_V5_2, VMBUS_VERSION_WIN10_V5_1,
    VMBUS_VERSION_WIN10_V5, VMBUS_VERSION_WIN10_V4_1, VMBUS_VERSION_WIN10, VMBUS_VERSION_WIN8_1,
    VMBUS_VERSION_WIN8, VMBUS_VERSION_WIN7, VMBUS_VERSION_WS2008,
};

void vmbus_protocol_error(const char *what, uint32_t value)
{
    printf("vmbus: protocol error: %s (0x%x), ignored\n", what, value);
}

uint32_t vmbus_version(void)
{
    return vmbus_conn.version;
}

/* PostMessage with the §8.2 back-off; returns the final HV status. */
static uint16_t post_on(uint32_t connection_id, const void *msg, uint32_t size)
{
    uint64_t delay = 1;
    uint16_t status = HV_STATUS_SUCCESS;
    for (unsigned attempt = 0; attempt < POST_ATTEMPTS; attempt++) {
        status = hv_post_message(connection_id, VMBUS_MESSAGE_TYPE, msg, size);
        if (status != HV_STATUS_INSUFFICIENT_BUFFERS && status != HV_STATUS_INSUFFICIENT_MEMORY)
            return status;
        hv_delay_us(delay);
        if (delay < POST_MAX_DELAY_US)
            delay *= 2;
    }
    return status;
}

int vmbus_post(const void *msg, uint32_t size)
{
    uint16_t status = post_on(vmbus_conn.msg_conn_id, msg, size);
    if (status == HV_STATUS_SUCCESS)
        return VMBUS_OK;
    uint32_t type;
    memcpy(&type, msg, sizeof(type));
    printf("vmbus: PostMessage of message type %u failed with status 0x%x\n", type, status);
    return VMBUS_EHV;
}

struct wait_ctx {
    int (*cond)(void *arg);
    void *arg;
};

static int wait_step(void *p)
{
    struct wait_ctx *w = p;
    vmbus_process_messages();
    return w->cond(w->arg);
}

int vmbus_wait(int (*cond)(void *arg), void *arg, uint64_t timeout_us)
{
    struct wait_ctx w = {cond, arg};
    return hv_wait(wait_step, &w, timeout_us);
}

static int flag_set(void *p)
{
    return *(volatile uint32_t *)p != 0;
}

/* size: the message's; VERSION_RESPONSE2's supported_features only if it has them. */
static void on_version_response(const struct vmbus_version_response *m, uint32_t size)
{
    if (!vmbus_conn.connecting || vmbus_conn.version_done) {
        vmbus_protocol_error("unsolicited VERSION_RESPONSE", m->version_supported);
        return;
    }
    vmbus_conn.version_resp = *m;
    vmbus_conn.version_resp_features =
        size >= sizeof(struct vmbus_version_response2) ? ((const struct vmbus_version_response2 *)m)->supported_features
                                                       : 0;
    vmbus_conn.version_done = 1;
}

static void on_flag_message(volatile uint32_t *flag, uint32_t type)
{
    if (*flag)
        vmbus_protocol_error("duplicate message of type", type);
    *flag = 1;
}

static void dispatch(const struct vmbus_fifo_msg *e)
{
    static const uint8_t min_size[CHANNELMSG_COUNT] = {
        [CHANNELMSG_OFFERCHANNEL] = sizeof(struct vmbus_offer_channel),
        [CHANNELMSG_RESCIND_CHANNELOFFER] = sizeof(struct vmbus_relid_msg),
        [CHANNELMSG_ALLOFFERS_DELIVERED] = sizeof(struct vmbus_msg_header),
        [CHANNELMSG_OPENCHANNEL_RESULT] = sizeof(struct vmbus_open_result),
        [CHANNELMSG_GPADL_CREATED] = sizeof(struct vmbus_gpadl_created),
        [CHANNELMSG_GPADL_TORNDOWN] = sizeof(struct vmbus_gpadl_torndown),
        [CHANNELMSG_VERSION_RESPONSE] = sizeof(struct vmbus_version_response),
        [CHANNELMSG_UNLOAD_RESPONSE] = sizeof(struct vmbus_msg_header),
        [CHANNELMSG_MODIFYCHANNEL_RESPONSE] = sizeof(struct vmbus_modify_channel_response),
        [CHANNELMSG_MODIFY_CONNECTION_RESPONSE] = sizeof(struct vmbus_modify_connection_response),
    };
    struct vmbus_msg_header h = {0, 0};
    if (e->size >= sizeof(h))
        memcpy(&h, e->data, sizeof(h));
    if (e->size < sizeof(h) || h.msgtype >= CHANNELMSG_COUNT || !min_size[h.msgtype]) {
        vmbus_protocol_error("message with no handler, type", h.msgtype);
        return;
    }
    if (e->size < min_size[h.msgtype]) {
        vmbus_protocol_error("message shorter than its type's minimum, type", h.msgtype);
        return;
    }
    const void *p = e->data; /* the FIFO entry is a private, suitably sized copy */
    switch (h.msgtype) {
    case CHANNELMSG_OFFERCHANNEL:
        vmbus_on_offer(p);
        break;
    case CHANNELMSG_RESCIND_CHANNELOFFER:
        vmbus_on_rescind(((const struct vmbus_relid_msg *)p)->child_relid);
        break;
    case CHANNELMSG_ALLOFFERS_DELIVERED:
        on_flag_message(&vmbus_conn.all_offers_delivered, h.msgtype);
        break;
    case CHANNELMSG_OPENCHANNEL_RESULT:
        vmbus_on_open_result(p);
        break;
    case CHANNELMSG_GPADL_CREATED:
        vmbus_on_gpadl_created(p);
        break;
    case CHANNELMSG_GPADL_TORNDOWN:
        vmbus_on_gpadl_torndown(p);
        break;
    case CHANNELMSG_VERSION_RESPONSE:
        on_version_response(p, e->size);
        break;
    case CHANNELMSG_UNLOAD_RESPONSE:
        on_flag_message(&vmbus_conn.unload_done, h.msgtype);
        break;
    case CHANNELMSG_MODIFY_CONNECTION_RESPONSE:
        vmbus_on_modify_connection_response(p);
        break;
    default: /* CHANNELMSG_MODIFYCHANNEL_RESPONSE */
        vmbus_on_modify_response(p);
        break;
    }
}

void vmbus_process_messages(void)
{
    static uint32_t busy;
    if (busy)
        return; /* a handler that posts and backs off must not re-enter dispatch */
    busy = 1;
    struct vmbus_fifo_msg e;
    for (;;) {
        if (this_vp() == vmbus_conn.main_vp) { /* room may have been made: pick up a held-back message */
            uint64_t flags = read_rflags();
            cli();
            vmbus_drain_slot();
            write_rflags(flags);
        }
        if (!vmbus_fifo_pop(&e))
            break;
        dispatch(&e);
    }
    busy = 0;
}

int vmbus_connect(uint32_t max_version)
{
    if (vmbus_conn.version)
        return VMBUS_EINVAL;
    vmbus_conn.main_vp = this_vp();
    vmbus_conn.main_vp_index = hv_vp_index();
    if (!vmbus_conn.next_gpadl)
        vmbus_conn.next_gpadl = VMBUS_FIRST_GPADL;
    if (!vmbus_conn.interrupt_page)
        vmbus_conn.interrupt_page = hv_alloc_pages(1);
    if (!vmbus_conn.monitor_pages)
        vmbus_conn.monitor_pages = hv_alloc_pages(2);
    if (!vmbus_conn.interrupt_page || !vmbus_conn.monitor_pages)
        return VMBUS_ENOMEM;
    memset(vmbus_conn.interrupt_page, 0, VMBUS_PAGE_SIZE); /* bits of an earlier connection go */
    if (vmbus_offers_init() || vmbus_gpadl_init())
        return VMBUS_ENOMEM;
    /* Channel interrupts may target any VP: give the others time to enable their SynIC. */
    uint32_t want = hvsim_boot->vcpu_count;
    struct vmbus_conn *c = &vmbus_conn;
    uint64_t deadline = rdtsc() + VP_READY_WAIT_US * hv_tsc_per_us();
    while (atomic_load_u32(&c->vps_ready) < want && rdtsc() < deadline)
        pause();
    if (c->vps_ready < want)
        printf("vmbus: only %u of %u VPs enabled their SynIC\n", c->vps_ready, want);

    for (unsigned i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        uint32_t v = versions[i];
        if (max_version && v > max_version)
            continue;
        int v5 = v >= VMBUS_VERSION_WIN10_V5;
        uint64_t features = v >= VMBUS_VERSION_WIN10_V6_0 ? c->features_requested : 0;
        struct vmbus_initiate_contact msg = {
            .hdr = {CHANNELMSG_INITIATE_CONTACT, 0},
            .vmbus_version_requested = v,
            .target_vcpu = c->main_vp_index,
            .interrupt_page_or_sint =
                v5 ? VMBUS_SINT | features << VMBUS_CONTACT_FEATURES_SHIFT : hv_gpa(c->interrupt_page),
            .monitor_page1 = hv_gpa(c->monitor_pages),
            .monitor_page2 = hv_gpa(c->monitor_pages + VMBUS_PAGE_SIZE),
        };
        c->version_done = 0;
        c->connecting = 1;
        uint16_t status = post_on(v5 ? VMBUS_MESSAGE_CONNECTION_ID_V5 : VMBUS_MESSAGE_CONNECTION_ID, &msg, sizeof(msg));
        if (status == HV_STATUS_INVALID_CONNECTION_ID)
            continue; /* no port behind connection id 4: an older host */
        if (status != HV_STATUS_SUCCESS) {
            c->connecting = 0;
            printf("vmbus: INITIATE_CONTACT failed with status 0x%x\n", status);
            return VMBUS_EHV;
        }
        int answered = vmbus_wait(flag_set, (void *)&c->version_done, VMBUS_WAIT_US);
        c->connecting = 0;
        if (!answered) {
            printf("vmbus: no VERSION_RESPONSE to version %u.%u\n", v >> 16, v & 0xFFFF);
            return VMBUS_ETIMEDOUT;
        }
        if (c->version_resp.version_supported != 1)
            continue;
        uint32_t conn_id = v5 ? c->version_resp.msg_conn_id : VMBUS_MESSAGE_CONNECTION_ID;
        if (!conn_id) {
            vmbus_protocol_error("VERSION_RESPONSE with message connection id", conn_id);
            return VMBUS_EPROTO;
        }
        c->msg_conn_id = conn_id;
        c->features = vmbus_features_granted(v);
        c->monitor_trigger = (struct vmbus_monitor_page *)(c->monitor_pages + VMBUS_PAGE_SIZE);
        c->version = v;
        c->all_offers_delivered = 0;
        c->unload_done = 0;
        return VMBUS_OK;
    }
    c->connecting = 0;
    return VMBUS_EOPNOTSUPP;
}

/* Posts a header-only message and waits until its answer sets *done. */
static int post_and_wait(uint32_t msgtype, volatile uint32_t *done, uint64_t timeout_us)
{
    if (!vmbus_conn.version)
        return VMBUS_EINVAL;
    *done = 0;
    struct vmbus_msg_header msg = {msgtype, 0};
    int r = vmbus_post(&msg, sizeof(msg));
    if (r)
        return r;
    if (!vmbus_wait(flag_set, (void *)done, timeout_us))
        return VMBUS_ETIMEDOUT;
    return VMBUS_OK;
}

int vmbus_request_offers(void)
{
    int r = post_and_wait(CHANNELMSG_REQUESTOFFERS, &vmbus_conn.all_offers_delivered, OFFERS_WAIT_US);
    if (r)
        return r;
    vmbus_poll();
    return VMBUS_OK;
}

int vmbus_unload(void)
{
    if (vmbus_conn.version == VMBUS_VERSION_WS2008)
        return VMBUS_EOPNOTSUPP; /* the host ignores UNLOAD below 1.1: no answer would come */
    int r = post_and_wait(CHANNELMSG_UNLOAD, &vmbus_conn.unload_done, VMBUS_WAIT_US);
    if (r)
        return r;
    vmbus_offers_reset();
    vmbus_gpadl_forget_all();
    vmbus_conn.version = 0;
    vmbus_conn.features = 0;
    return VMBUS_OK;
}

void vmbus_poll(void)
{
    static uint32_t busy;
    if (busy)
        return;
    busy = 1;
    vmbus_process_messages();
    vmbus_offers_poll();
    busy = 0;
}

struct event_wait {
    volatile uint32_t *flag;
};

static int event_ready(void *p)
{
    struct event_wait *w = p;
    return !vmbus_fifo_empty() || (w->flag && *w->flag);
}

void vmbus_wait_event(volatile uint32_t *wake_flag, uint64_t timeout_us)
{
    struct event_wait w = {wake_flag};
    hv_wait(event_ready, &w, timeout_us);
    vmbus_poll();
}
