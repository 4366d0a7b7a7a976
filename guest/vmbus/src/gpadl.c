/* gpadl.c - GPADL creation and teardown (PROTOCOL.md §5.4, §5.7, §10.2).
 *
 * Linux style: one range, byte_offset 0, byte_count = pages * 4096; GPADL_HEADER carries the first
 * 26 PFNs, each GPADL_BODY up to 28 more, all posted back to back under one guest-chosen handle
 * (0xE1E10 upward). Creation waits for GPADL_CREATED with the same relid and handle; a rescind of
 * the channel ends that wait with VMBUS_ENODEV (§10.2), but the GPADL stays on record as orphaned:
 * the host may still create it, and its late GPADL_CREATED makes it an ordinary created GPADL
 * (a failure status frees it). vmbus_gpadl_teardown_all(), run by the rescind clean-up before
 * RELID_RELEASED, first waits for the channel's orphaned GPADLs to be answered, then tears down
 * every created one, so nothing leaks. Teardown posts GPADL_TEARDOWN and waits for GPADL_TORNDOWN
 * (the host answers teardowns even after a rescind, §10.1). Any failure other than a clean
 * teardown tells the caller that the memory may still be in the host's hands.
 * A GPADL_CREATED / GPADL_TORNDOWN that matches no waiting or orphaned GPADL is a protocol error,
 * ignored. vmbus_gpadl_forget_all() (unload) drops the whole table: the host has forgotten it.
 */
#include "hvsim/console.h"
#include "hvsim/hyperv.h"
#include "hvsim/string.h"
#include "internal.h"

#define MAX_GPADLS (2u * VMBUS_MAX_CHANNELS) /* every channel's ring GPADL, and as many others */
#define MAX_GPADL_PAGES ((0xFFFFu - 8u) / 8u) /* range_buflen is a u16 */

/* ORPHANED: creation abandoned by a rescind before GPADL_CREATED arrived */
enum gpadl_state { GPADL_FREE, GPADL_CREATING, GPADL_ORPHANED, GPADL_CREATED, GPADL_TEARING };

struct gpadl {
    uint32_t handle, relid;
    volatile uint32_t state;
    volatile uint32_t answered, status;
};

/* Allocated by the first vmbus_connect, not in .bss (see offers.c); entries are taken lowest first,
 * so every scan stops at gpadls_used. */
static struct gpadl *gpadls;  /* MAX_GPADLS entries */
static uint32_t gpadls_used;  /* entries [0, gpadls_used) have held a GPADL */

