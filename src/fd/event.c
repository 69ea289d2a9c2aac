/* SPDX-License-Identifier: MIT */
/* Kernel event descriptors: eventfd (counters, cross-thread wake-ups),
 * timerfd (CLOCK_MONOTONIC timers) and signalfd (signals as reads). */
#include "fd/fd-internal.h"

#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

/* Reads or writes one 8-byte value, retrying EINTR. */
static int rw_u64(int fd, uint64_t *v, bool write_it)
{
        int saved = errno;
        ssize_t n;
        do
                n = write_it ? write(fd, v, sizeof(*v)) : read(fd, v, sizeof(*v));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return pk__neg_errno();
        errno = saved;
        return n == (ssize_t)sizeof(*v) ? 0 : -EIO;
}

int pk_fd_eventfd(unsigned initval, int flags)
{
        if (pk__bad_flags(flags, PK_FD_NONBLOCK | PK_FD_SEMAPHORE))
                return -EINVAL;
        int saved = errno;
        int fd = eventfd(initval, EFD_CLOEXEC | ((flags & PK_FD_NONBLOCK) ? EFD_NONBLOCK : 0) |
                                      ((flags & PK_FD_SEMAPHORE) ? EFD_SEMAPHORE : 0));
        if (fd < 0)
                return pk__neg_errno();
        errno = saved;
        return fd;
}

int pk_fd_eventfd_write(int fd, uint64_t value)
{
        if (value == UINT64_MAX)
                return -EINVAL;
        return rw_u64(fd, &value, true);
}

int pk_fd_eventfd_read(int fd, uint64_t *ret_value)
{
        if (!ret_value)
                return -EINVAL;
        uint64_t v;
        int r = rw_u64(fd, &v, false);
        if (r == 0)
                *ret_value = v;
        return r;
}

int pk_fd_timerfd(int flags)
{
        if (pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        int saved = errno;
        int fd = timerfd_create(CLOCK_MONOTONIC,
                                TFD_CLOEXEC | ((flags & PK_FD_NONBLOCK) ? TFD_NONBLOCK : 0));
        if (fd < 0)
                return pk__neg_errno();
        errno = saved;
        return fd;
}

static struct timespec ns_to_ts(uint64_t ns)
{
        struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                              .tv_nsec = (long)(ns % 1000000000u)};
        return ts;
}

static int timerfd_arm(int fd, int tflags, uint64_t initial_ns, uint64_t interval_ns)
{
        /* An interval without a first expiry would still disarm: refuse the
         * ambiguous request. */
        if (initial_ns == 0 && interval_ns != 0)
                return -EINVAL;
        struct itimerspec its = {.it_value = ns_to_ts(initial_ns),
                                 .it_interval = ns_to_ts(interval_ns)};
        int saved = errno;
        if (timerfd_settime(fd, tflags, &its, NULL) < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

int pk_fd_timerfd_set(int fd, uint64_t initial_ns, uint64_t interval_ns)
{
        return timerfd_arm(fd, 0, initial_ns, interval_ns);
}

int pk_fd_timerfd_set_abs(int fd, uint64_t deadline_ns, uint64_t interval_ns)
{
        return timerfd_arm(fd, TFD_TIMER_ABSTIME, deadline_ns, interval_ns);
}

int pk_fd_timerfd_read(int fd, uint64_t *ret_expirations)
{
        if (!ret_expirations)
                return -EINVAL;
        uint64_t v;
        int r = rw_u64(fd, &v, false);
        if (r == 0)
                *ret_expirations = v;
        return r;
}

/* Builds a sigset from a list of signal numbers, refusing the ones a
 * signalfd cannot take. */
static int make_sigset(const int *signals, size_t count, sigset_t *set)
{
        if (!signals || count == 0 || count > 64)
                return -EINVAL;
        sigemptyset(set);
        for (size_t i = 0; i < count; i++) {
                int s = signals[i];
                if (s <= 0 || s >= NSIG || s == SIGKILL || s == SIGSTOP)
                        return -EINVAL;
                if (sigaddset(set, s) < 0)
                        return -EINVAL; /* glibc's reserved NPTL signals */
        }
        return 0;
}

/* signalfd(2) on fd (-1: a new one), then block the set in this thread.
 * The descriptor is made first so a failure leaves the mask unchanged. */
static int signalfd_apply(int fd, const int *signals, size_t count, int sfd_flags)
{
        sigset_t set;
        int r = make_sigset(signals, count, &set);
        if (r < 0)
                return r;
        int saved = errno;
        int nfd = signalfd(fd, &set, sfd_flags);
        if (nfd < 0)
                return pk__neg_errno();
        r = pthread_sigmask(SIG_BLOCK, &set, NULL);
        if (r != 0) {
                if (fd < 0)
                        pk_fd_close(nfd);
                return -r;
        }
        errno = saved;
        return nfd;
}

int pk_fd_signalfd(const int *signals, size_t count, int flags)
{
        if (pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        return signalfd_apply(-1, signals, count,
                              SFD_CLOEXEC | ((flags & PK_FD_NONBLOCK) ? SFD_NONBLOCK : 0));
}

int pk_fd_signalfd_update(int fd, const int *signals, size_t count)
{
        if (fd < 0)
                return -EBADF;
        int r = signalfd_apply(fd, signals, count, 0);
        return r < 0 ? r : 0;
}

int pk_fd_signalfd_read(int fd, struct signalfd_siginfo *ret_info)
{
        struct signalfd_siginfo si;
        int saved = errno;
        ssize_t n;
        do
                n = read(fd, &si, sizeof(si));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return pk__neg_errno();
        errno = saved;
        if (n != (ssize_t)sizeof(si))
                return -EIO;
        if (ret_info)
                *ret_info = si;
        return (int)si.ssi_signo;
}
