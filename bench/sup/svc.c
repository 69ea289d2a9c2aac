/* SPDX-License-Identifier: MIT */
/* The supervised service of bench/sup: a static binary with no libc that
 * sleeps in pause() until a signal kills it, so every peer supervises the
 * same few-page process and a restart costs the supervisor's work only.
 * Build: cc -O2 -static -nostdlib -nostartfiles -fno-stack-protector. */
void _start(void);

void _start(void)
{
        for (;;) {
#if defined(__x86_64__)
                __asm__ volatile("mov $34, %%eax\n\tsyscall" ::: "rax", "rcx", "r11", "memory");
#elif defined(__aarch64__)
                /* no pause on arm64: ppoll(NULL, 0, NULL, NULL) blocks the same way */
                __asm__ volatile("mov x8, #73\n\tmov x0, #0\n\tmov x1, #0\n\tmov x2, #0\n\t"
                                 "mov x3, #0\n\tsvc #0" ::
                                     : "x0", "x1", "x2", "x3", "x8", "memory");
#else
// cppcheck-suppress preprocessorErrorDirective
#        error "svc.c: add this architecture's pause"
#endif
        }
}
