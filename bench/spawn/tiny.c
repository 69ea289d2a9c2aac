/* SPDX-License-Identifier: MIT */
/* The benchmark's trivial child: a static binary with no libc that exits at
 * once, so a spawn's cost is the spawner's, not the child's start-up.
 * Build: cc -O2 -static -nostdlib -nostartfiles -fno-stack-protector. */
void _start(void);

void _start(void)
{
#if defined(__x86_64__)
        __asm__ volatile("mov $231, %eax\n\txor %edi, %edi\n\tsyscall");
#elif defined(__aarch64__)
        __asm__ volatile("mov x8, #94\n\tmov x0, #0\n\tsvc #0");
#else
// cppcheck-suppress preprocessorErrorDirective
#        error "tiny.c: add this architecture's exit_group"
#endif
        for (;;)
                ;
}
