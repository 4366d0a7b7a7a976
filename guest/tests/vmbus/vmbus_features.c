/* vmbus_features.elf - the VMBus 6.0 ("Copper") features (PROTOCOL.md §5.2, §5.4, §5.5) against
 * the hvsim `test` device on a host that offers 6.0 (--host ws2025), with 2 VPs.
 *
 *   1. the guest asks for 0x1 | 0x2 | 0x4 | 0x8 | 0x80000000: the host negotiates 6.0 and grants
 *      exactly guest_specified_signal_parameters | channel_interrupt_redirection | modify_connection
 *      (0x7; unknown and unsupported bits dropped);
 *   2. the test channel opens with guest-specified signal parameters (OpenChannel2: connection id
 *      GUEST_CONN_ID, event flag GUEST_FLAG) on VP 1; SEQ_COUNT packets of 1..6000 bytes one at a
 *      time (the first half in low-latency mode, so HvCallSignalEvent on GUEST_CONN_ID carries every
 *      guest->host signal) and a ring-filling burst come back intact and in order; host->guest
 *      interrupts came only through SIEF bit GUEST_FLAG (the channel's interrupts > 0, no SIEF bit
 *      held by no channel was seen, every callback ran on VP 1);
 *   3. closed and reopened normally (no parameters, OpenChannel2 with the offer's defaults): the
 *      channel's event flag is its relid again, echoes work and interrupts come through the relid's
 *      bit; then with the redirect-interrupt flag alone (no effect on a root host): echoes work;
 *   4. opens with connection id 4 and with event flag 2048 are refused by the host (VMBUS_EHOST,
 *      OPENCHANNEL_RESULT status != 0) and leave the channel usable: a normal open echoes;
 *   5. MODIFY_CONNECTION: while a monitored channel is open it fails (2); with the channel closed two
 *      fresh pages are accepted (0) and a monitored channel then signals through the new
 *      child->parent page (echoes work, by monitor bit); one zero GPA fails (2); both zero drop the
 *      pages (0) and a monitored channel then signals by hypercall (echoes work);
 *   6. UNLOAD, then a connection that asks for no features: 6.0 with vmbus_features() == 0,
 *      guest-specified parameters and MODIFY_CONNECTION are refused by the library
 *      (VMBUS_EOPNOTSUPP), a plain open echoes through the relid's bit.
 * Prints ok/FAIL lines and exits 0 only if every check passed. Run:
 *   hvsim run --guest vmbus_features.elf --vcpus 2 --vmbus-devices test --host ws2025
 */
#include "vt_echo.h"

#define RING_PAGES 3u
#define SEQ_COUNT 36u
#define SHORT_COUNT 6u
#define GUEST_CONN_ID 0x5000u
#define GUEST_FLAG 1000u
/* hvsim's ws2025 host grants 0x1 | 0x2 | 0x4 of the flags asked for (unknown bit 31 included) */
#define COPPER_SET                                                                                   \
    (VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMS | VMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION | \
     VMBUS_FEATURE_MODIFY_CONNECTION)
#define ASKED (COPPER_SET | VMBUS_FEATURE_CLIENT_ID | 0x80000000u)

/* Opens (params 0: plain), echoes `count` packets, closes; 1 if all of it worked. */
static int open_echo_close(struct vmbus_channel *ch, const struct vmbus_open_params *params, uint32_t count,
                           const char *what)
{
    int r = vmbus_open_with(ch, RING_PAGES, vt_vp_index[0], params, vt_echo_rx, 0);
    uint32_t bad = r == 0 ? vt_echo_one_by_one(ch, count) : count;
    int rc = r == 0 ? vmbus_close(ch) : r;
    return CHECK(r == 0 && bad == 0 && rc == 0, "%s: opened (%d), %u echoes (%u bad), closed (%d)", what, r, count,
                 bad, rc);
}

