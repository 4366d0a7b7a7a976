/* nohandler.elf - ud2 with no IDT loaded: the run must end with the crash verdict (#UD).
 * Exits 1 if execution somehow continues. */
    .section .text.start, "ax"
    .globl _start
_start:
    ud2
    mov $1, %eax
    mov $0xF4, %edx
    out %eax, %dx
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
