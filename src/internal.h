/* SPDX-License-Identifier: MIT */
/* Internal helpers shared by every layer: cleanup attributes, ownership
 * hand-off and small utilities.  Never included by public headers. */
#ifndef PORTKIT_INTERNAL_H
#define PORTKIT_INTERNAL_H

#ifndef PORTKIT_BUILDING
#        define PORTKIT_BUILDING 1
#endif
#include "portkit/error.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the one allocator (src/common/alloc.c) ---------------------------------
 * Every allocation in the library goes through these, so tests can inject
 * failures; the libc names are mapped to them below (stdlib.h and string.h
 * are included first so their declarations stay untouched).  free() is
 * libc's own. */
void *pk__malloc(size_t n);
void *pk__calloc(size_t n, size_t size);
void *pk__realloc(void *p, size_t n);
char *pk__strdup(const char *s);
char *pk__strndup(const char *s, size_t n);
/* Test only: the Nth allocation from now, in this thread, fails with NULL
 * (once); n <= 0 turns it off.  Returns how many were left of the previous
 * countdown (0: none pending, i.e. it fired or was off). */
long pk__alloc_fail_after(long n);
#define malloc(n) pk__malloc(n)
#define calloc(n, size) pk__calloc(n, size)
#define realloc(p, n) pk__realloc(p, n)
#define strdup(s) pk__strdup(s)
#define strndup(s, n) pk__strndup(s, n)

/* Run fn(&var) when var goes out of scope (gcc/clang only; never public). */
#define PK_CLEANUP(fn) __attribute__((cleanup(fn)))

static inline void pk__closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
        }
}
#define PK_CLEANUP_FD PK_CLEANUP(pk__closep)

static inline void pk__freep(void *p)
{
        free(*(void **)p);
}
#define PK_CLEANUP_FREE PK_CLEANUP(pk__freep)

/* Hand ownership out of a cleanup-scoped variable. */
static inline int pk_take_fd(int *fd)
{
        int r = *fd;
        *fd = -1;
        return r;
}
static inline void *pk__take_ptr(void **p)
{
        void *r = *p;
        *p = NULL;
        return r;
}
#define pk_take_ptr(pp) pk__take_ptr((void **)(pp))

#define PK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PK_UNUSED __attribute__((unused))
#define PK_LIKELY(x) __builtin_expect(!!(x), 1)
#define PK_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- spawn calls other layers make (src/spawn/) ------------------------------
 * Declared here, not in spawn-internal.h, so that no layer includes another
 * layer's private header. */
struct pk_cmd;
struct pk_spawn_error;
/* Fills *e (if not NULL) as a failed spawn does. */
void pk__spawn_error_set(struct pk_spawn_error *e, int step, int err, int fd, int value,
                         const char *path);
/* Whether the command's child gets a process group of its own (setsid or setpgid). */
bool pk__cmd_own_group(const struct pk_cmd *c);

/* Capabilities a process gets before its exec: the spawn child applies them,
 * and so does `portkit run` before it execs in place. */
struct pk__caps {
        bool has_ambient, has_bounding;
        int cap_last;      /* highest capability the kernel knows (pk__cap_last()) */
        uint64_t ambient;  /* bit N: capability N */
        uint64_t bounding; /* bit N kept in the bounding set */
};

/* Applies caps with raw system calls only (safe in a vfork child).  Phase 0
 * goes before setgroups/setresgid/setresuid: the bounding set (CAP_SETPCAP
 * dropped last), and PR_SET_KEEPCAPS when ambient capabilities must survive
 * set_uid.  Phase 1 goes after them: permitted and inheritable, then each
 * ambient capability raised.  caps->cap_last must be set when
 * caps->has_bounding.  Returns 0, or a negative errno with *ret_step
 * (PK_SPAWN_STEP_CAPBSET or PK_SPAWN_STEP_CAPS) and *ret_value (the
 * capability, or 0). */
int pk__caps_apply(const struct pk__caps *caps, bool set_uid, int phase, int *ret_step,
                   int *ret_value);

/* The highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap;
 * 40 when unreadable). */
int pk__cap_last(void);

/* ---- text (src/common/utf8.c) ------------------------------------------------ */
/* Writes code point cp (at most 0x10FFFF; the caller has refused surrogates
 * where they matter) as 1 to 4 bytes of UTF-8 at out; returns how many. */
size_t pk__utf8_encode(uint32_t cp, uint8_t out[4]);

/* The value of hex digit c (either case), or -1. */
static inline int pk__hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* ---- fd calls other layers make (src/fd/) ------------------------------------ */
struct iovec;
/* Drops n written bytes from the front of iov[first..iovcnt) (in place);
 * returns the index of the first buffer with bytes left, iovcnt when all
 * are written.  The port layer's writers share it with pk_fd_writev_all. */
int pk__iov_advance(struct iovec *iov, int iovcnt, int first, size_t n);

#endif
