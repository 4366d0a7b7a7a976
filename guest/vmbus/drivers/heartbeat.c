/* heartbeat.c - the heartbeat IC driver (PROTOCOL.md §7.3, §7.4): message versions 3.0 and 1.0;
 * each request's seq_num (u64 at offset 28) is incremented by one in the reply. */
#include "hvsim/string.h"
#include "vmbus/ic.h"

#define HEARTBEAT_SEQ 28u

volatile uint64_t heartbeat_last_seq;

static uint32_t handle(struct ic_service *s, uint8_t *msg, uint32_t len)
{
    (void)s;
    uint64_t seq;
    if (len < HEARTBEAT_SEQ + sizeof(seq))
        return IC_E_FAIL;
    memcpy(&seq, msg + HEARTBEAT_SEQ, sizeof(seq));
    seq += 1;
    memcpy(msg + HEARTBEAT_SEQ, &seq, sizeof(seq));
    heartbeat_last_seq = seq;
    return IC_S_OK;
}

static const uint32_t versions[] = {IC_VERSION(3, 0), IC_VERSION(1, 0)};

static uint8_t buf[IC_BUF_SIZE] IC_BUF_SECTION;

struct ic_service heartbeat_service = {
    .name = "heartbeat",
    .msgtype = ICMSGTYPE_HEARTBEAT,
    .msg_versions = versions,
    .msg_version_count = 2,
    .handle = handle,
    .buf = buf,
    .buf_size = sizeof(buf),
};

static int probe(struct vmbus_channel *ch)
{
    return ic_open(ch, &heartbeat_service);
}

struct vmbus_driver heartbeat_driver = {
    .name = "heartbeat",
    .class_id = VMBUS_GUID(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d),
    .probe = probe,
    .remove = ic_close,
};
