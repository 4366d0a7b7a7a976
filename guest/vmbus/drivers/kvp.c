/* kvp.c - the KVP (data exchange) IC driver: message versions 4.0, 3.0, 1.0 (PROTOCOL.md §7;
 * layouts from Linux include/uapi/linux/hyperv.h, behaviour after Linux hv_kvp.c and its
 * hv_kvp_daemon). It is the kernel driver and the daemon in one: the pools live in memory.
 *
 * Pools: 5 (external, guest, auto, auto_external, auto_internal), KVP_POOL_ENTRIES entries each,
 * keys and values kept as the UTF-16LE bytes the host sent (keys compared exactly). The auto pool
 * starts with FullyQualifiedDomainName, IntegrationServicesVersion, OSName and
 * ProcessorArchitecture. Every pool can be written. An entry's index is its position: a delete
 * moves the later entries down, as the daemon's pool files do.
 *
 * Answers (in place, same length; the status in the IC header):
 *   GET        found: S_OK, value_type REG_SZ, value_size, value; missing: E_FAIL
 *   SET        S_OK (REG_U32 / REG_U64 values are stored as their unsigned decimal text, as the
 *              daemon stores every value as a string); pool full or bad value: E_FAIL
 *   DELETE     S_OK, or E_FAIL if the key is missing
 *   ENUMERATE  an index below the pool's count: S_OK with key and value (REG_SZ); past the end:
 *              HV_S_CONT, which ends the host's walk
 *   GET_IP_INFO (message version 4.0 only) for adapter "00:15:5D:00:00:01": S_OK, IPv4,
 *              DHCP off, 192.168.0.2 / 255.255.255.0, gateway and DNS 192.168.0.1; any other
 *              adapter, or below 4.0: E_FAIL
 *   anything else (SET_IP_INFO, unknown operations, a pool above 4): E_FAIL
 * (Linux's daemon answers a failed GET, SET or DELETE with HV_S_CONT too; this driver uses E_FAIL
 * there so a host can tell a missing key from the end of an enumeration.)
 * The host is not trusted: the message must be as long as its operation's layout (icmsgsize and
 * the packet), every key and value size must be even, within its field, and end in a NUL with
 * no NUL before it (keys: at least one character); otherwise E_FAIL. Only bytes inside the
 * received message are read or written.
 */
#include "hvsim/console.h"
#include "hvsim/hyperv.h"
#include "hvsim/string.h"
#include "vmbus/ic.h"

#define KVP_OP_GET 0u
#define KVP_OP_SET 1u
#define KVP_OP_DELETE 2u
#define KVP_OP_ENUMERATE 3u
#define KVP_OP_GET_IP_INFO 4u
#define KVP_POOLS 5u
#define KVP_POOL_AUTO 2u
#define KVP_POOL_ENTRIES 8u
#define REG_SZ 1u
#define REG_U32 4u
#define REG_U64 8u
#define HV_S_CONT 0x80070103u
#define MAX_KEY 512u    /* bytes, NUL included */
#define MAX_VALUE 2048u
#define RX_PAGES 2u     /* the largest message (GET_IP_INFO) is 28 + 7428 bytes */

/* Offsets in the packet (the body starts at 28). */
#define KVP_OP 28u
#define KVP_POOL 29u
#define GS_VALUE_TYPE 32u /* GET / SET: hv_kvp_exchg_msg_value at 32 */
#define GS_KEY_SIZE 36u
#define GS_VALUE_SIZE 40u
#define GS_KEY 44u
#define GS_VALUE 556u
#define GS_END 2604u      /* 28 + 2576 */
#define DEL_KEY_SIZE 32u
#define DEL_KEY 36u
#define DEL_END 548u      /* 28 + 520 */
#define ENUM_INDEX 32u
#define ENUM_VALUE_TYPE 36u
#define ENUM_KEY_SIZE 40u
#define ENUM_VALUE_SIZE 44u
#define ENUM_KEY 48u
#define ENUM_VALUE 560u
#define ENUM_END 2608u    /* 28 + 2580 */
#define IP_ADAPTER 30u    /* hv_kvp_ip_msg: hv_kvp_ipaddr_value at 30, no pad */
#define IP_FAMILY 286u
#define IP_DHCP 287u
#define IP_ADDR 288u
#define IP_SUBNET 2336u
#define IP_GATEWAY 4384u
#define IP_DNS 5408u
#define IP_END 7456u      /* 28 + 7428 */
#define ADAPTER_BYTES 256u
#define ADDR_BYTES 2048u
#define GATEWAY_BYTES 1024u
#define ADDR_FAMILY_IPV4 1u

struct kvp_entry {
    uint32_t key_size, value_size; /* bytes, NUL included */
    uint8_t key[MAX_KEY];
    uint8_t value[MAX_VALUE];
};
struct kvp_pool {
    uint32_t count;
    struct kvp_entry entries[KVP_POOL_ENTRIES];
};

static struct kvp_pool *pools; /* KVP_POOLS, allocated by the first probe (not .bss: 100 KiB) */

