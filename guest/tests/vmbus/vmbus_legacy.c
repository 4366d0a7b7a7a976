/* vmbus_legacy.elf - the VMBus versions before 2.4 (PROTOCOL.md §5.2, §5.9) against the hvsim
 * `test` device (models/devices/test).
 *
 * Part 1, VMBus 1.1 (Win7), and part 2, VMBus 0.13 (WS2008), each on a fresh connection:
 *   1. vmbus_connect(VMBUS_VERSION_WIN7 / VMBUS_VERSION_WS2008) negotiates exactly that version;
 *      REQUESTOFFERS offers the test device, which opens on VP 0 with RING_PAGES per direction;
 *   2. SEQ_COUNT in-band packets of 1..6000 bytes, one at a time, and a burst of 12 x 1000 bytes
 *      (vt_echo.h), prepared beforehand so that they are written faster than the host's 5 us
 *      drain delay, that fills the outbound ring (vmbus_send_wait sets pending_send_sz) come back
 *      intact and in order;
 *   3. host->guest: every channel interrupt was found through the shared interrupt page
 *      (page_interrupts == interrupts > 0, callbacks ran) and VP 0's SIEF SINT2 bitmap has no bit
 *      set but bit 0 (below 2.4 the library clears only bit 0, so a stray bit would still show);
 *   4. guest->host: at 0.13 the channel signals connection id 2 and every hypercall signal set
 *      the relid's bit in the page's second half first (sig_page == sig_hypercall, > 0 when the
 *      channel is not monitored); at 1.1 a dedicated-interrupt offer signals its own connection id
 *      without the page (sig_page == 0); monitored channels use the monitor page either way;
 *      every signal the rules asked for went out by exactly one mechanism;
 *   5. the channel closes; at 1.1 UNLOAD is answered, at 0.13 vmbus_unload() refuses at once
 *      (VMBUS_EOPNOTSUPP, well under the 1 s UNLOAD wait: nothing was posted) and the connection
 *      stays up: the channel opens again, echoes, and closes.
 * Prints ok/FAIL lines and exits 0 only if every check passed. Run:
 *   hvsim run --guest vmbus_legacy.elf --vcpus 2 --vmbus-devices test [--monitor-latency 0]
 */
#include "vt_echo.h"

#define RING_PAGES 3u
#define SEQ_COUNT 26u
#define REFUSE_BOUND_US 1000u /* vmbus_unload waits up to 1 s for an answer; a refusal takes none */

/* Bits of VP 0's SIEF SINT2 bitmap other than bit 0. */
static uint32_t stray_sief_bits(void)
{
    volatile uint64_t *flags = hv_sint_event_flags(VMBUS_SINT);
    uint32_t n = 0;
    for (unsigned w = 0; flags && w < HV_EVENT_FLAGS_COUNT / 64u; w++)
        for (uint64_t bits = flags[w] & (w == 0 ? ~1ull : ~0ull); bits; bits &= bits - 1)
            n++;
    return n;
}

static void check_signals(struct vmbus_channel *ch, int ws2008)
{
    if (ws2008)
        CHECK(ch->connection_id == VMBUS_EVENT_CONNECTION_ID && !ch->dedicated_interrupt &&
                  ch->sig_page == ch->sig_hypercall && (ch->monitored || ch->sig_hypercall > 0),
              "guest->host at 0.13: connection id %u, %u SignalEvents each after the page bit (%u)%s",
              ch->connection_id, ch->sig_hypercall, ch->sig_page, ch->monitored ? " (monitored channel)" : "");
    else if (ch->dedicated_interrupt)
        CHECK(ch->connection_id != VMBUS_EVENT_CONNECTION_ID && ch->sig_page == 0 &&
                  (ch->monitored || ch->sig_hypercall > 0),
              "guest->host at 1.1, dedicated interrupt: connection id 0x%x, %u SignalEvents, page untouched (%u)",
              ch->connection_id, ch->sig_hypercall, ch->sig_page);
    else
        CHECK(ch->sig_page == ch->sig_hypercall && (ch->monitored || ch->sig_hypercall > 0),
              "guest->host at 1.1, shared interrupt: connection id 0x%x, %u SignalEvents each after the page bit (%u)",
              ch->connection_id, ch->sig_hypercall, ch->sig_page);
    if (ch->monitored)
        CHECK(ch->sig_monitor > 0, "monitored channel (monitor id %u): %u signals by monitor bit", ch->monitor_id,
              ch->sig_monitor);
    CHECK(ch->sig_monitor + ch->sig_hypercall == ch->intr_out_empty + ch->intr_in_full,
          "signals by mechanism: %u by monitor bit, %u by hypercall (rules asked for %u)", ch->sig_monitor,
          ch->sig_hypercall, ch->intr_out_empty + ch->intr_in_full);
}

