/* bench_vmbus_echo.elf - VMBus ring-echo load for bench/hvsim_bench (V1, V2): pumps TOTAL_PACKETS
 * PAYLOAD-byte in-band packets through every `test` device channel the guest holds and checks
 * every echo. Built a second time with TOTAL_PACKETS=0 as bench_vmbus_setup.elf: the same run
 * without traffic, whose time the bench subtracts (boot, connect, opens, close, unload).
 *
 * Set-up (VP 0, the main context): every VP enables its SynIC and records its VP_INDEX; VP 0
 * connects, requests offers and opens each offered `test` channel (the k-th one with RING_PAGES
 * pages per direction, interrupts to the VP_INDEX of VP k % vcpu_count). Then every VP drives the
 * traffic of its own channels: channel k carries TOTAL_PACKETS / n packets (the first
 * TOTAL_PACKETS % n channels one more), so the total is the same for every configuration.
 * Pumping, per VP, round-robin over its channels: vmbus_send while fewer than WINDOW packets of
 * the channel are unanswered (WINDOW packets fit in either ring, so the host never stalls; an
 * EAGAIN just ends that channel's turn); the library signals the host per its rules; echoes are
 * taken in the channel callback, which runs on the owning VP's SINT2 interrupt. With nothing to
 * send the VP halts until an echo arrives; STALL_US of virtual time without one is a failure.
 * Echo check: in order per channel, VM_PKT_DATA_INBAND, trans_id = channel << 32 | sequence,
 * PAYLOAD bytes, each payload qword = word(trans_id, i).
 * Ends with one line "bench_vmbus_echo: PASS|FAIL ..." (counts, signals, interrupts), closes the
 * channels, unloads, and exits 0 only if every echo arrived intact. Run:
 *   hvsim run --guest bench_vmbus_echo.elf --vcpus 2 --vmbus-devices test:t0,test:t1
 */
#include "hvsim_guest.h"
#include "hvsim/hyperv.h"
#include "vmbus/vmbus.h"

#ifndef TOTAL_PACKETS
#define TOTAL_PACKETS 200000u
#endif
#define PAYLOAD 64u
#define RING_PAGES 4u /* per direction: 12 KiB of data, 139 packets of 88 bytes */
#define WINDOW 128u   /* unanswered packets per channel */
#define MAX_CHANNELS 256u
#define MAX_VPS 64u
#define STALL_US 100000u
#define SETUP_WAIT_US 1000000u

struct bench_channel {
    struct vmbus_channel *ch;
    uint32_t index; /* ordinal among the opened test channels */
    uint32_t vp;    /* runtime VP that drives it and takes its interrupts */
    uint32_t quota;
    uint32_t sent;
    volatile uint32_t received, errors;
};

static const struct vmbus_guid test_class =
    VMBUS_GUID(0xb7a3a6ad, 0x5f26, 0x4e8b, 0x9b, 0x1d, 0x68, 0x76, 0x73, 0x6d, 0x00, 0x01);

static struct bench_channel channels[MAX_CHANNELS];
static uint32_t channel_count;
static volatile uint32_t vp_index[MAX_VPS];
static volatile uint32_t vp_received[MAX_VPS]; /* echoes taken by each VP's callbacks */
static volatile uint32_t vps_ready, vps_finished, go, failed;

static uint64_t word(uint64_t trans_id, uint32_t i)
{
    return trans_id * 0x9E3779B97F4A7C15ull + i;
}

static uint64_t trans_id_of(const struct bench_channel *b, uint32_t seq)
{
    return (uint64_t)b->index << 32 | seq;
}

static void fail(const char *what, uint32_t channel, int code)
{
    if (atomic_fetch_add_u32(&failed, 1) == 0)
        printf("bench_vmbus_echo: %s (channel %u, %d)\n", what, channel, code);
}

/* Channel callback (interrupts disabled, on the VP the channel targets). */
static void on_echo(struct vmbus_channel *ch)
{
    struct bench_channel *b = ch->context;
    uint64_t buf[PAYLOAD / 8u];
    for (;;) {
        struct vmbus_packet pkt;
        int r = vmbus_recv(ch, &pkt, buf, sizeof(buf));
        if (r == 0)
            return;
        if (r == VMBUS_EPROTO) {
            b->errors++;
            fail("inbound ring corrupted", b->index, r);
            return;
        }
        uint64_t id = trans_id_of(b, b->received);
        int ok = r == 1 && pkt.type == VM_PKT_DATA_INBAND && pkt.trans_id == id && pkt.len == PAYLOAD;
        for (uint32_t i = 0; ok && i < PAYLOAD / 8u; i++)
            ok = buf[i] == word(id, i);
        if (!ok) {
            b->errors++;
            fail("echo differs (type, trans_id, length or payload)", b->index, r);
        }
        b->received++;
        atomic_fetch_add_u32(&vp_received[b->vp], 1);
    }
}

/* Sends on b while its window and its ring allow; returns how many packets went out. */
static uint32_t send_some(struct bench_channel *b)
{
    uint64_t buf[PAYLOAD / 8u];
    uint32_t n = 0;
    while (b->sent < b->quota && b->sent - b->received < WINDOW) {
        uint64_t id = trans_id_of(b, b->sent);
        for (uint32_t i = 0; i < PAYLOAD / 8u; i++)
            buf[i] = word(id, i);
        int r = vmbus_send(b->ch, VM_PKT_DATA_INBAND, 0, id, buf, PAYLOAD);
        if (r == VMBUS_EAGAIN)
            break;
        if (r) {
            fail("send failed", b->index, r);
            break;
        }
        b->sent++;
        n++;
    }
    return n;
}

