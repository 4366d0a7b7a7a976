/* vmbus_subchannels.elf - sub-channels of the hvsim `test` device (PROTOCOL.md §5.6 step 6, §10.2).
 *
 * Sets a sub-channel callback on the test device's primary channel and opens the primary (VP 0).
 * The host then offers the device's sub-channels; the callback opens each with its own ring
 * GPADL, interrupts on VP (sub_channel_index % vCPUs). Checks:
 *   1. SUBCHANNELS sub-channels are announced, listed on the primary in sub_channel_index order
 *      1..n, with the primary's class and instance GUIDs, their own relids, and each opens;
 *   2. ROUNDS rounds of one packet per channel (sizes vary, trans_id = channel << 32 | round): every
 *      echo comes back intact on its own channel, and packets arrive in callbacks on the channel's
 *      target VP;
 *   3. sub-channel 1 closes on its own (still listed, no longer open) and the others keep echoing;
 *   4. closing the primary closes the open sub-channels first: afterwards none is open;
 *   5. UNLOAD is answered.
 * Each channel's signals by mechanism (monitor bit / hypercall) are printed. A rescinded channel
 * is reported by its rescind callback ("# relid N rescinded"); the library closes and releases it.
 * Prints ok/FAIL lines and exits 0 only if every check passed. Run:
 *   hvsim run --guest vmbus_subchannels.elf --vcpus 4 --vmbus-devices test --device-param test.subchannels=3
 */
#include "vmbus_testlib.h"

#define SUBCHANNELS 3u
#define MAX_CHANNELS (1u + SUBCHANNELS)
#define RING_PAGES 2u
#define ROUNDS 12u
#define MAX_PAYLOAD 2000u
#define WAIT_US 200000u
#define POLL_US 1000u

struct test_channel {
    struct vmbus_channel *ch;
    uint32_t number; /* 0 = primary, else sub_channel_index */
    uint32_t vp;     /* runtime VP its interrupts target */
    int open_result;
    uint32_t active; /* open and part of the echo rounds */
    volatile uint32_t received, bad, off_target;
    uint32_t reported; /* received at the last report */
    volatile uint64_t last_trans_id;
};

static struct test_channel chans[MAX_CHANNELS];
static volatile uint32_t subs_announced, subs_unexpected, rescinds;
static uint32_t vcpus;
static uint8_t tx_buf[MAX_PAYLOAD];

static uint8_t pattern(uint64_t trans_id, uint32_t i)
{
    return (uint8_t)(trans_id * 29u + i * 7u + (trans_id >> 32));
}

static uint32_t size_of_round(uint32_t round, uint32_t number)
{
    static const uint32_t sizes[] = {8, 100, 1000, 24, 2000, 333, 16, 1500};
    return sizes[(round + number) % (sizeof(sizes) / sizeof(sizes[0]))];
}

