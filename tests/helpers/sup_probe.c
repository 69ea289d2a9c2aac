/* SPDX-License-Identifier: MIT */
/* Test helper for the sup layer: a service that runs a list of steps.
 *
 *   sup_probe STEP...
 *     send:TEXT        sd_notify TEXT ("\n" in TEXT separates lines) on $NOTIFY_SOCKET
 *     fsend:TEXT       the same, from a forked child (another pid) that stays alive
 *     mainchild        fork a child that sleeps; send MAINPID=<its pid>
 *     fd:N             write a newline on fd N (s6 notification-fd)
 *     daemon:FILE      setsid + double fork a grandchild that sleeps forever;
 *                      its pid goes to FILE (written atomically, then renamed)
 *     orphans:N        fork N children that each fork a child that exits at once
 *     sleep:MS         sleep
 *     exit:N           exit with N
 *     kill:SIG         kill itself with SIG
 *     pause            sleep until a signal kills it */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int notify(const char *text)
{
        const char *path = getenv("NOTIFY_SOCKET");
        if (!path || !*path)
                return -1;
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        size_t n = strlen(path);
        if (n >= sizeof(sa.sun_path))
                return -1;
        memcpy(sa.sun_path, path, n);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0;
        char buf[4096];
        size_t len = 0;
        for (const char *p = text; *p && len + 1 < sizeof(buf); p++) {
                if (p[0] == '\\' && p[1] == 'n') {
                        buf[len++] = '\n';
                        p++;
                } else {
                        buf[len++] = *p;
                }
        }
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        ssize_t r = sendto(fd, buf, len, 0, (struct sockaddr *)&sa,
                           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
        close(fd);
        return r < 0 ? -1 : 0;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strncmp(a, "send:", 5) == 0) {
                        if (notify(a + 5) < 0)
                                return 90;
                } else if (strncmp(a, "fsend:", 6) == 0) {
                        /* The sender stays alive (until the service's stop kills its
                         * group): an access check identifies a sender by its pid, which
                         * an exited, reaped sender no longer has (systemd's race too). */
                        pid_t p = fork();
                        if (p == 0) {
                                if (notify(a + 6) < 0)
                                        _exit(1);
                                for (;;)
                                        pause();
                        }
                } else if (strcmp(a, "mainchild") == 0) {
                        pid_t p = fork();
                        if (p == 0) {
                                for (;;)
                                        pause();
                        }
                        char m[64];
                        snprintf(m, sizeof(m), "MAINPID=%ld", (long)p);
                        if (notify(m) < 0)
                                return 90;
                } else if (strncmp(a, "fd:", 3) == 0) {
                        if (write(atoi(a + 3), "\n", 1) != 1)
                                return 91;
                } else if (strncmp(a, "daemon:", 7) == 0) {
                        pid_t p = fork();
                        if (p == 0) {
                                setsid();
                                pid_t q = fork();
                                if (q == 0) {
                                        char tmp[4200];
                                        snprintf(tmp, sizeof(tmp), "%s.tmp", a + 7);
                                        FILE *f = fopen(tmp, "w");
                                        if (f) {
                                                fprintf(f, "%ld\n", (long)getpid());
                                                fclose(f);
                                                rename(tmp, a + 7);
                                        }
                                        for (;;)
                                                pause();
                                }
                                _exit(0);
                        }
                        int st;
                        waitpid(p, &st, 0);
                        /* return once the grandchild is known, so the test can look */
                        for (int k = 0; k < 5000 && access(a + 7, F_OK) != 0; k++)
                                sleep_ms(1);
                } else if (strncmp(a, "orphans:", 8) == 0) {
                        int n = atoi(a + 8);
                        for (int k = 0; k < n; k++) {
                                pid_t p = fork();
                                if (p == 0) {
                                        if (fork() == 0)
                                                _exit(0);
                                        _exit(0);
                                }
                                int st;
                                waitpid(p, &st, 0);
                        }
                } else if (strncmp(a, "sleep:", 6) == 0) {
                        sleep_ms(atol(a + 6));
                } else if (strncmp(a, "exit:", 5) == 0) {
                        return atoi(a + 5);
                } else if (strncmp(a, "kill:", 5) == 0) {
                        kill(getpid(), atoi(a + 5));
                        sleep_ms(1000);
                } else if (strcmp(a, "pause") == 0) {
                        for (;;)
                                pause();
                } else {
                        fprintf(stderr, "sup_probe: unknown step %s\n", a);
                        return 100;
                }
        }
        return 0;
}
