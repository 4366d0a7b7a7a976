/* shutdown.c - the shutdown IC driver (PROTOCOL.md §7.3, §7.4): message versions 3.2, 3.1, 3.0,
 * 1.0. Shutdown (flags 0) and restart (flags 2), forced or not (b0), are accepted with S_OK and,
 * once the reply is queued, ic_shutdown_requested is set; hibernate (4) or anything else is
 * refused with E_FAIL. */
#include "hvsim/console.h"
#include "hvsim/string.h"
#include "vmbus/ic.h"

#define SHUTDOWN_REASON 28u
#define SHUTDOWN_FLAGS 36u
#define FLAG_FORCE 0x1u
#define FLAG_RESTART 0x2u

volatile uint32_t ic_shutdown_requested;

static uint32_t handle(struct ic_service *s, uint8_t *msg, uint32_t len)
{
    (void)s;
    uint32_t reason, flags;
    if (len < SHUTDOWN_FLAGS + sizeof(flags))
        return IC_E_FAIL;
    memcpy(&reason, msg + SHUTDOWN_REASON, sizeof(reason));
    memcpy(&flags, msg + SHUTDOWN_FLAGS, sizeof(flags));
    uint32_t kind = flags & ~FLAG_FORCE;
    printf("shutdown: host requests %s (flags 0x%x, reason 0x%x)\n",
           kind == 0 ? "shutdown" : kind == FLAG_RESTART ? "restart" : "an unsupported action", flags, reason);
    return kind == 0 || kind == FLAG_RESTART ? IC_S_OK : IC_E_FAIL;
}

static void after_reply(struct ic_service *s)
{
    (void)s;
    ic_shutdown_requested = 1;
}

static const uint32_t versions[] = {IC_VERSION(3, 2), IC_VERSION(3, 1), IC_VERSION(3, 0), IC_VERSION(1, 0)};

static uint8_t buf[IC_BUF_SIZE] IC_BUF_SECTION;

struct ic_service shutdown_service = {
    .name = "shutdown",
    .msgtype = ICMSGTYPE_SHUTDOWN,
    .msg_versions = versions,
    .msg_version_count = 4,
    .handle = handle,
    .buf = buf,
    .buf_size = sizeof(buf),
    .after_reply = after_reply,
};

static int probe(struct vmbus_channel *ch)
{
    return ic_open(ch, &shutdown_service);
}

struct vmbus_driver shutdown_driver = {
    .name = "shutdown",
    .class_id = VMBUS_GUID(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb),
    .probe = probe,
    .remove = ic_close,
};