/* Step 2: guest-specified connection id and event flag, interrupts on VP 1. */
static void guest_specified_open(struct vmbus_channel *ch)
{
    struct vmbus_open_params params = {GUEST_CONN_ID, GUEST_FLAG, 0};
    int r = vmbus_open_with(ch, RING_PAGES, vt_vp_index[1], &params, vt_echo_rx, 0);
    if (!CHECK(r == 0 && ch->event_flag == GUEST_FLAG && ch->signal_connection_id == GUEST_CONN_ID,
               "OpenChannel2 with connection id 0x%x, event flag %u on VP 1 accepted (%d; flag %u, id 0x%x)",
               GUEST_CONN_ID, GUEST_FLAG, r, ch->event_flag, ch->signal_connection_id))
        return;
    uint32_t unclaimed = vmbus_unclaimed_interrupts(), interrupts = ch->interrupts;
    uint32_t on_vp0 = vt_echo_callbacks[0], on_vp1 = vt_echo_callbacks[1]; /* by runtime VP number */
    uint32_t hypercalls = ch->sig_hypercall;
    vmbus_set_channel_low_latency(ch, 1);
    uint32_t bad = vt_echo_one_by_one(ch, SEQ_COUNT / 2);
    vmbus_set_channel_low_latency(ch, 0);
    hypercalls = ch->sig_hypercall - hypercalls;
    bad += vt_echo_one_by_one(ch, SEQ_COUNT - SEQ_COUNT / 2);
    CHECK(bad == 0, "%u packets of 1..6000 bytes echoed one at a time (%u bad)", SEQ_COUNT, bad);
    CHECK(hypercalls > 0, "low-latency half: %u HvCallSignalEvents on connection id 0x%x reached the host", hypercalls,
          GUEST_CONN_ID);
    int ok = vt_echo_burst(ch);
    CHECK(ok && ch->out_full > 0, "burst of %u x %u bytes echoed in order, outbound ring full %u times",
          VT_ECHO_BURST_COUNT, VT_ECHO_BURST_SIZE, ch->out_full);
    CHECK(vt_echo_rx_errors == 0 && !ch->broken, "no receive errors (%u), channel healthy", vt_echo_rx_errors);
    interrupts = ch->interrupts - interrupts;
    unclaimed = vmbus_unclaimed_interrupts() - unclaimed;
    CHECK(interrupts > 0 && unclaimed == 0,
          "host->guest: %u interrupts through event flag %u, %u through bits no channel holds (relid %u's among them)",
          interrupts, GUEST_FLAG, unclaimed, ch->relid);
    on_vp0 = vt_echo_callbacks[0] - on_vp0;
    on_vp1 = vt_echo_callbacks[1] - on_vp1;
    CHECK(on_vp1 > 0 && on_vp0 == 0, "callbacks ran on VP 1 (%u) and not on VP 0 (%u)", on_vp1, on_vp0);
    r = vmbus_close(ch);
    CHECK(r == 0 && ch->event_flag == GUEST_FLAG && ch->signal_connection_id == ch->connection_id,
          "closed (%d); the channel signals its offer's connection id 0x%x again", r, ch->connection_id);
}

/* Step 3: a plain reopen goes back to the relid's bit and the offer's connection id. */
static void plain_reopen(struct vmbus_channel *ch)
{
    int r = vmbus_open(ch, RING_PAGES, vt_vp_index[0], vt_echo_rx, 0);
    if (!CHECK(r == 0 && ch->event_flag == ch->relid && ch->signal_connection_id == ch->connection_id,
               "reopened without parameters (%d): event flag %u = relid, connection id 0x%x", r, ch->event_flag,
               ch->signal_connection_id))
        return;
    uint32_t unclaimed = vmbus_unclaimed_interrupts(), interrupts = ch->interrupts;
    uint32_t bad = vt_echo_one_by_one(ch, SEQ_COUNT / 3);
    interrupts = ch->interrupts - interrupts;
    unclaimed = vmbus_unclaimed_interrupts() - unclaimed;
    CHECK(bad == 0 && interrupts > 0 && unclaimed == 0,
          "%u echoes (%u bad), %u interrupts through the relid's bit %u, %u through others", SEQ_COUNT / 3, bad,
          interrupts, ch->relid, unclaimed);
    r = vmbus_close(ch);
    CHECK(r == 0, "closed (%d)", r);
    struct vmbus_open_params redirect = {0, 0, VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT};
    open_echo_close(ch, &redirect, SHORT_COUNT, "redirect-interrupt flag alone");
}

