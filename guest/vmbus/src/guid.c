/* guid.c - GUID comparison and text form (wire layout: PROTOCOL.md conventions, first three
 * groups little-endian, the last eight bytes in string order). */
#include "hvsim/string.h"
#include "vmbus/vmbus.h"

int vmbus_guid_equal(const struct vmbus_guid *a, const struct vmbus_guid *b)
{
    return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

void vmbus_guid_format(const struct vmbus_guid *g, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    /* text order of the wire bytes */
    static const int8_t bytes[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    char *p = buf;
    for (unsigned i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        uint8_t v = g->b[bytes[i]];
        *p++ = hex[v >> 4];
        *p++ = hex[v & 15];
    }
    *p = '\0';
}
