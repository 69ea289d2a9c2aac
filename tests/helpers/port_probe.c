/* SPDX-License-Identifier: MIT */
/* A port program that misbehaves on request, for the port tests and the
 * Erlang interop tests.  Talks {packet,4} on fds 0/1 (3/4 with --nouse-stdio).
 *
 *   port_probe [--nouse-stdio] MODE [ARG]
 *     exit N        exit with status N at once
 *     signal N      die of signal N
 *     echo-exit N   echo one message, then exit N
 *     bigheader     write a header announcing 4 GiB - 1, then wait for EOF
 *     garbage       write a valid frame "ok", then 3 stray bytes, exit 0
 *     midmsg        write half a frame, then SIGKILL itself
 *     closein       close the input, write "closed", wait for up to ARG s, exit 0
 *     noread        never read; sleep until killed
 *     env NAME      reply with $NAME (or "<unset>"), then echo until EOF
 *     cwd           reply with the working directory, then echo until EOF
 *     fds           reply with the open descriptors ("0 1 2"), then echo until EOF
 *     stderr TEXT   write TEXT to stderr, reply "done", then echo until EOF
 *     argv          reply with argv joined by '|', then echo until EOF
 *     sigpipe       reply "ready", then echo until EOF or a write error (exit 3 on EPIPE)
 *     pid           reply with getpid() and getpgrp(), then echo until EOF */
#include <portkit.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int in_fd = 0, out_fd = 1;

static void put_frame(const void *data, size_t len)
{
        uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                        (uint8_t)len};
        if (write(out_fd, h, 4) != 4 || write(out_fd, data, len) != (ssize_t)len)
                _exit(3);
}

static void put_str(const char *s)
{
        put_frame(s, strlen(s));
}

static int echo_loop(int count)
{
        static const struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 4};
        struct pk_port_self *s;
        if (pk_port_self_open_fds(&f, in_fd, out_fd, &s) < 0)
                return 2;
        struct pk_packet_msg m;
        int r;
        while (count != 0 && (r = pk_port_self_read(s, &m)) == 1) {
                r = pk_port_self_write(s, m.data, m.len);
                if (r == -EPIPE) {
                        pk_port_self_close(s);
                        return 3;
                }
                if (r < 0)
                        break;
                if (count > 0)
                        count--;
        }
        pk_port_self_close(s);
        return 0;
}

static void die_of(int sig)
{
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        signal(sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        _exit(99);
}

int main(int argc, char **argv)
{
        int i = 1;
        if (i < argc && strcmp(argv[i], "--nouse-stdio") == 0) {
                in_fd = 3;
                out_fd = 4;
                i++;
        }
        if (i >= argc)
                return 2;
        const char *mode = argv[i];
        const char *arg = i + 1 < argc ? argv[i + 1] : "";
        char buf[4096];
        if (strcmp(mode, "exit") == 0)
                return atoi(arg);
        if (strcmp(mode, "signal") == 0)
                die_of(atoi(arg));
        if (strcmp(mode, "echo-exit") == 0) {
                echo_loop(1);
                return atoi(arg);
        }
        if (strcmp(mode, "bigheader") == 0) {
                static const uint8_t h[] = {0xff, 0xff, 0xff, 0xff, 'x', 'y'};
                if (write(out_fd, h, sizeof(h)) != (ssize_t)sizeof(h))
                        return 3;
                while (read(in_fd, buf, sizeof(buf)) > 0)
                        ;
                return 0;
        }
        if (strcmp(mode, "garbage") == 0) {
                put_str("ok");
                if (write(out_fd, "\xde\xad\xbe", 3) != 3)
                        return 3;
                return 0;
        }
        if (strcmp(mode, "midmsg") == 0) {
                static const uint8_t h[] = {0, 0, 3, 0xe8, 'p', 'a', 'r', 't'};
                if (write(out_fd, h, sizeof(h)) != (ssize_t)sizeof(h))
                        return 3;
                die_of(SIGKILL);
        }
        if (strcmp(mode, "closein") == 0) {
                close(in_fd);
                put_str("closed");
                int secs = atoi(arg);
                for (int k = 0; k < secs * 10; k++)
                        usleep(100000);
                return 0;
        }
        if (strcmp(mode, "noread") == 0) {
                for (;;)
                        pause();
        }
        if (strcmp(mode, "env") == 0) {
                const char *v = getenv(arg);
                put_str(v ? v : "<unset>");
        } else if (strcmp(mode, "cwd") == 0) {
                if (!getcwd(buf, sizeof(buf)))
                        return 2;
                put_str(buf);
        } else if (strcmp(mode, "fds") == 0) {
                DIR *d = opendir("/proc/self/fd");
                if (!d)
                        return 2;
                int list[64], n = 0, me = dirfd(d);
                struct dirent *e;
                while ((e = readdir(d)) && n < 64)
                        if (e->d_name[0] != '.' && atoi(e->d_name) != me)
                                list[n++] = atoi(e->d_name);
                closedir(d);
                /* sort for a stable answer */
                for (int a = 0; a < n; a++)
                        for (int b = a + 1; b < n; b++)
                                if (list[b] < list[a]) {
                                        int t = list[a];
                                        list[a] = list[b];
                                        list[b] = t;
                                }
                size_t len = 0;
                buf[0] = 0;
                for (int a = 0; a < n; a++)
                        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%d", a ? " " : "",
                                                list[a]);
                put_str(buf);
        } else if (strcmp(mode, "stderr") == 0) {
                if (write(2, arg, strlen(arg)) < 0)
                        return 2;
                put_str("done");
        } else if (strcmp(mode, "argv") == 0) {
                size_t len = 0;
                buf[0] = 0;
                for (int a = 0; a < argc; a++)
                        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", a ? "|" : "",
                                                argv[a]);
                put_str(buf);
        } else if (strcmp(mode, "sigpipe") == 0) {
                put_str("ready");
        } else if (strcmp(mode, "pid") == 0) {
                snprintf(buf, sizeof(buf), "%d %d", (int)getpid(), (int)getpgrp());
                put_str(buf);
        } else {
                return 2;
        }
        return echo_loop(-1);
}
