/* vmbus_echo.elf - the ring data path against the hvsim `test` device (models/devices/test).
 *
 * Opens the test channel with 3 pages per direction (8 KiB of data each) and checks:
 *   1. one at a time: SEQ_COUNT in-band packets of sizes from 8 to 6000 bytes; each echo has the
 *      same type (in-band), trans_id and payload, the padding up to 8 bytes comes back as zeros;
 *   2. a burst of BURST_COUNT 1000-byte packets sent back to back (the outbound ring fills, so
 *      vmbus_send_wait sets pending_send_sz and waits); the echoes arrive in order and intact;
 *   2b. with 2+ VPs and VMBus >= 4.1: after MODIFYCHANNEL to VP 1 (waiting for the response at
 *      >= 5.3) echoes still arrive (interrupts still latched on VP 0 are served there) and, at the
 *      latest after a 50 ms pause, callbacks run on VP 1; then back to VP 0;
 *   3. a packet with COMPLETION_REQUESTED comes back as VM_PKT_COMP with its trans_id and payload;
 *   4. both rings wrapped around at least once (packets straddled the end of the data area);
 *   5. signalling mechanism (§5.8): when the offer allocated a monitor id, every signal of step 1
 *      went by monitor bit and none by hypercall (otherwise all by hypercall); in low-latency
 *      mode LOW_LATENCY_COUNT echoes signal by hypercall only; over the whole run every signal the
 *      rules asked for (empty->non-empty, pending_send_sz) went out by exactly one mechanism;
 *   6. the channel closes and UNLOAD is answered;
 *   7. connect again after UNLOAD: the library emptied its channel table, so the host's new offer
 *      of the test device is announced afresh under the same relid (no "relid already in use"),
 *      and no other channel is left; it opens (ring memory reused) and closes; UNLOAD again.
 * Prints ok/FAIL lines and exits 0 only if every check passed. Run:
 *   hvsim run --guest vmbus_echo.elf --vcpus 2 --vmbus-devices test [--monitor-latency 0]
 */
#include "vmbus_testlib.h"

#define RING_PAGES 3u
#define MAX_PAYLOAD 6000u
#define RX_SLOTS 32u
#define SEQ_COUNT 40u
#define BURST_COUNT 12u
#define BURST_SIZE 1000u
#define WAIT_US 200000u
#define RETARGET_LAG_US 50000u
#define LOW_LATENCY_COUNT 5u

struct rx {
    struct vmbus_packet pkt;
    uint8_t data[MAX_PAYLOAD + 8];
};

static struct rx rx[RX_SLOTS];
static volatile uint32_t rx_head, rx_tail, rx_errors, in_wraps, callbacks_off_vp0;
static uint8_t tx_buf[MAX_PAYLOAD];

static uint8_t pattern(uint64_t trans_id, uint32_t i)
{
    return (uint8_t)(trans_id * 37u + i * 11u + (i >> 8));
}

static void on_packets(struct vmbus_channel *ch)
{
    callbacks_off_vp0 += this_vp() != 0;
    while (rx_tail - rx_head < RX_SLOTS) {
        struct rx *e = &rx[rx_tail % RX_SLOTS];
        uint32_t before = ch->in.priv;
        int r = vmbus_recv(ch, &e->pkt, e->data, sizeof(e->data));
        if (r == 0)
            return;
        if (r < 0) {
            rx_errors++;
            if (r == VMBUS_EPROTO)
                return;
            continue;
        }
        in_wraps += ch->in.priv < before;
        rx_tail++;
    }
}

struct rx_wait {
    uint32_t want;
};

static int have_rx(void *p)
{
    return rx_tail - rx_head >= ((struct rx_wait *)p)->want;
}

static void fill(uint64_t trans_id, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        tx_buf[i] = pattern(trans_id, i);
}

/* Checks the oldest received packet against what trans_id/len should echo as; consumes it. */
static int echo_matches(uint16_t type, uint64_t trans_id, uint32_t len, const char **why)
{
    struct rx *e = &rx[rx_head % RX_SLOTS];
    uint32_t padded = (len + 7u) & ~7u;
    *why = "ok";
    if (e->pkt.type != type)
        *why = "wrong packet type";
    else if (e->pkt.trans_id != trans_id)
        *why = "wrong trans_id";
    else if (e->pkt.len != padded)
        *why = "wrong length";
    for (uint32_t i = 0; **why == 'o' && i < padded; i++)
        if (e->data[i] != (i < len ? pattern(trans_id, i) : 0))
            *why = "payload differs";
    rx_head++;
    return **why == 'o';
}