/* ASCII `s` as NUL-terminated UTF-16LE at `dst` (room checked by the callers); returns the bytes. */
static uint32_t put_ascii(uint8_t *dst, const char *s)
{
    uint32_t n = 0;
    for (; s[n]; n++) {
        dst[2 * n] = (uint8_t)s[n];
        dst[2 * n + 1] = 0;
    }
    dst[2 * n] = dst[2 * n + 1] = 0;
    return 2 * (n + 1);
}

/* A host string of `size` bytes at `p` (field of `max` bytes): even, NUL-terminated, no NUL
 * before its end, at least `min_chars` characters. */
static int string_ok(const uint8_t *p, uint32_t size, uint32_t max, uint32_t min_chars)
{
    if (size < 2 * (min_chars + 1) || size > max || (size & 1u))
        return 0;
    if (p[size - 2] || p[size - 1])
        return 0;
    for (uint32_t i = 0; i + 2 < size; i += 2)
        if (!p[i] && !p[i + 1])
            return 0;
    return 1;
}

static uint32_t get_u32(const uint8_t *msg, uint32_t at)
{
    uint32_t v;
    memcpy(&v, msg + at, sizeof(v));
    return v;
}

static void put_u32(uint8_t *msg, uint32_t at, uint32_t v)
{
    memcpy(msg + at, &v, sizeof(v));
}

static struct kvp_entry *find(struct kvp_pool *p, const uint8_t *key, uint32_t key_size)
{
    for (uint32_t i = 0; i < p->count; i++)
        if (p->entries[i].key_size == key_size && !memcmp(p->entries[i].key, key, key_size))
            return &p->entries[i];
    return 0;
}

/* `v` as unsigned decimal UTF-16LE text at `dst` (room for 21 characters); returns the bytes. */
static uint32_t put_decimal(uint8_t *dst, uint64_t v)
{
    char digits[21];
    uint32_t n = sizeof(digits) - 1;
    digits[n] = 0;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return put_ascii(dst, digits + n);
}

/* Whether a SET's value is well-formed: REG_SZ, or REG_U32 / REG_U64 of 4 / 8 bytes. */
static int value_ok(const uint8_t *msg)
{
    uint32_t type = get_u32(msg, GS_VALUE_TYPE), size = get_u32(msg, GS_VALUE_SIZE);
    if (type == REG_SZ)
        return string_ok(msg + GS_VALUE, size, MAX_VALUE, 0);
    return (type == REG_U32 && size == 4u) || (type == REG_U64 && size == 8u);
}

/* A well-formed SET value into `e`, numbers as text. */
static void store_value(struct kvp_entry *e, const uint8_t *msg)
{
    uint32_t type = get_u32(msg, GS_VALUE_TYPE), size = get_u32(msg, GS_VALUE_SIZE);
    uint64_t v = 0;
    if (type == REG_SZ) {
        memcpy(e->value, msg + GS_VALUE, size);
        e->value_size = size;
        return;
    }
    memcpy(&v, msg + GS_VALUE, size); /* little-endian: a u32 fills the low half */
    e->value_size = put_decimal(e->value, v);
}

/* The entry's value into a reply: value_type REG_SZ, value_size, the value field. */
static void put_value(uint8_t *msg, const struct kvp_entry *e, uint32_t value_type_at, uint32_t value_size_at,
                      uint32_t value_at)
{
    put_u32(msg, value_type_at, REG_SZ);
    put_u32(msg, value_size_at, e->value_size);
    memset(msg + value_at, 0, MAX_VALUE);
    memcpy(msg + value_at, e->value, e->value_size);
}

static uint32_t get_ip_info(struct ic_service *s, uint8_t *msg)
{
    static const char adapter[] = "00:15:5D:00:00:01";
    uint8_t want[ADAPTER_BYTES];
    uint32_t want_size = put_ascii(want, adapter);
    if (s->msg_version < IC_VERSION(4, 0) || memcmp(msg + IP_ADAPTER, want, want_size))
        return IC_E_FAIL;
    msg[IP_FAMILY] = ADDR_FAMILY_IPV4;
    msg[IP_DHCP] = 0;
    memset(msg + IP_ADDR, 0, IP_END - IP_ADDR);
    put_ascii(msg + IP_ADDR, "192.168.0.2");
    put_ascii(msg + IP_SUBNET, "255.255.255.0");
    put_ascii(msg + IP_GATEWAY, "192.168.0.1");
    put_ascii(msg + IP_DNS, "192.168.0.1");
    return IC_S_OK;
}

