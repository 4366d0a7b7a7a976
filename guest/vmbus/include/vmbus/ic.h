/* vmbus/ic.h - integration-component (util) drivers: heartbeat, shutdown, timesync, kvp (PROTOCOL.md §7).
 *
 * Every util packet is an in-band packet holding the 28-byte IC header and a body. The shared
 * code (ic.c) receives into the service's buffer (a larger packet is dropped by vmbus_recv),
 * validates the header against the packet length, answers NEGOTIATE itself (highest
 * framework of {3.0, 1.0} and the highest message version the service supports, both taken from
 * the host's lists; counts 0 + E_FAIL when nothing matches), hands other messages of the
 * service's type to the service, and replies in place: same buffer and length, icflags
 * TRANSACTION|RESPONSE, same trans_id, in-band, no completion requested. A message of another
 * type is answered with E_FAIL.
 * Util channels use Linux's ring size: 1 header + 3 data pages per direction, interrupts on the
 * VP that connected.
 */
#ifndef VMBUS_IC_H
#define VMBUS_IC_H

#include <stdint.h>
#include "vmbus/vmbus.h"

#define IC_RING_PAGES 4u
#define IC_BUF_SIZE 4096u /* receive buffer of heartbeat, shutdown, timesync */
/* Where those buffers live: .data, not .bss (start.S clears .bss a byte per emulated instruction,
 * so 12 KiB more there would delay every VMBus guest's boot; see src/offers.c). */
#define IC_BUF_SECTION __attribute__((section(".data")))

/* §7.2 */
#define ICMSGTYPE_NEGOTIATE 0u
#define ICMSGTYPE_HEARTBEAT 1u
#define ICMSGTYPE_KVPEXCHANGE 2u
#define ICMSGTYPE_SHUTDOWN 3u
#define ICMSGTYPE_TIMESYNC 4u
#define ICMSGHDRFLAG_TRANSACTION 1u
#define ICMSGHDRFLAG_REQUEST 2u
#define ICMSGHDRFLAG_RESPONSE 4u
#define IC_S_OK 0u
#define IC_E_FAIL 0x80004005u
#define IC_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))

#pragma pack(push, 1)
struct ic_header {
    uint32_t pipe_flags;
    uint32_t pipe_msgsize;
    uint16_t fw_major, fw_minor;
    uint16_t icmsgtype;
    uint16_t msg_major, msg_minor;
    uint16_t icmsgsize;
    uint32_t status;
    uint8_t ictransaction_id;
    uint8_t icflags;
    uint16_t reserved;
};
#pragma pack(pop)
_Static_assert(sizeof(struct ic_header) == 28, "IC headers are 28 bytes (§7.2)");

struct ic_service {
    const char *name;
    uint16_t msgtype;
    const uint32_t *msg_versions; /* IC_VERSION values the driver supports, highest first */
    uint32_t msg_version_count;
    /* Handles one message of msgtype (len >= 28); edits the body in place; returns the status. */
    uint32_t (*handle)(struct ic_service *s, uint8_t *msg, uint32_t len);
    void (*after_reply)(struct ic_service *s); /* optional: runs after the reply was queued */
    /* state */
    uint32_t fw_version, msg_version; /* negotiated, 0 = not yet */
    volatile uint32_t messages;       /* service messages answered */
    volatile uint32_t errors;
    uint8_t *buf;      /* receive buffer, replies are built in place: set before ic_open */
    uint32_t buf_size;
};

int ic_open(struct vmbus_channel *ch, struct ic_service *s);
void ic_close(struct vmbus_channel *ch);

/* ---- the drivers and what they observed ---- */
extern struct vmbus_driver heartbeat_driver, shutdown_driver, timesync_driver, kvp_driver;
extern struct ic_service heartbeat_service, shutdown_service, timesync_service, kvp_service;
extern volatile uint64_t heartbeat_last_seq;
struct timesync_state {
    volatile uint32_t syncs, samples;
    volatile int64_t wall_offset; /* unix time (100 ns) = TIME_REF_COUNT + wall_offset, once syncs + samples > 0 */
};
extern struct timesync_state timesync_state;
/* Set (after the reply was queued) when the host asked for shutdown or restart. */
extern volatile uint32_t ic_shutdown_requested;

/* "YYYY-MM-DDThh:mm:ss.fffffffZ" for a unix time in 100 ns units (buf >= 29 bytes). */
void ic_format_time(int64_t unix_100ns, char *buf);

#endif
