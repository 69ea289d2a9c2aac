/* SPDX-License-Identifier: MIT */
/* Test helper for socket activation: a service as sd_listen_fds(3) sees it.
 *
 *   sock_probe serve N     checks LISTEN_PID is its pid, then serves N clients on
 *                          the passed fds (stream: accept, reply, close;
 *                          datagram: reply to the sender; FIFO: read a line and
 *                          append the answer to $PROBE_OUT), then exits 0.  The
 *                          answer: "pid=P fds=N names=A:B listen_pid=ok|bad got=LINE".
 *   sock_probe inetd       Accept=yes: reads one line on stdin, answers on stdout
 *                          (same answer plus remote=ADDR:PORT), waits for EOF.
 *   sock_probe store FILE  first run (no fd named "kept"): stores a memfd holding
 *                          "kept-data" with sd_notify READY=1 FDSTORE=1 FDNAME=kept
 *                          (Type=notify) and sleeps; a later run: writes what the
 *                          kept fd holds and LISTEN_FDNAMES to FILE, then sleeps.
 *   sock_probe forking PIDFILE
 *                          Type=forking: checks LISTEN_PID is its pid, forks a
 *                          daemon that writes its pid to PIDFILE and serves one
 *                          client as `serve 1` (its answer's listen_pid says what
 *                          the starter saw), exits 0 once PIDFILE is written. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char answer[1024];

static void make_answer(const char *got)
{
        const char *fds = getenv("LISTEN_FDS");
        const char *names = getenv("LISTEN_FDNAMES");
        const char *lp = getenv("LISTEN_PID");
        const char *ra = getenv("REMOTE_ADDR"), *rp = getenv("REMOTE_PORT");
        snprintf(answer, sizeof(answer), "pid=%ld fds=%s names=%s listen_pid=%s got=%s%s%s%s%s\n",
                 (long)getpid(), fds ? fds : "-", names ? names : "-",
                 lp && atol(lp) == (long)getpid() ? "ok" : "bad", got, ra ? " remote=" : "",
                 ra ? ra : "", rp ? ":" : "", rp ? rp : "");
}

static int nfds(void)
{
        const char *s = getenv("LISTEN_FDS");
        return s ? atoi(s) : 0;
}

static int serve(int n)
{
        int count = nfds();
        if (count <= 0)
                return 2;
        struct pollfd p[16];
        for (int i = 0; i < count && i < 16; i++)
                p[i] = (struct pollfd){.fd = 3 + i, .events = POLLIN};
        while (n > 0) {
                if (poll(p, (nfds_t)(count < 16 ? count : 16), -1) < 0)
                        return 2;
                for (int i = 0; i < count && i < 16 && n > 0; i++) {
                        if (!(p[i].revents & POLLIN))
                                continue;
                        int fd = p[i].fd, type = 0;
                        socklen_t tl = sizeof(type);
                        struct stat st;
                        fstat(fd, &st);
                        char buf[256];
                        if (S_ISFIFO(st.st_mode)) {
                                ssize_t r = read(fd, buf, sizeof(buf) - 1);
                                buf[r > 0 ? r : 0] = 0;
                                buf[strcspn(buf, "\n")] = 0;
                                make_answer(buf);
                                FILE *f = fopen(getenv("PROBE_OUT"), "a");
                                if (f) {
                                        fputs(answer, f);
                                        fclose(f);
                                }
                        } else if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
                                   type == SOCK_DGRAM) {
                                struct sockaddr_storage ss;
                                socklen_t sl = sizeof(ss);
                                ssize_t r = recvfrom(fd, buf, sizeof(buf) - 1, 0,
                                                     (struct sockaddr *)&ss, &sl);
                                buf[r > 0 ? r : 0] = 0;
                                make_answer(buf);
                                sendto(fd, answer, strlen(answer), 0, (struct sockaddr *)&ss, sl);
                        } else {
                                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                                if (c < 0)
                                        continue;
                                ssize_t r = read(c, buf, sizeof(buf) - 1);
                                buf[r > 0 ? r : 0] = 0;
                                buf[strcspn(buf, "\n")] = 0;
                                make_answer(buf);
                                (void)!write(c, answer, strlen(answer));
                                close(c);
                        }
                        n--;
                }
        }
        return 0;
}

static int inetd(void)
{
        char buf[256];
        ssize_t r = read(0, buf, sizeof(buf) - 1);
        buf[r > 0 ? r : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
        make_answer(buf);
        (void)!write(1, answer, strlen(answer));
        while (read(0, buf, sizeof(buf)) > 0)
                ;
        return 0;
}

static int store(const char *file)
{
        const char *names = getenv("LISTEN_FDNAMES");
        int count = nfds();
        /* find the fd named "kept" among LISTEN_FDNAMES */
        int idx = 0;
        for (const char *p = names; p && *p && idx < count; idx++) {
                size_t l = strcspn(p, ":");
                if (l == 4 && memcmp(p, "kept", 4) == 0) {
                        char buf[64] = "";
                        ssize_t r = pread(3 + idx, buf, sizeof(buf) - 1, 0);
                        buf[r > 0 ? r : 0] = 0;
                        FILE *f = fopen(file, "w");
                        if (!f)
                                return 2;
                        fprintf(f, "%s names=%s\n", buf, names);
                        fclose(f);
                        for (;;)
                                pause();
                }
                p += l + (p[l] == ':');
        }
        int m = memfd_create("kept", MFD_CLOEXEC);
        if (m < 0 || write(m, "kept-data", 9) != 9)
                return 2;
        const char *path = getenv("NOTIFY_SOCKET");
        if (!path)
                return 4;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t pl = strlen(path);
        memcpy(sa.sun_path, path, pl);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0;
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        char msg[] = "READY=1\nFDSTORE=1\nFDNAME=kept";
        struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg) - 1};
        union {
                struct cmsghdr h;
                char b[CMSG_SPACE(sizeof(int))];
        } cm;
        memset(&cm, 0, sizeof(cm));
        struct msghdr mh = {.msg_name = &sa,
                            .msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl),
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cm.b,
                            .msg_controllen = sizeof(cm.b)};
        struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &m, sizeof(int));
        if (sendmsg(s, &mh, 0) < 0)
                return 5;
        close(m);
        /* Type=notify: "active" tells the test the datagram (and the fd) arrived */
        for (;;)
                pause();
}

