/* SPDX-License-Identifier: MIT */
/* Internals shared by the fd layer's files: the SIGPIPE guard used around
 * writes to non-sockets, flag checks and errno-preserving returns. */
#ifndef PORTKIT_FD_INTERNAL_H
#define PORTKIT_FD_INTERNAL_H

#include "internal.h"
#include "portkit/fd.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* State saved by pk__sigpipe_block() and undone by pk__sigpipe_restore(). */
struct pk__sigpipe {
        sigset_t old;     /* the thread's mask before the call */
        bool was_blocked; /* SIGPIPE already blocked by the caller */
        bool was_pending; /* ... and already pending: not ours to consume */
};

/* Blocks SIGPIPE in the calling thread (a no-op if the caller already
 * blocks it).  Cannot fail with valid arguments. */
void pk__sigpipe_block(struct pk__sigpipe *s);

/* Restores the mask; if `epipe` (the guarded write failed with EPIPE),
 * first consumes the SIGPIPE that write raised, unless one was already
 * pending before the guard.  Preserves errno. */
void pk__sigpipe_restore(struct pk__sigpipe *s, bool epipe);

/* Returns -errno, for `return pk__neg_errno();` right after a failing call. */
static inline int pk__neg_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

/* True if flags has bits outside allowed. */
static inline bool pk__bad_flags(int flags, int allowed)
{
        return (flags & ~allowed) != 0;
}

/* Maps PK_FD_READ/WRITE/RDWR to O_RDONLY/O_WRONLY/O_RDWR, or -1. */
static inline int pk__access_oflags(int access)
{
        switch (access) {
        case PK_FD_READ:
                return O_RDONLY;
        case PK_FD_WRITE:
                return O_WRONLY;
        case PK_FD_RDWR:
                return O_RDWR;
        default:
                return -1;
        }
}

/* Opens path (PK_FD_READ/WRITE/RDWR, PK_FD_NONBLOCK) without blocking and
 * returns it only if its file type is type (S_IFIFO, S_IFCHR); otherwise
 * wrong_type.  The fd keeps the caller's blocking mode. */
int pk__open_typed(const char *path, int access, int flags, mode_t type, int wrong_type);

#endif
