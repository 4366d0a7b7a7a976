/* console.c - putc/puts/printf on the 16550 at HVSIM_COM1 (API in hvsim/console.h). */
#include <stdarg.h>
#include <stdint.h>
#include "hvsim/console.h"
#include "hvsim/cpu.h"
#include "hvsim/string.h"
#include "hvsim/sync.h"

#define UART_THR 0
#define UART_LSR 5
#define LSR_THRE 0x20
#define CHUNK 128

static spinlock_t console_lock = SPINLOCK_INIT;

static void uart_write(const char *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        while (!(inb(HVSIM_COM1 + UART_LSR) & LSR_THRE))
            pause();
        outb(HVSIM_COM1 + UART_THR, (uint8_t)s[i]);
    }
}

/* Writes n bytes atomically with respect to other vCPUs and to interrupts on this one. */
static void console_write(const char *s, unsigned n)
{
    uint64_t flags = read_rflags();
    cli();
    spin_lock(&console_lock);
    uart_write(s, n);
    spin_unlock(&console_lock);
    write_rflags(flags);
}

int putc(int c)
{
    char ch = (char)c;
    console_write(&ch, 1);
    return (uint8_t)c;
}

int puts(const char *s)
{
    return printf("%s\n", s);
}

struct out {
    char buf[CHUNK];
    unsigned len;
    int total;
};

static void emit(struct out *o, char c)
{
    if (o->len == CHUNK) {
        console_write(o->buf, o->len);
        o->len = 0;
    }
    o->buf[o->len++] = c;
    o->total++;
}

/* pad is ' ' or '0'; a negative width means left-justify (pad with spaces after). */
static void emit_padded(struct out *o, const char *s, unsigned n, int width, char pad)
{
    for (int i = (int)n; i < width; i++)
        emit(o, pad);
    for (unsigned i = 0; i < n; i++)
        emit(o, s[i]);
    for (int i = (int)n; i < -width; i++)
        emit(o, ' ');
}

static void emit_number(struct out *o, uint64_t v, unsigned base, int negative, int upper, int width, char pad)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    unsigned n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = digits[v % base];
        v /= base;
    } while (v);
    if (negative) {
        if (pad == '0') {
            emit(o, '-');
            width = width > 0 ? width - 1 : width;
        } else {
            tmp[sizeof(tmp) - 1 - n++] = '-';
        }
    }
    emit_padded(o, tmp + sizeof(tmp) - n, n, width, pad);
}

static int64_t signed_arg(va_list *ap, int longness)
{
    if (longness == 0)
        return va_arg(*ap, int);
    return longness == 1 ? va_arg(*ap, long) : va_arg(*ap, long long);
}

static uint64_t unsigned_arg(va_list *ap, int longness)
{
    if (longness == 0)
        return va_arg(*ap, unsigned int);
    return longness == 1 ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned long long);
}

int printf(const char *fmt, ...)
{
    struct out o = {.len = 0, .total = 0};
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            emit(&o, *p);
            continue;
        }
        p++;
        char pad = ' ';
        int left = 0, width = 0, longness = 0;
        for (;; p++) {
            if (*p == '0')
                pad = '0';
            else if (*p == '-')
                left = 1;
            else
                break;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        if (left) {
            width = -width;
            pad = ' ';
        }
        if (*p == 'z') {
            longness = 1;
            p++;
        }
        while (*p == 'l' && longness < 2) {
            longness++;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = signed_arg(&ap, longness);
            emit_number(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, 0, width, pad);
            break;
        }
        case 'u':
            emit_number(&o, unsigned_arg(&ap, longness), 10, 0, 0, width, pad);
            break;
        case 'x':
        case 'X':
            emit_number(&o, unsigned_arg(&ap, longness), 16, 0, *p == 'X', width, pad);
            break;
        case 'p':
            emit(&o, '0');
            emit(&o, 'x');
            emit_number(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, 0, width > 2 ? width - 2 : 0, pad);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            emit_padded(&o, s, (unsigned)strlen(s), width, ' ');
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            emit_padded(&o, &c, 1, width, ' ');
            break;
        }
        case '%':
            emit(&o, '%');
            break;
        case '\0':
            p--; /* lone '%' at the end: stop at the terminator */
            break;
        default:
            emit(&o, '%');
            emit(&o, *p);
            break;
        }
    }
    va_end(ap);
    if (o.len)
        console_write(o.buf, o.len);
    return o.total;
}
