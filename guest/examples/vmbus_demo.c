/* vmbus_demo.elf - a VMBus guest with the util drivers, end to end.
 *
 * Every VP enables its SynIC; VP 0 connects (newest version the host accepts), prints the
 * version, requests offers and prints each one (relid, class name if known, instance GUID,
 * sub-channel index if any, monitor id if the host allocated one), and the heartbeat, shutdown,
 * timesync and (if offered) kvp drivers open their channels. Then it serves the host:
 * heartbeats are answered, time samples applied (the derived wall clock is printed), KVP requests
 * answered from the driver's in-memory pools (drivers/kvp.c). When the
 * host asks for shutdown the driver replies, and the demo closes every open channel (CLOSECHANNEL
 * + ring GPADL teardown; the host reads what was written before, e.g. a reply announced only by
 * monitor bit), sends UNLOAD, waits for UNLOAD_RESPONSE, prints a summary and returns 0.
 * Any failed step prints "vmbus_demo: FAIL ..." and returns 1. Run:
 *   hvsim run --guest vmbus_demo.elf --vcpus 2 --vmbus-devices heartbeat,shutdown,timesync --shutdown-at 3s
 */
#include "hvsim_guest.h"
#include "hvsim/hyperv.h"
#include "vmbus/ic.h"
#include "vmbus/vmbus.h"

#define SERVE_LIMIT_100NS (60ull * 10000000ull) /* give up waiting for shutdown after 60 s */
#define WAIT_SLICE_US 1000000u

static const struct {
    const char *guid;
    const char *name;
} classes[] = {
    {"0e0b6031-5213-4934-818b-38d90ced39db", "shutdown"},
    {"9527e630-d0ae-497b-adce-e80ab0175caf", "timesync"},
    {"57164f39-9115-4e78-ab55-382f3bd5422d", "heartbeat"},
    {"a9a0f4e7-5a45-4d96-b827-8a841e8c03e6", "kvp"},
    {"35fa2e29-ea23-4236-96ae-3a6ebacba440", "vss"},
    {"34d14be3-dee4-41c8-9ae7-6b174977c192", "fcopy"},
    {"f8615163-df3e-46c5-913f-f2d2f965ed0e", "netvsc"},
    {"ba6163d9-04a1-4d29-b605-72e2ffb1dc7f", "storvsc (SCSI)"},
    {"32412632-86cb-44a2-9b5c-50d1417354f5", "storvsc (IDE)"},
    {"f912ad6d-2b17-48ea-bd65-f927a61c7684", "keyboard"},
    {"cfa8b69e-5b4a-4cc0-b98b-8ba1a1f3f95a", "mouse"},
    {"da0a7802-e377-4aac-8e77-0558eb1073f8", "video"},
    {"525074dc-8985-46e2-8057-a307dc18a502", "dynamic memory"},
    {"44c4f61d-4444-4400-9d52-802e27ede19f", "vPCI"},
    {"b7a3a6ad-5f26-4e8b-9b1d-6876736d0001", "hvsim test"},
};

static uint32_t offers_seen;

static void print_offer(struct vmbus_channel *ch)
{
    char type[40], instance[40];
    vmbus_guid_format(&ch->if_type, type);
    vmbus_guid_format(&ch->if_instance, instance);
    const char *name = "unknown";
    for (unsigned i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (!memcmp(type, classes[i].guid, 36))
            name = classes[i].name;
    offers_seen++;
    printf("vmbus_demo: offer relid %u class %s (%s) instance %s", ch->relid, name, type, instance);
    if (ch->sub_channel_index)
        printf(" sub-channel %u", ch->sub_channel_index);
    if (ch->monitored)
        printf(" monitor id %u\n", ch->monitor_id);
    else
        printf(" unmonitored\n");
}

static int fail(const char *what, int r)
{
    printf("vmbus_demo: FAIL %s (%d)\n", what, r);
    return 1;
}

/* Closes every open channel through its driver; returns how many were closed. */
static uint32_t close_all(void)
{
    uint32_t closed = 0;
    struct vmbus_channel *ch;
    for (uint32_t i = 0; (ch = vmbus_channel_at(i)) != 0; i++) {
        if (ch->state != VMBUS_CH_OPEN)
            continue;
        if (ch->driver && ch->driver->remove)
            ch->driver->remove(ch);
        else
            vmbus_close(ch);
        closed += ch->state != VMBUS_CH_OPEN;
    }
    return closed;
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    int r = vmbus_vp_init();
    if (vp != 0) {
        if (r)
            printf("vmbus_demo: vp %u: SynIC setup failed (%d)\n", vp, r);
        vmbus_ap_idle();
    }
    if (r)
        return fail("Hyper-V / SynIC setup", r);

    vmbus_register_driver(&heartbeat_driver);
    vmbus_register_driver(&shutdown_driver);
    vmbus_register_driver(&timesync_driver);
    vmbus_register_driver(&kvp_driver);
    vmbus_set_offer_hook(print_offer);

    r = vmbus_connect(0);
    if (r)
        return fail("connect", r);
    uint32_t v = vmbus_version();
    printf("vmbus_demo: connected, VMBus version %u.%u\n", v >> 16, v & 0xFFFF);
    r = vmbus_request_offers();
    if (r)
        return fail("request offers", r);
    printf("vmbus_demo: all offers delivered (%u)\n", offers_seen);

    uint64_t give_up = hv_time_ref_count() + SERVE_LIMIT_100NS;
    while (!ic_shutdown_requested && hv_time_ref_count() < give_up)
        vmbus_wait_event(&ic_shutdown_requested, WAIT_SLICE_US);
    if (!ic_shutdown_requested)
        return fail("no shutdown request from the host", 0);

    uint32_t closed = close_all();
    printf("vmbus_demo: closed %u channels\n", closed);
    r = vmbus_unload();
    if (r)
        return fail("unload", r);
    printf("vmbus_demo: unloaded\n");

    char clock[32] = "(never set)";
    if (timesync_state.syncs + timesync_state.samples)
        ic_format_time((int64_t)hv_time_ref_count() + timesync_state.wall_offset, clock);
    printf("vmbus_demo: summary: version %u.%u, %u offers, %u heartbeats answered (last seq %lu), "
           "%u time syncs, %u time samples, wall clock %s, %u channels closed\n",
           v >> 16, v & 0xFFFF, offers_seen, heartbeat_service.messages, heartbeat_last_seq, timesync_state.syncs,
           timesync_state.samples, clock, closed);
    return 0;
}
