/* SPDX-License-Identifier: MIT */
/* Cgroups made by a test process (tests/test_sup*.c) all carry the prefix
 * "pk-test-<pid>-" under the process's own cgroup, so a suite's .fini can
 * kill and remove every one of them even when an assertion cut the test
 * short (cr_assert leaves the test body; Criterion still runs .fini). */
#ifndef PORTKIT_CG_TESTUTIL_H
#define PORTKIT_CG_TESTUTIL_H

#include <portkit/sup.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "pk-test-<pid>-<tag>" into buf. */
static inline void cgt_name(char *buf, size_t size, const char *tag)
{
        snprintf(buf, size, "pk-test-%ld-%s", (long)getpid(), tag);
}

/* dir/file into path; false when it does not fit (nothing to do there:
 * no cgroup this process made has such a path). */
static inline bool cgt_path(char path[PATH_MAX], const char *dir, const char *file)
{
        int n = snprintf(path, PATH_MAX, "%s/%s", dir, file);
        return n >= 0 && n < PATH_MAX;
}

static inline void cgt_write(const char *dir, const char *file, const char *text)
{
        char path[PATH_MAX];
        if (!cgt_path(path, dir, file))
                return;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void)!write(fd, text, strlen(text));
                close(fd);
        }
}

/* 1 while dir/cgroup.events says "populated 1", else 0. */
static inline int cgt_populated(const char *dir)
{
        char path[PATH_MAX], buf[256];
        if (!cgt_path(path, dir, "cgroup.events"))
                return 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        return strstr(buf, "populated 1") != NULL;
}

/* Kills what runs in dir and below (cgroup.kill, and SIGKILL to each pid
 * in cgroup.procs for kernels without it), waits (bounded) for it to empty,
 * then removes the directories depth first. */
static inline void cgt_remove_tree(const char *dir, int depth)
{
        DIR *d = opendir(dir);
        if (d && depth < 8) {
                struct dirent *e;
                while ((e = readdir(d))) {
                        if (e->d_type != DT_DIR || e->d_name[0] == '.')
                                continue;
                        char sub[PATH_MAX];
                        if (cgt_path(sub, dir, e->d_name))
                                cgt_remove_tree(sub, depth + 1);
                }
        }
        if (d)
                closedir(d);
        cgt_write(dir, "cgroup.kill", "1");
        char path[PATH_MAX];
        FILE *f = cgt_path(path, dir, "cgroup.procs") ? fopen(path, "re") : NULL;
        if (f) {
                long pid;
                while (fscanf(f, "%ld", &pid) == 1)
                        (void)kill((pid_t)pid, SIGKILL);
                fclose(f);
        }
        for (int i = 0; i < 500 && cgt_populated(dir); i++) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        (void)rmdir(dir);
}

/* .fini: removes every "pk-test-<pid>-*" cgroup under this process's own
 * cgroup (nothing when there is no cgroup v2). */
static inline void cgt_cleanup(void)
{
        char self[PATH_MAX], prefix[64];
        if (pk_cgroup_self(self, sizeof(self)) < 0)
                return;
        snprintf(prefix, sizeof(prefix), "pk-test-%ld-", (long)getpid());
        DIR *d = opendir(self);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_type != DT_DIR || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
                        continue;
                char sub[PATH_MAX];
                if (cgt_path(sub, self, e->d_name))
                        cgt_remove_tree(sub, 0);
        }
        closedir(d);
}

#endif