struct progress {
    uint32_t vp, seen;
};

static int echo_or_failure(void *p)
{
    struct progress *w = p;
    return vp_received[w->vp] != w->seen || failed;
}

/* Drives the channels of runtime VP `vp` until each has all its echoes (or a failure). */
static void pump(uint32_t vp)
{
    for (;;) {
        uint32_t sent = 0, left = 0;
        struct progress w = {vp, vp_received[vp]};
        for (uint32_t k = vp; k < channel_count; k += hvsim_boot->vcpu_count) {
            sent += send_some(&channels[k]);
            left += channels[k].received < channels[k].quota;
        }
        if (!left || failed)
            return;
        if (!sent && !hv_wait(echo_or_failure, &w, STALL_US)) {
            fail("no echo for STALL_US", vp, 0);
            return;
        }
    }
}

static int all_ready(void *p)
{
    (void)p;
    return vps_ready == hvsim_boot->vcpu_count || failed;
}

static int released(void *p)
{
    (void)p;
    return go || failed;
}

struct others {
    uint32_t want, seen;
};

static uint32_t total_received(void)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < hvsim_boot->vcpu_count && i < MAX_VPS; i++)
        sum += vp_received[i];
    return sum;
}

static int others_done_or_progress(void *p)
{
    struct others *w = p;
    return vps_finished == w->want || failed || total_received() != w->seen;
}

/* VP 0: waits for the other VPs' pumps, as long as echoes keep arriving somewhere. */
static void wait_for_others(uint32_t vcpus)
{
    struct others w = {vcpus - 1u, total_received()};
    while (vps_finished != w.want && !failed) {
        if (!hv_wait(others_done_or_progress, &w, STALL_US))
            fail("other VPs stalled", 0, (int)vps_finished);
        w.seen = total_received();
    }
}

/* VP 0: connect, find and open every test channel, spread over the VPs. */
static int open_channels(uint32_t vcpus)
{
    if (!hv_wait(all_ready, 0, SETUP_WAIT_US) || failed)
        return -1;
    int r = vmbus_connect(0);
    if (!r)
        r = vmbus_request_offers();
    if (r) {
        printf("bench_vmbus_echo: connect / offers failed (%d)\n", r);
        return r;
    }
    struct vmbus_channel *ch;
    for (uint32_t i = 0; (ch = vmbus_channel_at(i)) != 0 && channel_count < MAX_CHANNELS; i++) {
        if (ch->state != VMBUS_CH_OFFERED || !vmbus_guid_equal(&ch->if_type, &test_class))
            continue;
        struct bench_channel *b = &channels[channel_count];
        b->ch = ch;
        b->index = channel_count;
        b->vp = channel_count % vcpus;
        r = vmbus_open(ch, RING_PAGES, vp_index[b->vp], on_echo, b);
        if (r) {
            printf("bench_vmbus_echo: open of relid %u failed (%d)\n", ch->relid, r);
            return r;
        }
        channel_count++;
    }
    if (!channel_count) {
        printf("bench_vmbus_echo: no test channel offered\n");
        return -1;
    }
    for (uint32_t k = 0; k < channel_count; k++)
        channels[k].quota = TOTAL_PACKETS / channel_count + (k < TOTAL_PACKETS % channel_count);
    return 0;
}

static int report(uint32_t vcpus)
{
    uint32_t sent = 0, received = 0, errors = 0, short_channels = 0;
    uint32_t to_host = 0, pending_signals = 0, interrupts = 0, callbacks = 0, out_full = 0;
    for (uint32_t k = 0; k < channel_count; k++) {
        const struct bench_channel *b = &channels[k];
        sent += b->sent;
        received += b->received;
        errors += b->errors;
        short_channels += b->received != b->quota;
        to_host += b->ch->intr_out_empty;
        pending_signals += b->ch->intr_in_full;
        interrupts += b->ch->interrupts;
        callbacks += b->ch->events;
        out_full += b->ch->out_full;
    }
    int ok = !failed && errors == 0 && short_channels == 0 && received == TOTAL_PACKETS;
    printf("bench_vmbus_echo: %s %u channels, %u VPs: %u sent, %u echoed, %u bad; signals to host %u (+%u "
           "pending_send_sz), interrupts %u, callbacks %u, ring full %u\n",
           ok ? "PASS" : "FAIL", channel_count, vcpus, sent, received, errors, to_host, pending_signals, interrupts,
           callbacks, out_full);
    return ok;
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    uint32_t vcpus = bi->vcpu_count;
    if (vcpus > MAX_VPS)
        return 1;
    int r = vmbus_vp_init();
    if (r) {
        fail("SynIC set-up failed on VP", vp, r);
        return 1;
    }
    vp_index[vp] = hv_vp_index();
    atomic_fetch_add_u32(&vps_ready, 1);
    if (vp != 0) {
        hv_kick(0); /* VP 0 may be halted waiting for every VP to be ready */
        if (hv_wait(released, 0, 10u * SETUP_WAIT_US) && !failed)
            pump(vp);
        atomic_fetch_add_u32(&vps_finished, 1);
        hv_kick(0);
        vmbus_ap_idle();
    }

    r = open_channels(vcpus);
    if (r)
        fail("set-up failed", 0, r);
    go = 1;
    for (uint32_t i = 1; i < vcpus; i++)
        hv_kick(i);
    sti(); /* VP 0's own channels take their callbacks from here on */
    if (!r)
        pump(0);
    wait_for_others(vcpus);
    int ok = report(vcpus);
    for (uint32_t k = 0; k < channel_count; k++)
        vmbus_close(channels[k].ch);
    vmbus_unload();
    return ok ? 0 : 1;
}
