/* timesync.c - the time-synchronization IC driver (PROTOCOL.md §7.3, §7.4): message versions
 * 4.0, 3.0, 1.0. SYNC (1) and SAMPLE (2) are applied, PROBE (0) only answered. Message version
 * 4.0 layout: parenttime @28, vmreferencetime @36, flags @44, and the host time is carried forward
 * by (TIME_REF_COUNT now - vmreferencetime); older layout: parenttime @28, flags @52.
 * "Applied" = wall_offset such that unix time (100 ns) = TIME_REF_COUNT + wall_offset; the derived
 * wall clock is printed. parenttime is 100 ns since 1601-01-01; before 1970 it is refused. */
#include "hvsim/console.h"
#include "hvsim/hyperv.h"
#include "hvsim/string.h"
#include "vmbus/ic.h"

#define TS_PARENTTIME 28u
#define TS_V4_REFTIME 36u
#define TS_V4_FLAGS 44u
#define TS_FLAGS 52u
#define TS_PROBE 0u
#define TS_SYNC 1u
#define TS_SAMPLE 2u
#define EPOCH_1601_TO_1970 116444736000000000ull /* 100 ns units */

struct timesync_state timesync_state;

static uint32_t handle(struct ic_service *s, uint8_t *msg, uint32_t len)
{
    int v4 = s->msg_version >= IC_VERSION(4, 0);
    uint32_t flags_at = v4 ? TS_V4_FLAGS : TS_FLAGS;
    uint64_t parent, vmref = 0;
    if (len <= flags_at)
        return IC_E_FAIL;
    uint8_t flags = msg[flags_at];
    if (flags != TS_SYNC && flags != TS_SAMPLE)
        return IC_S_OK;
    memcpy(&parent, msg + TS_PARENTTIME, sizeof(parent));
    if (v4)
        memcpy(&vmref, msg + TS_V4_REFTIME, sizeof(vmref));
    if (parent < EPOCH_1601_TO_1970) {
        printf("timesync: host time 0x%lx is before 1970, ignored\n", parent);
        return IC_S_OK;
    }
    uint64_t now = hv_time_ref_count();
    int64_t unix_time = (int64_t)(parent - EPOCH_1601_TO_1970);
    if (v4)
        unix_time += (int64_t)(now - vmref); /* host time carried forward to now */
    timesync_state.wall_offset = unix_time - (int64_t)now;
    if (flags == TS_SYNC)
        timesync_state.syncs++;
    else
        timesync_state.samples++;
    char text[32];
    ic_format_time(unix_time, text);
    printf("timesync: %s: guest wall clock %s\n", flags == TS_SYNC ? "SYNC" : "SAMPLE", text);
    return IC_S_OK;
}

static const uint32_t versions[] = {IC_VERSION(4, 0), IC_VERSION(3, 0), IC_VERSION(1, 0)};

static uint8_t buf[IC_BUF_SIZE] IC_BUF_SECTION;

struct ic_service timesync_service = {
    .name = "timesync",
    .msgtype = ICMSGTYPE_TIMESYNC,
    .msg_versions = versions,
    .msg_version_count = 3,
    .handle = handle,
    .buf = buf,
    .buf_size = sizeof(buf),
};

static int probe(struct vmbus_channel *ch)
{
    return ic_open(ch, &timesync_service);
}

struct vmbus_driver timesync_driver = {
    .name = "timesync",
    .class_id = VMBUS_GUID(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf),
    .probe = probe,
    .remove = ic_close,
};
