/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the tests/test_fd_*.c programs: descriptor
 * counting (leak checks), CLOEXEC checks and scratch folders. */
#ifndef PORTKIT_FD_TESTUTIL_H
#define PORTKIT_FD_TESTUTIL_H

#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open descriptors of this process, as listed in /proc/self/fd (the
 * listing's own descriptor is excluded). */
static inline int fdt_count(void)
{
        DIR *d = opendir("/proc/self/fd");
        cr_assert(d != NULL, "opendir /proc/self/fd");
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] != '.')
                        n++;
        }
        closedir(d);
        return n - 1;
}

static inline bool fdt_cloexec(int fd)
{
        int f = fcntl(fd, F_GETFD);
        return f >= 0 && (f & FD_CLOEXEC);
}

static inline bool fdt_nonblock(int fd)
{
        int f = fcntl(fd, F_GETFL);
        return f >= 0 && (f & O_NONBLOCK);
}

static inline bool fdt_open(int fd)
{
        return fcntl(fd, F_GETFD) >= 0;
}

/* A fresh folder under /tmp, short enough for sun_path. */
static inline void fdt_tmpdir(char *buf, size_t size)
{
        snprintf(buf, size, "/tmp/pkfd.XXXXXX");
        cr_assert(mkdtemp(buf) != NULL, "mkdtemp");
}

static inline void fdt_rmrf(const char *dir)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                cr_log_warn("could not remove %s", dir);
}

#endif