static int send_one(struct vmbus_channel *ch, uint16_t flags, uint64_t trans_id, uint32_t len, uint32_t *out_wraps)
{
    fill(trans_id, len);
    uint32_t before = ch->out.priv;
    int r = vmbus_send_wait(ch, VM_PKT_DATA_INBAND, flags, trans_id, tx_buf, len, WAIT_US);
    *out_wraps += ch->out.priv < before;
    return r;
}

/* Sends `count` packets one at a time and checks each echo; returns how many failed. */
static uint32_t echo_one_by_one(struct vmbus_channel *ch, uint64_t *trans_id, uint32_t count, uint32_t *out_wraps)
{
    static const uint32_t sizes[] = {8, 16, 24, 100, 240, 1000, 2040, 3000, 4000, 6000, 1, 333, 4095};
    uint32_t bad = 0;
    for (uint32_t n = 0; n < count; n++, (*trans_id)++) {
        uint32_t len = sizes[n % (sizeof(sizes) / sizeof(sizes[0]))];
        struct rx_wait w = {1};
        const char *why = "no echo";
        int r = send_one(ch, 0, *trans_id, len, out_wraps);
        int ok = r == 0 && vt_wait(have_rx, &w, WAIT_US) && echo_matches(VM_PKT_DATA_INBAND, *trans_id, len, &why);
        if (!ok) {
            bad++;
            printf("# packet %lu (%u bytes): send %d, %s\n", *trans_id, len, r, why);
        }
    }
    return bad;
}

static void retarget(struct vmbus_channel *ch, const struct hvsim_boot_info *bi, uint64_t *trans_id,
                     uint32_t *out_wraps)
{
    uint32_t v = vmbus_version();
    if (bi->vcpu_count < 2 || v < VMBUS_VERSION_WIN10_V4_1) {
        printf("# MODIFYCHANNEL not exercised (needs 2 vCPUs and VMBus >= 4.1)\n");
        return;
    }
    int r = vmbus_modify_channel(ch, vt_vp_index[1]);
    CHECK(r == 0, "MODIFYCHANNEL to VP index %u accepted (%d)", vt_vp_index[1], r);
    uint32_t before = callbacks_off_vp0;
    uint32_t bad = echo_one_by_one(ch, trans_id, 10, out_wraps);
    CHECK(bad == 0, "after retargeting, 10 echoes arrive (%u bad; %u callbacks ran on VP 1)", bad,
          callbacks_off_vp0 - before);
    if (callbacks_off_vp0 == before) { /* the host may keep using the old VP for a while (--retarget-lag) */
        hv_delay_us(RETARGET_LAG_US);
        bad = echo_one_by_one(ch, trans_id, 5, out_wraps);
    }
    CHECK(bad == 0 && callbacks_off_vp0 > before, "channel callbacks run on VP 1 (%u)", callbacks_off_vp0 - before);
    r = vmbus_modify_channel(ch, vt_vp_index[0]);
    bad = echo_one_by_one(ch, trans_id, 5, out_wraps);
    CHECK(r == 0 && bad == 0, "retargeted back to VP 0 (%d), 5 echoes arrive (%u bad)", r, bad);
}

/* Step 5: the mechanism follows the offer's monitor id and the channel's low-latency mode. */
static void check_mechanism(struct vmbus_channel *ch, uint64_t *trans_id, uint32_t *out_wraps)
{
    if (ch->monitored)
        CHECK(ch->sig_monitor > 0 && ch->sig_hypercall == 0,
              "monitored channel (monitor id %u): %u signals by monitor bit, %u by hypercall", ch->monitor_id,
              ch->sig_monitor, ch->sig_hypercall);
    else
        CHECK(ch->sig_monitor == 0 && ch->sig_hypercall > 0,
              "no monitor id in the offer: %u signals by hypercall, %u by monitor bit", ch->sig_hypercall,
              ch->sig_monitor);
    uint32_t monitor_before = ch->sig_monitor, hypercall_before = ch->sig_hypercall;
    vmbus_set_channel_low_latency(ch, 1);
    uint32_t bad = echo_one_by_one(ch, trans_id, LOW_LATENCY_COUNT, out_wraps);
    vmbus_set_channel_low_latency(ch, 0);
    CHECK(bad == 0 && ch->sig_monitor == monitor_before && ch->sig_hypercall >= hypercall_before + LOW_LATENCY_COUNT,
          "low-latency mode: %u echoes (%u bad) signalled by hypercall (%u), none by monitor bit (%u)",
          LOW_LATENCY_COUNT, bad, ch->sig_hypercall - hypercall_before, ch->sig_monitor - monitor_before);
}

