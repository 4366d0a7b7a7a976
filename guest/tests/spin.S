/* spin.elf - every vCPU loops forever (jmp .): only the watchdog (--max-time) ends the run. */
    .section .text.start, "ax"
    .globl _start
_start:
    jmp .

    .section .note.GNU-stack, "", @progbits