/* Step 4: what the host refuses. */
static void refused_opens(struct vmbus_channel *ch)
{
    static const struct {
        struct vmbus_open_params params;
        const char *what;
    } bad[] = {
        {{VMBUS_MESSAGE_CONNECTION_ID_V5, GUEST_FLAG, 0}, "connection id 4 (the message port)"},
        {{GUEST_CONN_ID, HV_EVENT_FLAGS_COUNT, 0}, "event flag 2048"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = vmbus_open_with(ch, RING_PAGES, vt_vp_index[0], &bad[i].params, vt_echo_rx, 0);
        CHECK(r == VMBUS_EHOST && ch->open_status != 0 && ch->state == VMBUS_CH_OFFERED,
              "OpenChannel2 with %s refused by the host (%d, status 0x%x)", bad[i].what, r, ch->open_status);
    }
    open_echo_close(ch, 0, SHORT_COUNT, "after the refusals a plain open still works");
}

/* Step 5: MODIFY_CONNECTION. */
static void modify_connection(struct vmbus_channel *ch)
{
    uint8_t *pages = hv_alloc_pages(2);
    if (!CHECK(pages != 0, "two fresh monitor pages allocated"))
        return;
    uint64_t p2c = hv_gpa(pages), c2p = hv_gpa(pages + VMBUS_PAGE_SIZE);
    if (ch->monitored) {
        int r = vmbus_open(ch, RING_PAGES, vt_vp_index[0], vt_echo_rx, 0);
        int state = r == 0 ? vmbus_modify_connection(p2c, c2p) : r;
        int rc = r == 0 ? vmbus_close(ch) : r;
        CHECK(state == VMBUS_CONNECTION_STATE_FAILED_UNKNOWN && rc == 0,
              "MODIFY_CONNECTION while monitored channel (monitor id %u) is open: state %d", ch->monitor_id, state);
    } else {
        printf("# the test channel is not monitored (--monitor-latency 0): monitor checks skipped\n");
    }
    int state = vmbus_modify_connection(p2c, c2p);
    CHECK(state == VMBUS_CONNECTION_STATE_SUCCESSFUL, "MODIFY_CONNECTION to pages 0x%lx, 0x%lx: state %d", p2c, c2p,
          state);
    uint32_t monitor = ch->sig_monitor, hypercalls = ch->sig_hypercall;
    open_echo_close(ch, 0, SHORT_COUNT, "with the new monitor pages");
    if (ch->monitored)
        CHECK(ch->sig_monitor > monitor && ch->sig_hypercall == hypercalls,
              "signals by the new child->parent page's monitor bit (%u), none by hypercall (%u)",
              ch->sig_monitor - monitor, ch->sig_hypercall - hypercalls);
    state = vmbus_modify_connection(p2c, 0);
    CHECK(state == VMBUS_CONNECTION_STATE_FAILED_UNKNOWN, "MODIFY_CONNECTION with one zero GPA: state %d", state);
    state = vmbus_modify_connection(0, 0);
    CHECK(state == VMBUS_CONNECTION_STATE_SUCCESSFUL, "MODIFY_CONNECTION dropping the monitor pages: state %d", state);
    monitor = ch->sig_monitor;
    hypercalls = ch->sig_hypercall;
    open_echo_close(ch, 0, SHORT_COUNT, "without monitor pages");
    CHECK(ch->sig_monitor == monitor && ch->sig_hypercall > hypercalls,
          "signals by hypercall (%u), none by monitor bit (%u)", ch->sig_hypercall - hypercalls,
          ch->sig_monitor - monitor);
}

/* Step 6: a connection without features takes the plain paths. */
static void no_features(void)
{
    int r = vmbus_unload();
    if (!CHECK(r == 0 && vmbus_features() == 0, "UNLOAD answered (%d), no features left (0x%x)", r, vmbus_features()))
        return;
    vmbus_request_features(0);
    struct vmbus_channel *ch = vt_connect(0);
    uint32_t v = vmbus_version();
    if (!CHECK(v == VMBUS_VERSION_WIN10_V6_0 && vmbus_features() == 0 && ch,
               "reconnected at %u.%u asking for nothing: features 0x%x", v >> 16, v & 0xFFFF, vmbus_features()))
        return;
    struct vmbus_open_params params = {GUEST_CONN_ID, GUEST_FLAG, 0};
    r = vmbus_open_with(ch, RING_PAGES, vt_vp_index[0], &params, vt_echo_rx, 0);
    int m = vmbus_modify_connection(0, 0);
    CHECK(r == VMBUS_EOPNOTSUPP && m == VMBUS_EOPNOTSUPP && ch->state == VMBUS_CH_OFFERED,
          "without features: guest-specified parameters (%d) and MODIFY_CONNECTION (%d) refused by the library", r, m);
    uint32_t unclaimed = vmbus_unclaimed_interrupts(), interrupts = ch->interrupts;
    open_echo_close(ch, 0, SEQ_COUNT / 3, "plain open");
    CHECK(ch->interrupts > interrupts && vmbus_unclaimed_interrupts() == unclaimed,
          "interrupts through the relid's bit (%u), none through others", ch->interrupts - interrupts);
    r = vmbus_unload();
    CHECK(r == 0, "UNLOAD answered (%d)", r);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    if (!vt_init("vmbus_features", vp))
        return vt_finish();
    if (!CHECK(bi->vcpu_count >= 2, "%u VPs (2 needed)", bi->vcpu_count))
        return vt_finish();
    vmbus_request_features(ASKED);
    struct vmbus_channel *ch = vt_connect(0);
    uint32_t v = vmbus_version();
    if (!CHECK(v == VMBUS_VERSION_WIN10_V6_0 && vmbus_features() == COPPER_SET,
               "asked for features 0x%x at %u.%u: granted 0x%x", ASKED, v >> 16, v & 0xFFFF, vmbus_features()) ||
        !ch)
        return vt_finish();
    sti(); /* from here on callbacks also run between the test's own steps */
    guest_specified_open(ch);
    plain_reopen(ch);
    refused_opens(ch);
    modify_connection(ch);
    no_features();
    return vt_finish();
}
