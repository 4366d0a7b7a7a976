/* hvsim/string.h - the C string functions the guest runtime provides.
 *
 * Same semantics as ISO C. GCC may emit calls to memset/memcpy for struct copies and
 * initialisers even in freestanding code, so these exact names must exist.
 */
#ifndef HVSIM_STRING_H
#define HVSIM_STRING_H

#include <stddef.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