static void on_packets(struct vmbus_channel *ch)
{
    struct test_channel *c = ch->context;
    uint8_t buf[MAX_PAYLOAD + 8];
    struct vmbus_packet pkt;
    int r;
    while ((r = vmbus_recv(ch, &pkt, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            c->bad++;
            if (r == VMBUS_EPROTO)
                return;
            continue;
        }
        uint32_t round = (uint32_t)pkt.trans_id;
        uint32_t len = size_of_round(round, c->number);
        int ok = pkt.type == VM_PKT_DATA_INBAND && pkt.trans_id >> 32 == c->number && round == c->received &&
                 pkt.len == ((len + 7u) & ~7u);
        for (uint32_t i = 0; ok && i < pkt.len; i++)
            ok = buf[i] == (i < len ? pattern(pkt.trans_id, i) : 0);
        c->bad += !ok;
        c->off_target += this_vp() != c->vp;
        c->last_trans_id = pkt.trans_id;
        c->received++;
    }
}

static void on_rescind(struct vmbus_channel *ch)
{
    rescinds++;
    printf("# relid %u (sub-channel %u) rescinded\n", ch->relid, ch->sub_channel_index);
}

/* Runs in vmbus_poll() for each new sub-channel: opens it on its own VP, as Linux drivers do. */
static void on_sub_channel(struct vmbus_channel *sc)
{
    uint32_t n = sc->sub_channel_index;
    if (n == 0 || n > SUBCHANNELS || chans[n].ch) {
        subs_unexpected++;
        return;
    }
    struct test_channel *c = &chans[n];
    c->ch = sc;
    c->number = n;
    c->vp = n % vcpus;
    vmbus_set_chn_rescind_callback(sc, on_rescind);
    c->open_result = vmbus_open(sc, RING_PAGES, vt_vp_index[c->vp], on_packets, c);
    c->active = c->open_result == 0;
    subs_announced++;
}

/* Offers are announced by vmbus_poll(): poll, then halt until the next message, up to WAIT_US. */
static int wait_for_sub_channels(void)
{
    for (uint32_t waited = 0;; waited += POLL_US) {
        vmbus_poll();
        if (subs_announced >= SUBCHANNELS)
            return 1;
        if (waited >= WAIT_US)
            return 0;
        vmbus_wait_event(0, POLL_US);
    }
}

static int round_done(void *p)
{
    uint32_t want = *(uint32_t *)p;
    for (uint32_t n = 0; n < MAX_CHANNELS; n++)
        if (chans[n].active && chans[n].received < want)
            return 0;
    return 1;
}

static int send_round(struct test_channel *c, uint32_t round)
{
    uint64_t trans_id = (uint64_t)c->number << 32 | round;
    uint32_t len = size_of_round(round, c->number);
    for (uint32_t i = 0; i < len; i++)
        tx_buf[i] = pattern(trans_id, i);
    return vmbus_send(c->ch, VM_PKT_DATA_INBAND, 0, trans_id, tx_buf, len);
}

/* Rounds [from, to) over the active channels, one packet per channel per round; returns failures. */
static uint32_t echo_rounds(uint32_t from, uint32_t to)
{
    uint32_t failures = 0;
    for (uint32_t round = from; round < to; round++) {
        for (uint32_t n = 0; n < MAX_CHANNELS; n++)
            if (chans[n].active)
                failures += send_round(&chans[n], round) != 0;
        uint32_t want = round + 1;
        failures += !vt_wait(round_done, &want, WAIT_US);
    }
    return failures;
}

static void check_listing(struct vmbus_channel *primary)
{
    uint32_t listed = 0, in_order = 1, same_ids = 1, opened = 0;
    uint16_t prev = 0;
    for (struct vmbus_channel *sc = primary->sub_channels; sc; sc = sc->next_sub) {
        listed++;
        in_order &= sc->sub_channel_index == prev + 1u && sc->primary == primary && sc->relid != primary->relid;
        same_ids &= vmbus_guid_equal(&sc->if_type, &primary->if_type) &&
                    vmbus_guid_equal(&sc->if_instance, &primary->if_instance);
        prev = sc->sub_channel_index;
    }
    for (uint32_t n = 1; n <= SUBCHANNELS; n++)
        opened += chans[n].ch && chans[n].open_result == 0 && chans[n].ch->state == VMBUS_CH_OPEN;
    CHECK(listed == SUBCHANNELS && in_order && subs_unexpected == 0,
          "%u sub-channels listed on the primary, indexes 1..%u in order (%u unexpected)", listed, SUBCHANNELS,
          subs_unexpected);
    CHECK(same_ids, "sub-channels share the primary's class and instance GUIDs");
    CHECK(opened == SUBCHANNELS, "%u of %u sub-channels opened, each with its own ring GPADL", opened, SUBCHANNELS);
    for (uint32_t n = 1; n <= SUBCHANNELS; n++)
        if (chans[n].ch)
            printf("# sub-channel %u: relid %u, ring GPADL 0x%x, interrupts on VP %u (VP index %u), open %d\n", n,
                   chans[n].ch->relid, chans[n].ch->ring_gpadl, chans[n].vp, vt_vp_index[chans[n].vp],
                   chans[n].open_result);
}

/* Checks the echoes of the active channels since the last report, then starts a new count. */
static void report_echoes(const char *what, uint32_t failures)
{
    uint32_t bad = 0, off_target = 0, received = 0, channels = 0;
    for (uint32_t n = 0; n < MAX_CHANNELS; n++) {
        struct test_channel *c = &chans[n];
        channels += c->active;
        bad += c->bad;
        off_target += c->off_target;
        received += c->active ? c->received - c->reported : 0;
        c->bad = c->off_target = 0;
        c->reported = c->received;
    }
    CHECK(failures == 0 && bad == 0, "%s: %u echoes over %u channels, each intact on its own channel (%u failures, "
          "%u bad)", what, received, channels, failures, bad);
    CHECK(off_target == 0, "%s: every echo arrived on its channel's target VP (%u elsewhere)", what, off_target);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    struct vmbus_channel *primary = vt_offer("vmbus_subchannels", vp);
    if (!primary)
        return vt_finish();
    vcpus = bi->vcpu_count;
    if (vcpus < MAX_CHANNELS)
        printf("# only %u vCPUs: some channels share a VP (run with --vcpus %u)\n", vcpus, MAX_CHANNELS);
    chans[0].ch = primary;
    chans[0].vp = 0;
    vmbus_set_sc_create_callback(primary, on_sub_channel);
    vmbus_set_chn_rescind_callback(primary, on_rescind);
    int r = vmbus_open(primary, RING_PAGES, vt_vp_index[0], on_packets, &chans[0]);
    if (!CHECK(r == 0, "primary opened on VP 0 (%d)", r))
        return vt_finish();
    chans[0].active = 1;
    sti();
    int all = wait_for_sub_channels();
    CHECK(all, "%u sub-channels offered once the primary opened (%u; run with --device-param test.subchannels=%u)",
          SUBCHANNELS, subs_announced, SUBCHANNELS);
    check_listing(primary);
    if (!all)
        return vt_finish();

    report_echoes("all channels", echo_rounds(0, ROUNDS));

    struct vmbus_channel *sub1 = chans[1].ch;
    r = vmbus_close(sub1);
    chans[1].active = 0;
    CHECK(r == 0 && sub1->state == VMBUS_CH_OFFERED && primary->sub_channels == sub1,
          "sub-channel 1 closed on its own (%d), still listed", r);
    report_echoes("after closing sub-channel 1", echo_rounds(ROUNDS, 2 * ROUNDS));

    for (uint32_t n = 0; n <= SUBCHANNELS; n++) {
        struct vmbus_channel *ch = chans[n].ch;
        printf("# channel %u (relid %u): %u signals by monitor bit, %u by hypercall; %u interrupts\n", n, ch->relid,
               ch->sig_monitor, ch->sig_hypercall, ch->interrupts);
    }
    r = vmbus_close(primary);
    uint32_t still_open = 0;
    for (struct vmbus_channel *sc = primary->sub_channels; sc; sc = sc->next_sub)
        still_open += sc->state != VMBUS_CH_OFFERED;
    CHECK(r == 0 && primary->state == VMBUS_CH_OFFERED && still_open == 0,
          "primary closed (%d) after its open sub-channels (%u left open)", r, still_open);
    CHECK(rescinds == 0, "no channel was rescinded (%u)", rescinds);
    r = vmbus_unload();
    CHECK(r == 0, "UNLOAD answered (%d)", r);
    return vt_finish();
}