static void check_unload_refused(struct vmbus_channel *ch)
{
    uint64_t t0 = hv_time_ref_count();
    int r = vmbus_unload();
    uint64_t us = (hv_time_ref_count() - t0) / 10u;
    CHECK(r == VMBUS_EOPNOTSUPP && us < REFUSE_BOUND_US && vmbus_version() == VMBUS_VERSION_WS2008,
          "UNLOAD refused at 0.13 without waiting for an answer (%d after %lu us), still connected", r, us);
    r = vmbus_open(ch, RING_PAGES, hv_vp_index(), vt_echo_rx, 0);
    uint32_t bad = r == 0 ? vt_echo_one_by_one(ch, 5) : 5;
    int rc = r == 0 ? vmbus_close(ch) : r;
    CHECK(r == 0 && bad == 0 && rc == 0, "the connection still works: reopened (%d), 5 echoes (%u bad), closed (%d)",
          r, bad, rc);
}

/* One part: connect at `version`, echo, check both signalling directions, close, unload. */
static void run_part(uint32_t version)
{
    int ws2008 = version == VMBUS_VERSION_WS2008;
    printf("# part %s: VMBus %u.%u\n", ws2008 ? "2" : "1", version >> 16, version & 0xFFFF);
    struct vmbus_channel *ch = vt_connect(version);
    uint32_t v = vmbus_version();
    if (!CHECK(v == version, "negotiated version %u.%u", v >> 16, v & 0xFFFF) || !ch)
        return;
    int r = vmbus_open(ch, RING_PAGES, vt_vp_index[0], vt_echo_rx, 0);
    if (!CHECK(r == 0, "test channel (relid %u) opened on VP 0 (%d)", ch->relid, r))
        return;
    sti();
    uint32_t bad = vt_echo_one_by_one(ch, SEQ_COUNT);
    CHECK(bad == 0, "%u packets of 1..6000 bytes echoed one at a time (%u bad)", SEQ_COUNT, bad);
    int ok = vt_echo_burst(ch);
    CHECK(ok && ch->out_full > 0, "burst of %u x %u bytes echoed in order, outbound ring full %u times",
          VT_ECHO_BURST_COUNT, VT_ECHO_BURST_SIZE, ch->out_full);
    CHECK(vt_echo_rx_errors == 0 && !ch->broken, "no receive errors (%u), channel healthy", vt_echo_rx_errors);
    CHECK(ch->interrupts > 0 && ch->page_interrupts == ch->interrupts && ch->events > 0,
          "host->guest: %u channel interrupts, %u found through the interrupt page, %u callbacks", ch->interrupts,
          ch->page_interrupts, ch->events);
    uint32_t stray = stray_sief_bits();
    CHECK(stray == 0, "SIEF SINT2 of VP 0: no bit but bit 0 set (%u others)", stray);
    check_signals(ch, ws2008);
    r = vmbus_close(ch);
    CHECK(r == 0, "test channel closed, ring GPADL torn down (%d)", r);
    if (ws2008) {
        check_unload_refused(ch);
        return;
    }
    r = vmbus_unload();
    CHECK(r == 0 && vmbus_version() == 0, "UNLOAD answered at 1.1 (%d)", r);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (!vt_init("vmbus_legacy", vp))
        return vt_finish();
    run_part(VMBUS_VERSION_WIN7);
    if (vmbus_version() == 0) /* part 1 ended with UNLOAD: connect afresh */
        run_part(VMBUS_VERSION_WS2008);
    else
        CHECK(0, "part 2 not run: the 1.1 connection is still up");
    return vt_finish();
}