static uint32_t exchange(struct ic_service *s, uint8_t *msg, uint32_t end)
{
    uint32_t op = msg[KVP_OP], pool = msg[KVP_POOL];
    if (op == KVP_OP_GET_IP_INFO)
        return end >= IP_END ? get_ip_info(s, msg) : IC_E_FAIL;
    if (pool >= KVP_POOLS)
        return IC_E_FAIL;
    struct kvp_pool *p = &pools[pool];
    struct kvp_entry *e;
    switch (op) {
    case KVP_OP_GET:
    case KVP_OP_SET: {
        if (end < GS_END)
            return IC_E_FAIL;
        uint32_t key_size = get_u32(msg, GS_KEY_SIZE);
        if (!string_ok(msg + GS_KEY, key_size, MAX_KEY, 1))
            return IC_E_FAIL;
        e = find(p, msg + GS_KEY, key_size);
        if (op == KVP_OP_GET) {
            if (!e)
                return IC_E_FAIL;
            put_value(msg, e, GS_VALUE_TYPE, GS_VALUE_SIZE, GS_VALUE);
            return IC_S_OK;
        }
        if ((!e && p->count == KVP_POOL_ENTRIES) || !value_ok(msg))
            return IC_E_FAIL;
        if (!e) {
            e = &p->entries[p->count++];
            e->key_size = key_size;
            memcpy(e->key, msg + GS_KEY, key_size);
        }
        store_value(e, msg);
        return IC_S_OK;
    }
    case KVP_OP_DELETE: {
        if (end < DEL_END)
            return IC_E_FAIL;
        uint32_t key_size = get_u32(msg, DEL_KEY_SIZE);
        if (!string_ok(msg + DEL_KEY, key_size, MAX_KEY, 1))
            return IC_E_FAIL;
        e = find(p, msg + DEL_KEY, key_size);
        if (!e)
            return IC_E_FAIL;
        for (struct kvp_entry *last = &p->entries[p->count - 1]; e < last; e++)
            *e = e[1];
        p->count--;
        return IC_S_OK;
    }
    case KVP_OP_ENUMERATE: {
        if (end < ENUM_END)
            return IC_E_FAIL;
        uint32_t index = get_u32(msg, ENUM_INDEX);
        if (index >= p->count)
            return HV_S_CONT;
        e = &p->entries[index];
        put_u32(msg, ENUM_KEY_SIZE, e->key_size);
        memset(msg + ENUM_KEY, 0, MAX_KEY);
        memcpy(msg + ENUM_KEY, e->key, e->key_size);
        put_value(msg, e, ENUM_VALUE_TYPE, ENUM_VALUE_SIZE, ENUM_VALUE);
        return IC_S_OK;
    }
    }
    return IC_E_FAIL;
}

static const char *const op_names[] = {"GET", "SET", "DELETE", "ENUMERATE", "GET_IP_INFO"};

static uint32_t handle(struct ic_service *s, uint8_t *msg, uint32_t len)
{
    const struct ic_header *h = (const struct ic_header *)msg;
    uint32_t end = sizeof(*h) + h->icmsgsize; /* ic.c checked icmsgsize against len */
    (void)len;
    if (end < KVP_POOL + 1u) {
        printf("kvp: message too short (%u bytes)\n", h->icmsgsize);
        return IC_E_FAIL;
    }
    uint32_t status = exchange(s, msg, end);
    uint32_t op = msg[KVP_OP];
    printf("kvp: %s pool %u: 0x%x\n", op < 5u ? op_names[op] : "unknown operation", msg[KVP_POOL], status);
    return status;
}

static const uint32_t versions[] = {IC_VERSION(4, 0), IC_VERSION(3, 0), IC_VERSION(1, 0)};

struct ic_service kvp_service = {
    .name = "kvp",
    .msgtype = ICMSGTYPE_KVPEXCHANGE,
    .msg_versions = versions,
    .msg_version_count = 3,
    .handle = handle,
};

/* The auto pool's first entries (Linux's daemon derives its auto pool from the system). */
static void prefill_auto_pool(void)
{
    static const char *const entries[][2] = {
        {"FullyQualifiedDomainName", "hvsim-guest"},
        {"IntegrationServicesVersion", "1.0"},
        {"OSName", "hvsim reference guest"},
        {"ProcessorArchitecture", "x86_64"},
    };
    struct kvp_pool *p = &pools[KVP_POOL_AUTO];
    for (uint32_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        struct kvp_entry *e = &p->entries[p->count++];
        e->key_size = put_ascii(e->key, entries[i][0]);
        e->value_size = put_ascii(e->value, entries[i][1]);
    }
}

static int probe(struct vmbus_channel *ch)
{
    if (!pools) {
        uint32_t pool_pages = (uint32_t)((KVP_POOLS * sizeof(struct kvp_pool) + 4095u) / 4096u);
        uint8_t *rx = hv_alloc_pages(RX_PAGES);
        struct kvp_pool *p = hv_alloc_pages(pool_pages);
        if (!rx || !p)
            return VMBUS_ENOMEM;
        kvp_service.buf = rx;
        kvp_service.buf_size = RX_PAGES * 4096u;
        pools = p;
        prefill_auto_pool();
    }
    return ic_open(ch, &kvp_service);
}

struct vmbus_driver kvp_driver = {
    .name = "kvp",
    .class_id = VMBUS_GUID(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6),
    .probe = probe,
    .remove = ic_close,
};
