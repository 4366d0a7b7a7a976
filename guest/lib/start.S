/* start.S - _start, the ELF entry point of every runtime-based guest.
 *
 * In (guest contract, section 4): RDI = VP index, RSI = boot-info GPA, RSP = 16-byte aligned top
 * of this vCPU's boot stack. VP 0 zeroes .bss, stores RSI in hvsim_boot and sets bss_ready; the
 * others spin on bss_ready (it lives in .data, so zeroing .bss cannot clear it). Then
 * guest_main(vp, bi); VP 0 exits with its return value, any other VP halts forever.
 */
    .section .text.start, "ax"
    .globl _start
_start:
    cld
    mov %edi, %r12d
    mov %rsi, %r13
    test %edi, %edi
    jnz 2f

    lea __bss_start(%rip), %rdi
    lea __bss_end(%rip), %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    rep stosb
    mov %r13, hvsim_boot(%rip)
    movl $1, bss_ready(%rip)
    jmp 3f

2:  pause
    cmpl $0, bss_ready(%rip)
    je 2b

3:  mov %r12d, %edi
    mov %r13, %rsi
    call guest_main
    test %r12d, %r12d
    jnz 4f
    mov $0xF4, %edx
    out %eax, %dx
4:  cli
    hlt
    jmp 4b

    .data
    .balign 8
    .globl hvsim_boot
hvsim_boot:
    .quad 0
bss_ready:
    .long 0

    .section .note.GNU-stack, "", @progbits