static uint32_t offers_announced;
static struct vmbus_channel *last_offer;

static void count_offer(struct vmbus_channel *ch)
{
    offers_announced++;
    last_offer = ch;
}

static void reconnect_after_unload(uint32_t relid)
{
    int r = vmbus_connect(0);
    if (!CHECK(r == 0, "connected again after UNLOAD (%d)", r))
        return;
    offers_announced = 0;
    last_offer = 0;
    vmbus_set_offer_hook(count_offer);
    r = vmbus_request_offers();
    uint32_t live = 0;
    struct vmbus_channel *c;
    for (uint32_t i = 0; (c = vmbus_channel_at(i)) != 0; i++)
        live += c->state != VMBUS_CH_FREE;
    struct vmbus_channel *ch = last_offer;
    if (!CHECK(r == 0 && offers_announced == 1 && ch && ch->relid == relid && live == 1,
               "offered afresh after reconnect: %u announced, relid %u (was %u), %u channel(s) in the table (%d)",
               offers_announced, ch ? ch->relid : 0, relid, live, r))
        return;
    r = vmbus_open(ch, RING_PAGES, hv_vp_index(), on_packets, 0);
    if (CHECK(r == 0, "test channel opened again (%d)", r))
        vt_stop(ch);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    struct vmbus_channel *ch = vt_start("vmbus_echo", vp, RING_PAGES, on_packets);
    if (!ch)
        return vt_finish();
    uint32_t out_wraps = 0;
    uint64_t trans_id = 1;
    uint32_t bad = echo_one_by_one(ch, &trans_id, SEQ_COUNT, &out_wraps);
    CHECK(bad == 0, "%u packets of 1..6000 bytes echoed one at a time (%u bad)", SEQ_COUNT, bad);
    check_mechanism(ch, &trans_id, &out_wraps);

    retarget(ch, bi, &trans_id, &out_wraps);

    bad = 0;
    uint64_t first = trans_id;
    int sent = 0;
    for (uint32_t n = 0; n < BURST_COUNT; n++, trans_id++)
        sent += send_one(ch, 0, trans_id, BURST_SIZE, &out_wraps) == 0;
    struct rx_wait all = {BURST_COUNT};
    int got = vt_wait(have_rx, &all, WAIT_US);
    for (uint64_t id = first; got && id < trans_id; id++) {
        const char *why;
        bad += !echo_matches(VM_PKT_DATA_INBAND, id, BURST_SIZE, &why);
    }
    CHECK(sent == (int)BURST_COUNT && got && bad == 0,
          "burst of %u x %u bytes: all sent (%d), all echoed in order (%u bad, outbound ring full %u times)",
          BURST_COUNT, BURST_SIZE, sent, bad, ch->out_full);

    {
        struct rx_wait w = {1};
        const char *why = "no completion";
        int r = send_one(ch, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, trans_id, 64, &out_wraps);
        int ok = r == 0 && vt_wait(have_rx, &w, WAIT_US) && echo_matches(VM_PKT_COMP, trans_id, 64, &why);
        CHECK(ok, "COMPLETION_REQUESTED packet answered by VM_PKT_COMP with trans_id %lu (%s)", trans_id, why);
        trans_id++;
    }
    CHECK(out_wraps > 0 && in_wraps > 0, "both rings wrapped around (outbound %u, inbound %u times)", out_wraps,
          in_wraps);
    CHECK(rx_errors == 0 && !ch->broken, "no receive errors (%u), channel healthy", rx_errors);
    printf("# signals: to host %u (empty->non-empty), %u (pending_send_sz); interrupts %u, callbacks %u\n",
           ch->intr_out_empty, ch->intr_in_full, ch->interrupts, ch->events);
    CHECK(ch->sig_monitor + ch->sig_hypercall == ch->intr_out_empty + ch->intr_in_full,
          "signals by mechanism: %u by monitor bit, %u by hypercall (rules asked for %u)", ch->sig_monitor,
          ch->sig_hypercall, ch->intr_out_empty + ch->intr_in_full);
    uint32_t relid = ch->relid;
    vt_stop(ch);
    reconnect_after_unload(relid);
    return vt_finish();
}
