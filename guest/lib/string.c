/* string.c - memset/memcpy via rep stos/movs (no loop GCC could turn back into a call).
 * Quadwords first, then the byte tail: under the CPU emulator every iteration of a rep string
 * instruction is a block of its own, so eight bytes per iteration make copies about 8x cheaper. */
#include <stdint.h>
#include "hvsim/string.h"

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    size_t q = n / 8, tail = n % 8;
    uint64_t v = 0x0101010101010101ull * (uint8_t)c;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(c) : "memory");
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    size_t q = n / 8, tail = n % 8;
    __asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(q) : : "memory");
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(tail) : : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