int vmbus_gpadl_init(void)
{
    uint64_t bytes = MAX_GPADLS * sizeof(struct gpadl);
    if (!gpadls)
        gpadls = hv_alloc_pages((uint32_t)((bytes + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE));
    return gpadls ? VMBUS_OK : VMBUS_ENOMEM;
}

static struct gpadl *find(uint32_t handle, uint32_t state)
{
    for (uint32_t i = 0; i < gpadls_used; i++)
        if (gpadls[i].state == state && gpadls[i].handle == handle)
            return &gpadls[i];
    return 0;
}

struct create_wait {
    struct gpadl *g;
    struct vmbus_channel *ch;
};

static int created_or_rescinded(void *p)
{
    struct create_wait *w = p;
    return w->g->answered || w->ch->rescinded;
}

static int post_pfns(struct vmbus_channel *ch, uint32_t handle, const uint8_t *buf, uint32_t pages)
{
    uint8_t msg[VMBUS_MAX_MESSAGE];
    struct vmbus_gpadl_header h = {
        .hdr = {CHANNELMSG_GPADL_HEADER, 0},
        .child_relid = ch->relid,
        .gpadl = handle,
        .range_buflen = (uint16_t)(8u + 8u * pages),
        .rangecount = 1,
        .byte_count = pages * VMBUS_PAGE_SIZE,
        .byte_offset = 0,
    };
    uint32_t n = pages < VMBUS_GPADL_HEADER_PFNS ? pages : VMBUS_GPADL_HEADER_PFNS;
    memcpy(msg, &h, sizeof(h));
    for (uint32_t i = 0; i < n; i++) {
        uint64_t pfn = hv_gpa(buf + (uint64_t)i * VMBUS_PAGE_SIZE) >> 12;
        memcpy(msg + sizeof(h) + 8u * i, &pfn, 8);
    }
    int r = vmbus_post(msg, (uint32_t)sizeof(h) + 8u * n);
    for (uint32_t done = n; !r && done < pages;) {
        struct vmbus_gpadl_body b = {{CHANNELMSG_GPADL_BODY, 0}, 0, handle};
        uint32_t k = pages - done < VMBUS_GPADL_BODY_PFNS ? pages - done : VMBUS_GPADL_BODY_PFNS;
        memcpy(msg, &b, sizeof(b));
        for (uint32_t i = 0; i < k; i++) {
            uint64_t pfn = hv_gpa(buf + (uint64_t)(done + i) * VMBUS_PAGE_SIZE) >> 12;
            memcpy(msg + sizeof(b) + 8u * i, &pfn, 8);
        }
        r = vmbus_post(msg, (uint32_t)sizeof(b) + 8u * k);
        done += k;
    }
    return r;
}

int vmbus_gpadl_create(struct vmbus_channel *ch, void *buf, uint32_t pages, uint32_t *handle)
{
    if (!pages || pages > MAX_GPADL_PAGES)
        return VMBUS_EINVAL;
    struct gpadl *g = 0;
    for (uint32_t i = 0; i < gpadls_used && !g; i++)
        if (gpadls[i].state == GPADL_FREE)
            g = &gpadls[i];
    if (!g && gpadls_used < MAX_GPADLS)
        g = &gpadls[gpadls_used++];
    if (!g)
        return VMBUS_ENOMEM;
    g->handle = vmbus_conn.next_gpadl++;
    g->relid = ch->relid;
    g->answered = 0;
    g->status = 0;
    g->state = GPADL_CREATING;
    int r = post_pfns(ch, g->handle, buf, pages);
    if (!r) {
        struct create_wait w = {g, ch};
        if (!vmbus_wait(created_or_rescinded, &w, VMBUS_WAIT_US))
            r = VMBUS_ETIMEDOUT;
        else if (!g->answered)
            r = VMBUS_ENODEV;
        else if (g->status)
            r = VMBUS_EHOST;
    }
    if (r) {
        printf("vmbus: relid %u: GPADL 0x%x not created (%d, status 0x%x)\n", ch->relid, g->handle, r, g->status);
#ifdef HVSIM_BUGGY_RESCIND_DURING_OPEN
        g->state = GPADL_FREE; /* deliberate bug for guest/buggy: forget the GPADL a rescind interrupted */
#else
        g->state = r == VMBUS_ENODEV ? GPADL_ORPHANED : GPADL_FREE; /* the answer may still come */
#endif
        return r;
    }
    g->state = GPADL_CREATED;
    *handle = g->handle;
    return VMBUS_OK;
}

void vmbus_on_gpadl_created(const struct vmbus_gpadl_created *m)
{
    struct gpadl *g = find(m->gpadl, GPADL_CREATING);
    if (!g)
        g = find(m->gpadl, GPADL_ORPHANED);
    if (!g || g->relid != m->child_relid || g->answered) {
        vmbus_protocol_error("GPADL_CREATED for no pending GPADL", m->gpadl);
        return;
    }
    g->status = m->creation_status;
    if (g->state == GPADL_ORPHANED) /* its creator gave up: the rescind clean-up tears it down */
        g->state = m->creation_status ? GPADL_FREE : GPADL_CREATED;
    else
        g->answered = 1;
}

static int torndown(void *p)
{
    return ((struct gpadl *)p)->answered;
}

int vmbus_gpadl_teardown(struct vmbus_channel *ch, uint32_t handle)
{
    struct gpadl *g = find(handle, GPADL_CREATED);
    if (!g)
        return VMBUS_EINVAL;
    g->answered = 0;
    g->state = GPADL_TEARING;
    struct vmbus_gpadl_teardown msg = {{CHANNELMSG_GPADL_TEARDOWN, 0}, ch->relid, handle};
    int r = vmbus_post(&msg, sizeof(msg));
    if (!r && !vmbus_wait(torndown, g, VMBUS_WAIT_US))
        r = VMBUS_ETIMEDOUT;
    if (r)
        printf("vmbus: relid %u: GPADL 0x%x teardown failed (%d); its memory is abandoned\n", ch->relid, handle, r);
    g->state = GPADL_FREE;
    return r;
}

static int no_orphans(void *p)
{
    const struct vmbus_channel *ch = p;
    for (uint32_t i = 0; i < gpadls_used; i++)
        if (gpadls[i].state == GPADL_ORPHANED && gpadls[i].relid == ch->relid)
            return 0;
    return 1;
}

void vmbus_gpadl_teardown_all(struct vmbus_channel *ch)
{
    if (!vmbus_wait(no_orphans, ch, VMBUS_WAIT_US)) {
        for (uint32_t i = 0; i < gpadls_used; i++)
            if (gpadls[i].state == GPADL_ORPHANED && gpadls[i].relid == ch->relid) {
                printf("vmbus: relid %u: GPADL 0x%x never answered; its memory is abandoned\n", ch->relid,
                       gpadls[i].handle);
                gpadls[i].state = GPADL_FREE;
            }
    }
    for (uint32_t i = 0; i < gpadls_used; i++)
        if (gpadls[i].state == GPADL_CREATED && gpadls[i].relid == ch->relid)
            vmbus_gpadl_teardown(ch, gpadls[i].handle);
}

void vmbus_on_gpadl_torndown(const struct vmbus_gpadl_torndown *m)
{
    struct gpadl *g = find(m->gpadl, GPADL_TEARING);
    if (!g || g->answered) {
        vmbus_protocol_error("GPADL_TORNDOWN for no GPADL being torn down", m->gpadl);
        return;
    }
    g->answered = 1;
}

void vmbus_gpadl_forget_all(void)
{
    for (uint32_t i = 0; i < gpadls_used; i++)
        gpadls[i].state = GPADL_FREE;
}
