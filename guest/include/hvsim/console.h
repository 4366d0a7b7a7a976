/* hvsim/console.h - output on the 16550 console at port 0x3F8 (guest contract, section 7).
 *
 * putc writes one byte (waiting for LSR.THRE), puts writes a string and a newline like C's puts.
 * printf supports %d %i %u %x %X %p %s %c %% with flags 0 and -, a width, and length l, ll or z; it
 * formats into a buffer and writes each 128-byte chunk under a console lock with interrupts
 * disabled, so lines from different vCPUs do not mix and a fault cannot occur while the lock is held.
 */
#ifndef HVSIM_CONSOLE_H
#define HVSIM_CONSOLE_H

#define HVSIM_COM1 0x3F8

int putc(int c);
int puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