static int forking(const char *pidfile)
{
        const char *lp = getenv("LISTEN_PID");
        int ok = lp && atol(lp) == (long)getpid();
        int p[2];
        if (pipe(p) < 0)
                return 2;
        pid_t pid = fork();
        if (pid < 0)
                return 2;
        if (pid == 0) {
                close(p[0]);
                setsid();
                char me[24];
                snprintf(me, sizeof(me), "%ld", (long)getpid());
                /* as a daemon that read its fds before forking: they are its own now */
                setenv("LISTEN_PID", ok ? me : "0", 1);
                FILE *f = fopen(pidfile, "w");
                if (!f)
                        _exit(2);
                fprintf(f, "%s\n", me);
                fclose(f);
                close(p[1]);
                _exit(serve(1));
        }
        close(p[1]);
        char c;
        (void)!read(p[0], &c, 1); /* EOF once the pid file is written */
        return 0;
}

int main(int argc, char **argv)
{
        if (argc >= 3 && strcmp(argv[1], "forking") == 0)
                return forking(argv[2]);
        if (argc >= 3 && strcmp(argv[1], "serve") == 0)
                return serve(atoi(argv[2]));
        if (argc >= 2 && strcmp(argv[1], "inetd") == 0)
                return inetd();
        if (argc >= 3 && strcmp(argv[1], "store") == 0)
                return store(argv[2]);
        fprintf(stderr, "usage: sock_probe serve N | inetd | store FILE | forking PIDFILE\n");
        return 64;
}
