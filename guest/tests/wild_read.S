/* wild_read.elf - reads physical 0xC0000000 (3 GiB: identity-mapped but never RAM, as RAM is at
 * most 3 GiB): the run must end with the crash verdict "outside RAM". Exits 1 if the read returns. */
    .section .text.start, "ax"
    .globl _start
_start:
    mov $0xC0000000, %eax
    mov (%rax), %rax
    mov $1, %eax
    mov $0xF4, %edx
    out %eax, %dx
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
