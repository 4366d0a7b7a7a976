/* ic.c - what every util driver shares: IC header checks, NEGOTIATE, in-place replies, ring
 * set-up, and the wall-clock text form (contract in vmbus/ic.h; facts from PROTOCOL.md §7.2-7.3).
 */
#include "hvsim/console.h"
#include "hvsim/hyperv.h"
#include "hvsim/string.h"
#include "vmbus/ic.h"

#define NEGOTIATE_COUNTS 28u   /* u16 icframe_vercnt, u16 icmsg_vercnt */
#define NEGOTIATE_VERSIONS 36u /* {u16 major, u16 minor}[], frameworks first */

static const uint32_t framework_versions[] = {IC_VERSION(3, 0), IC_VERSION(1, 0)};

static uint32_t host_version(const uint8_t *msg, uint32_t index)
{
    uint16_t v[2];
    memcpy(v, msg + NEGOTIATE_VERSIONS + 4u * index, sizeof(v));
    return IC_VERSION(v[0], v[1]);
}

/* The first of ours (highest first) that the host lists in entries [first, first + count). */
static uint32_t pick(const uint32_t *ours, uint32_t n, const uint8_t *msg, uint32_t first, uint32_t count)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < count; j++)
            if (host_version(msg, first + j) == ours[i])
                return ours[i];
    return 0;
}

static void put_version(uint8_t *msg, uint32_t index, uint32_t version)
{
    uint16_t v[2] = {(uint16_t)(version >> 16), (uint16_t)version};
    memcpy(msg + NEGOTIATE_VERSIONS + 4u * index, v, sizeof(v));
}

static uint32_t negotiate(struct ic_service *s, uint8_t *msg, uint32_t len)
{
    struct ic_header *h = (struct ic_header *)msg;
    uint16_t counts[2] = {0, 0};
    if (len < NEGOTIATE_VERSIONS)
        return IC_E_FAIL;
    memcpy(counts, msg + NEGOTIATE_COUNTS, sizeof(counts));
    uint32_t fw = 0, mv = 0;
    if (NEGOTIATE_VERSIONS + 4u * ((uint32_t)counts[0] + counts[1]) <= len) {
        fw = pick(framework_versions, 2, msg, 0, counts[0]);
        mv = pick(s->msg_versions, s->msg_version_count, msg, counts[0], counts[1]);
    }
    if (!fw || !mv) {
        memset(counts, 0, sizeof(counts));
        memcpy(msg + NEGOTIATE_COUNTS, counts, sizeof(counts));
        printf("%s: version negotiation failed\n", s->name);
        return IC_E_FAIL;
    }
    counts[0] = counts[1] = 1;
    memcpy(msg + NEGOTIATE_COUNTS, counts, sizeof(counts));
    put_version(msg, 0, fw);
    put_version(msg, 1, mv);
    h->icmsgsize = 16;
    s->fw_version = fw;
    s->msg_version = mv;
    printf("%s: negotiated framework %u.%u, message version %u.%u\n", s->name, fw >> 16, fw & 0xFFFF, mv >> 16,
           mv & 0xFFFF);
    return IC_S_OK;
}

static void ic_callback(struct vmbus_channel *ch)
{
    struct ic_service *s = ch->context;
    struct vmbus_packet pkt;
    for (;;) {
        int r = vmbus_recv(ch, &pkt, s->buf, s->buf_size);
        if (r == 0 || r == VMBUS_EPROTO)
            return;
        struct ic_header *h = (struct ic_header *)s->buf;
        if (r < 0 || pkt.type != VM_PKT_DATA_INBAND || pkt.len < sizeof(*h) || h->icmsgsize > pkt.len - sizeof(*h)) {
            s->errors++;
            printf("%s: malformed packet dropped (type %u, %u bytes)\n", s->name, pkt.type, pkt.len);
            continue;
        }
        uint32_t status;
        if (h->icmsgtype == ICMSGTYPE_NEGOTIATE) {
            status = negotiate(s, s->buf, pkt.len);
        } else if (h->icmsgtype == s->msgtype && s->msg_version) {
            status = s->handle(s, s->buf, pkt.len);
            s->messages++;
        } else {
            s->errors++;
            status = IC_E_FAIL;
        }
        h->status = status;
        h->icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        r = vmbus_send(ch, VM_PKT_DATA_INBAND, 0, pkt.trans_id, s->buf, pkt.len);
        if (r)
            printf("%s: reply not sent (%d)\n", s->name, r);
        else if (s->after_reply && h->icmsgtype == s->msgtype && status == IC_S_OK)
            s->after_reply(s);
    }
}

int ic_open(struct vmbus_channel *ch, struct ic_service *s)
{
    s->fw_version = 0;
    s->msg_version = 0;
    return vmbus_open(ch, IC_RING_PAGES, hv_vp_index(), ic_callback, s);
}

void ic_close(struct vmbus_channel *ch)
{
    vmbus_close(ch);
}

static char *put_number(char *p, uint64_t v, unsigned digits)
{
    for (unsigned i = digits; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + digits;
}

void ic_format_time(int64_t unix_100ns, char *buf)
{
    int64_t secs = unix_100ns >= 0 ? unix_100ns / 10000000 : -((-unix_100ns + 9999999) / 10000000);
    uint64_t frac = (uint64_t)(unix_100ns - secs * 10000000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    uint64_t sod = (uint64_t)(secs - days * 86400);
    /* days since 1970-01-01 -> civil date, counting in 400-year eras that start on March 1st */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    char *p = buf;
    p = put_number(p, year < 0 ? 0 : (uint64_t)year, 4);
    *p++ = '-';
    p = put_number(p, (uint64_t)month, 2);
    *p++ = '-';
    p = put_number(p, (uint64_t)day, 2);
    *p++ = 'T';
    p = put_number(p, sod / 3600, 2);
    *p++ = ':';
    p = put_number(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_number(p, sod % 60, 2);
    *p++ = '.';
    p = put_number(p, frac, 7);
    *p++ = 'Z';
    *p = '\0';
}
