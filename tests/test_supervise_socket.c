/* SPDX-License-Identifier: MIT */
/* Socket activation in `portkit supervise` through the real binaries: a
 * connection made before the service started is served (Unix path, TCP on
 * 127.0.0.1, datagram, FIFO, abstract, seqpacket), LISTEN_PID/FDS/FDNAMES as
 * the child sees them, Accept=yes instances side by side, the sockets kept
 * across restarts, FDSTORE=1 across a restart, bad socket units refused with
 * their file, the escript control client; and below it pk_cmd_env_pid() and
 * pk_fd_inet_listen(). */
#include <portkit.h>

#include <criterion/criterion.h>

#include "sv_testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PORTKIT SVT_PORTKIT
#define PROBE PK_BUILD_DIR "/tests/helpers/sock_probe"

/* ---- one supervise per test, cleaned up by fini even when an assertion fails ---------- */

static struct sv S;

/* The shared helpers (sv_testutil.h, testutil.h) on this file's one supervise. */
#define write_file(...) tu_write_file(S.units, __VA_ARGS__)
#define slurp(path) tu_slurp_or_empty(path)
#define nap() svt_nap()
#define field(...) svt_field(&S, __VA_ARGS__)
#define wait_field(...) svt_wait_field(&S, __VA_ARGS__)
#define sv_start(config) svt_start(&S, (const char *const[]){(config), NULL})
#define sv_stop() svt_stop(&S)
#define ctl(out, ...) svt_ctl(&S, out, __VA_ARGS__, (const char *)NULL)

static void setup(void)
{
        svt_init(&S, "/tmp/pk-svs-XXXXXX", false);
}

static void teardown(void)
{
        svt_cleanup(&S);
}

/* Starts supervise on the one unit file S.units/name, then (key not NULL)
 * waits until the unit's key is want. */
static void sv_start_unit(const char *name, const char *key, const char *want)
{
        char cfg[512];
        snprintf(cfg, sizeof(cfg), "%s/%s", S.units, name);
        sv_start(cfg);
        if (key)
                wait_field(name, key, want);
}

/* Lists supervise's descriptors on stderr (what a leak check failed on). */
static void show_fds(void)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)pk_proc_pid(S.p));
        (void)!system(cmd);
}

/* A free TCP port on 127.0.0.1 (bound, read, released). */
static unsigned free_port(void)
{
        int fd = pk_fd_tcp_listen("127.0.0.1", 0, 0, 0);
        cr_assert_geq(fd, 0);
        int port = pk_fd_local_port(fd);
        pk_fd_close(fd);
        cr_assert_gt(port, 0);
        return (unsigned)port;
}

/* Sends line on fd and reads the answer until EOF or a newline. */
static char *ask(int fd, const char *line)
{
        cr_assert_eq(pk_fd_write_all(fd, line, strlen(line), NULL), (ssize_t)strlen(line));
        static char buf[1024];
        size_t n = 0;
        while (n < sizeof(buf) - 1) {
                ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (r <= 0)
                        break;
                n += (size_t)r;
                if (memchr(buf, '\n', n))
                        break;
        }
        buf[n] = 0;
        return buf;
}

static long answer_pid(const char *a)
{
        const char *p = strstr(a, "pid=");
        return p ? atol(p + 4) : 0;
}

/* Descriptors the supervise process holds now. */
static int sv_fds(void)
{
        return tu_count_fds_of(pk_proc_pid(S.p));
}

/* supervise's descriptor count once it is down to want (30 s): a ctl
 * client's connection or a refused fd may still be open for a moment after a
 * request returns (also when `want` was counted); a leaked one never goes. */
static int sv_fds_settle(int want)
{
        int n = sv_fds();
        for (int i = 0; i < 600 && n > want; i++) {
                nap();
                n = sv_fds();
        }
        return n;
}

/* ---- Accept=no --------------------------------------------------------------------------- */

Test(supervise_socket, connection_made_before_the_service_started_is_served, .init = setup,
     .fini = teardown, .timeout = 120)
{
        unsigned port = free_port();
        write_file("web.socket",
                   "[Socket]\nListenStream=%s/web.sock\nListenStream=127.0.0.1:%u\n"
                   "ListenDatagram=%s/dg.sock\nFileDescriptorName=web\nSocketMode=0600\n",
                   S.dir, port, S.dir);
        write_file("web.service", "[Service]\nExecStart=" PROBE " serve 3\nRestart=no\n");
        sv_start_unit("web.socket", NULL, NULL);
        /* not started eagerly: the socket listens, the service is down */
        wait_field("web.socket", "state", "listening");
        wait_field("web.service", "state", "down");
        char path[512];
        snprintf(path, sizeof(path), "%s/web.sock", S.dir);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600, "SocketMode=0600: %o", st.st_mode & 0777);

        /* connected (and queued) while nothing serves it yet */
        int u = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(u, 0, "%s", pk_strerror(u));
        int t = pk_fd_tcp_connect("127.0.0.1", port, 0);
        cr_assert_geq(t, 0, "%s", pk_strerror(t));
        char *a = strdup(ask(u, "over-unix\n"));
        cr_assert(strstr(a, "got=over-unix"), "%s", a);
        cr_assert(strstr(a, "listen_pid=ok"), "LISTEN_PID is not the child's pid: %s", a);
        cr_assert(strstr(a, "fds=3 "), "%s", a);
        cr_assert(strstr(a, "names=web:web:web "), "%s", a);
        char *b = ask(t, "over-tcp\n");
        cr_assert(strstr(b, "got=over-tcp"), "%s", b);
        cr_assert_eq(answer_pid(a), answer_pid(b), "one service serves every socket");
        pk_fd_close(u);
        pk_fd_close(t);

        /* the datagram socket, to the same service */
        int d = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un me = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
        cr_assert_lt(strlen(S.dir), 64);
        snprintf(me.sun_path, sizeof(me.sun_path), "%.64s/me.sock", S.dir);
        snprintf(to.sun_path, sizeof(to.sun_path), "%.64s/dg.sock", S.dir);
        cr_assert_eq(bind(d, (struct sockaddr *)&me, sizeof(me)), 0);
        cr_assert_eq(sendto(d, "dgram", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
        char buf[512];
        ssize_t n = recv(d, buf, sizeof(buf) - 1, 0);
        cr_assert_gt(n, 0);
        buf[n] = 0;
        cr_assert(strstr(buf, "got=dgram"), "%s", buf);
        close(d);
        free(a);
        wait_field("web.service", "state", "down");
        sv_stop();
}

/* Two hundred socket units (the daemon once refused more than 64), each a
 * Unix stream socket for its own service: all listen, and connections to
 * some of them start those services only, each with its one socket. */
Test(supervise_socket, two_hundred_socket_units_listen_and_serve, .init = setup, .fini = teardown,
     .timeout = 300)
{
        enum { N = 200 };
        for (int i = 0; i < N; i++) {
                char name[32];
                snprintf(name, sizeof(name), "s%03d.socket", i);
                write_file(name, "[Socket]\nListenStream=%s/s%03d.sock\nAccept=no\n", S.dir, i);
                snprintf(name, sizeof(name), "s%03d.service", i);
                write_file(name, "[Service]\nExecStart=" PROBE " serve 1\nRestart=no\n");
        }
        sv_start(S.units);
        char *out = NULL;
        (void)ctl(&out, "status"); /* not 0: the services are down */
        int listening = 0;
        for (const char *p = out; (p = strstr(p, "state: listening")); p++)
                listening++;
        cr_assert_eq(listening, N, "%.3000s", out);
        free(out);
        static const int some[] = {0, 1, 57, 128, 199};
        for (size_t k = 0; k < sizeof(some) / sizeof(some[0]); k++) {
                char path[512], line[64], unit[32];
                snprintf(path, sizeof(path), "%s/s%03d.sock", S.dir, some[k]);
                int fd = pk_fd_unix_connect(path, SOCK_STREAM, 0);
                cr_assert_geq(fd, 0, "%s: %s", path, pk_strerror(fd));
                snprintf(line, sizeof(line), "hello-%d\n", some[k]);
                char *a = ask(fd, line);
                pk_fd_close(fd);
                snprintf(line, sizeof(line), "got=hello-%d", some[k]);
                cr_assert(strstr(a, line), "%s: %s", path, a);
                cr_assert(strstr(a, "fds=1 "), "one socket each: %s", a);
                cr_assert(strstr(a, "listen_pid=ok"), "%s", a);
                /* served one client and ended: down, and its socket listens again */
                snprintf(unit, sizeof(unit), "s%03d.service", some[k]);
                wait_field(unit, "state", "down");
                snprintf(unit, sizeof(unit), "s%03d.socket", some[k]);
                wait_field(unit, "state", "listening");
        }
        /* the others were never started */
        char buf[64];
        field("s100.service", "pid", buf, sizeof(buf));
        cr_assert_leq(atol(buf), 0, "s100 ran: pid %s", buf);
        sv_stop();
}

Test(supervise_socket, fifo_abstract_and_seqpacket, .init = setup, .fini = teardown, .timeout = 120)
{
        char abs[64];
        snprintf(abs, sizeof(abs), "pk-svs-%d", (int)getpid());
        write_file("many.socket",
                   "[Socket]\nListenFIFO=%s/fifo\nListenStream=@%s\nListenSequentialPacket=%s/"
                   "seq.sock\nService=probe.service\n",
                   S.dir, abs, S.dir);
        write_file("probe.service",
                   "[Service]\nEnvironment=PROBE_OUT=%s/fifo.out\nExecStart=" PROBE " serve 3\n",
                   S.dir);
        sv_start_unit("many.socket", "state", "listening");
        char name[80];
        snprintf(name, sizeof(name), "@%s", abs);
        int a = pk_fd_unix_connect(name, SOCK_STREAM, 0);
        cr_assert_geq(a, 0, "%s", pk_strerror(a));
        char *r = ask(a, "abstract\n");
        cr_assert(strstr(r, "got=abstract") && strstr(r, "fds=3 "), "%s", r);
        cr_assert(strstr(r, "names=many.socket:many.socket:many.socket"), "%s", r);
        pk_fd_close(a);
        char path[512];
        snprintf(path, sizeof(path), "%s/seq.sock", S.dir);
        int q = pk_fd_unix_connect(path, SOCK_SEQPACKET, 0);
        cr_assert_geq(q, 0, "%s", pk_strerror(q));
        r = ask(q, "seqpacket\n");
        cr_assert(strstr(r, "got=seqpacket"), "%s", r);
        pk_fd_close(q);
        snprintf(path, sizeof(path), "%s/fifo", S.dir);
        int f = pk_fd_fifo_open(path, PK_FD_WRITE, 0);
        cr_assert_geq(f, 0, "%s", pk_strerror(f));
        cr_assert_eq(write(f, "fifo\n", 5), 5);
        pk_fd_close(f);
        snprintf(path, sizeof(path), "%s/fifo.out", S.dir);
        char *out = NULL;
        for (int i = 0; i < 600; i++) {
                free(out);
                out = slurp(path);
                if (strstr(out, "got=fifo"))
                        break;
                nap();
        }
        cr_assert(strstr(out, "got=fifo"), "%s", out);
        free(out);
        sv_stop();
}

Test(supervise_socket, restart_keeps_the_socket_and_queued_connections, .init = setup,
     .fini = teardown, .timeout = 120)
{
        unsigned port = free_port();
        write_file("one.socket", "[Socket]\nListenStream=127.0.0.1:%u\n", port);
        /* serves one connection per run; Restart=always brings it back on the same socket */
        write_file("one.service",
                   "[Service]\nExecStart=" PROBE " serve 1\nRestart=always\nRestartSec=0\n");
        sv_start_unit("one.socket", "state", "listening");
        /* both connect before any service runs: the second waits through the restart */
        int c1 = pk_fd_tcp_connect("127.0.0.1", port, 0);
        int c2 = pk_fd_tcp_connect("127.0.0.1", port, 0);
        cr_assert(c1 >= 0 && c2 >= 0);
        char *a = strdup(ask(c1, "first\n"));
        char *b = strdup(ask(c2, "second\n"));
        cr_assert(strstr(a, "got=first"), "%s", a);
        cr_assert(strstr(b, "got=second"), "%s", b);
        cr_assert_neq(answer_pid(a), answer_pid(b), "the second was served by the restarted run");
        /* and the restarted service still has the same socket (LISTEN_FDS=1, not rebound) */
        cr_assert(strstr(b, "fds=1 ") && strstr(b, "listen_pid=ok"), "%s", b);
        char restarts[32];
        field("one.service", "restarts", restarts, sizeof(restarts));
        cr_assert_geq(atoi(restarts), 1, "%s", restarts);
        free(a);
        free(b);
        pk_fd_close(c1);
        pk_fd_close(c2);
        sv_stop();
}

Test(supervise_socket, daemon_reload_adds_a_socket_unit, .init = setup, .fini = teardown,
     .timeout = 120)
{
        write_file("rl.service", "[Service]\nExecStart=/bin/sleep 100\n");
        sv_start(S.units); /* a directory: its services and sockets */
        wait_field("rl.service", "active", "active");
        write_file("late.socket", "[Socket]\nListenStream=%s/late.sock\n", S.dir);
        write_file("late.service", "[Service]\nExecStart=" PROBE " serve 1\n");
        cr_assert_eq(ctl(NULL, "daemon-reload"), 0);
        wait_field("late.socket", "state", "listening");
        /* in a directory, a service with a socket waits for its first connection */
        wait_field("late.service", "state", "down");
        char path[512];
        snprintf(path, sizeof(path), "%s/late.sock", S.dir);
        int u = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(u, 0, "%s", pk_strerror(u));
        char *r = ask(u, "late\n");
        cr_assert(strstr(r, "got=late") && strstr(r, "listen_pid=ok"), "%s", r);
        pk_fd_close(u);
        sv_stop();
}

/* The inode of the listening Unix socket bound to path (/proc/net/unix), 0 if none. */
static unsigned long listening_inode(const char *path)
{
        FILE *f = fopen("/proc/net/unix", "r");
        cr_assert(f);
        char line[1024];
        unsigned long found = 0;
        while (!found && fgets(line, sizeof(line), f)) {
                unsigned long flags = 0, ino = 0;
                char p[600] = "";
                /* Num RefCount Protocol Flags Type St Inode Path */
                if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu %599s", &flags, &ino, p) == 3 &&
                    (flags & 0x10000) && strcmp(p, path) == 0)
                        found = ino;
        }
        fclose(f);
        return found;
}

/* A connection to path is served by a service of the socket unit (one line asked). */
static void served(const char *path, const char *what)
{
        int u = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(u, 0, "%s: %s", path, pk_strerror(u));
        char line[64];
        snprintf(line, sizeof(line), "%s\n", what);
        char *r = ask(u, line);
        char want[80];
        snprintf(want, sizeof(want), "got=%s", what);
        cr_assert(strstr(r, want), "%s: %s", path, r);
        pk_fd_close(u);
}

Test(supervise_socket, ctl_stop_closes_and_start_makes_the_sockets, .init = setup, .fini = teardown,
     .timeout = 120)
{
        unsigned port = free_port();
        write_file("ss.socket", "[Socket]\nListenStream=%s/ss.sock\nListenStream=127.0.0.1:%u\n",
                   S.dir, port);
        write_file("ss.service", "[Service]\nExecStart=" PROBE " serve 1\n");
        sv_start_unit("ss.socket", "state", "listening");
        char path[512];
        snprintf(path, sizeof(path), "%s/ss.sock", S.dir);
        unsigned long first = listening_inode(path);
        cr_assert_neq(first, 0);
        int before = sv_fds();
        cr_assert_eq(ctl(NULL, "stop", "ss.socket"), 0);
        wait_field("ss.socket", "active", "inactive");
        /* stopped: closed, as systemd does (the supervisor's copies too) */
        cr_assert_eq(listening_inode(path), 0, "a stopped socket unit still listens");
        int u = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_eq(u, -ECONNREFUSED, "%s", pk_strerror(u));
        int t = pk_fd_tcp_connect("127.0.0.1", port, 0);
        cr_assert_eq(t, -ECONNREFUSED, "%s", pk_strerror(t));
        cr_assert_leq(sv_fds_settle(before - 4), before - 4, "2 sockets and sup's 2 copies");
        wait_field("ss.service", "state", "down");
        /* a daemon-reload of the changed file leaves it stopped */
        write_file("ss.socket",
                   "[Socket]\n# changed\nListenStream=%s/ss.sock\nListenStream=127.0.0.1:%u\n",
                   S.dir, port);
        cr_assert_eq(ctl(NULL, "daemon-reload"), 0);
        wait_field("ss.socket", "active", "inactive");
        cr_assert_eq(listening_inode(path), 0, "a reload started a stopped socket unit");
        /* started: made again, watched, served */
        cr_assert_eq(ctl(NULL, "start", "ss.socket"), 0);
        wait_field("ss.socket", "state", "listening");
        cr_assert_neq(listening_inode(path), 0);
        cr_assert_neq(listening_inode(path), first, "a new socket");
        served(path, "again");
        wait_field("ss.service", "state", "down");
        wait_field("ss.socket", "state", "listening");
        t = pk_fd_tcp_connect("127.0.0.1", port, 0);
        cr_assert_geq(t, 0, "%s", pk_strerror(t));
        char *r = ask(t, "tcp\n");
        cr_assert(strstr(r, "got=tcp") && strstr(r, "fds=2 "), "%s", r);
        pk_fd_close(t);
        sv_stop();
}

Test(supervise_socket, daemon_reload_diffs_socket_units, .init = setup, .fini = teardown,
     .timeout = 180)
{
        unsigned p1 = free_port(), p2 = free_port();
        while (p2 == p1)
                p2 = free_port();
        char keep[512], stay[512], gone[512], add[512];
        snprintf(keep, sizeof(keep), "%s/keep.sock", S.dir);
        snprintf(stay, sizeof(stay), "%s/stay.sock", S.dir);
        snprintf(gone, sizeof(gone), "%s/gone.sock", S.dir);
        snprintf(add, sizeof(add), "%s/add.sock", S.dir);
        write_file("keep.socket", "[Socket]\nListenStream=%s\n", keep);
        write_file("chg.socket", "[Socket]\nListenStream=%s\nListenStream=127.0.0.1:%u\n", stay,
                   p1);
        write_file("gone.socket", "[Socket]\nListenStream=%s\n", gone);
        const char *svc = "[Service]\nExecStart=" PROBE " serve 1\n";
        write_file("keep.service", "%s", svc);
        write_file("chg.service", "%s", svc);
        write_file("gone.service", "%s", svc);
        write_file("add.service", "%s", svc);
        sv_start(S.units);
        wait_field("keep.socket", "state", "listening");
        wait_field("chg.socket", "state", "listening");
        unsigned long keep_ino = listening_inode(keep), stay_ino = listening_inode(stay);
        cr_assert(keep_ino && stay_ino && listening_inode(gone));

        /* changed port, a removed unit, an added one */
        write_file("chg.socket", "[Socket]\nListenStream=%s\nListenStream=127.0.0.1:%u\n", stay,
                   p2);
        char rm[600];
        snprintf(rm, sizeof(rm), "%s/gone.socket", S.units);
        cr_assert_eq(unlink(rm), 0);
        write_file("add.socket", "[Socket]\nListenStream=%s\n", add);
        /* a client connected just before the reload waits in the backlog through it */
        int early = pk_fd_unix_connect(keep, SOCK_STREAM, 0);
        cr_assert_geq(early, 0);
        char *out = NULL;
        cr_assert_eq(ctl(&out, "daemon-reload"), 0, "%s", out);
        free(out);
        char *r = ask(early, "during\n");
        cr_assert(strstr(r, "got=during"), "%s", r);
        pk_fd_close(early);
        /* unchanged: the very same socket; the changed unit's unchanged address too */
        cr_assert_eq(listening_inode(keep), keep_ino, "keep.socket was made again");
        cr_assert_eq(listening_inode(stay), stay_ino, "an unchanged address was made again");
        /* the changed port: the new one served, the old refused */
        wait_field("chg.socket", "state", "listening");
        int o = pk_fd_tcp_connect("127.0.0.1", p1, 0);
        cr_assert_eq(o, -ECONNREFUSED, "the old port: %s", pk_strerror(o));
        int t = pk_fd_tcp_connect("127.0.0.1", p2, 0);
        cr_assert_geq(t, 0, "the new port: %s", pk_strerror(t));
        r = ask(t, "newport\n");
        cr_assert(strstr(r, "got=newport") && strstr(r, "fds=2 "), "%s", r);
        pk_fd_close(t);
        wait_field("chg.service", "state", "down");
        served(stay, "stay");
        /* removed: closed; added: made and watched */
        cr_assert_eq(listening_inode(gone), 0, "gone.socket still listens");
        int g = pk_fd_unix_connect(gone, SOCK_STREAM, 0);
        cr_assert_eq(g, -ECONNREFUSED, "%s", pk_strerror(g));
        out = NULL;
        cr_assert_neq(ctl(&out, "status", "gone.socket"), 0, "%s", out);
        free(out);
        wait_field("add.socket", "state", "listening");
        served(add, "added");

        /* a socket that cannot be made refuses the whole reload: nothing changes */
        int busy = pk_fd_tcp_listen("127.0.0.1", 0, 0, 0);
        cr_assert_geq(busy, 0);
        write_file("bad.socket", "[Socket]\nListenStream=127.0.0.1:%d\nService=add.service\n",
                   pk_fd_local_port(busy));
        write_file("chg.socket", "[Socket]\nListenStream=%s\nListenStream=127.0.0.1:%u\n", stay,
                   p1);
        snprintf(rm, sizeof(rm), "%s/keep.socket", S.units);
        cr_assert_eq(unlink(rm), 0);
        out = NULL;
        cr_assert_neq(ctl(&out, "daemon-reload"), 0, "%s", out);
        cr_assert(strstr(out, "bad.socket") && strstr(out, "bind"), "%s", out);
        free(out);
        pk_fd_close(busy);
        out = NULL;
        cr_assert_neq(ctl(&out, "status", "bad.socket"), 0, "%s", out);
        free(out);
        cr_assert_eq(listening_inode(keep), keep_ino, "a refused reload removed keep.socket");
        o = pk_fd_tcp_connect("127.0.0.1", p1, 0);
        cr_assert_eq(o, -ECONNREFUSED, "a refused reload made the port: %s", pk_strerror(o));
        served(keep, "still");
        wait_field("keep.service", "state", "down");
        t = pk_fd_tcp_connect("127.0.0.1", p2, 0);
        cr_assert_geq(t, 0, "%s", pk_strerror(t));
        r = ask(t, "p2\n");
        cr_assert(strstr(r, "got=p2"), "%s", r);
        pk_fd_close(t);
        sv_stop();
}

/* ---- Accept=yes ------------------------------------------------------------------------------ */

Test(supervise_socket, accept_yes_runs_an_instance_per_connection, .init = setup, .fini = teardown,
     .timeout = 120)
{
        unsigned port = free_port();
        write_file("hi.socket", "[Socket]\nListenStream=127.0.0.1:%u\nAccept=yes\n", port);
        write_file("hi@.service", "[Service]\nExecStart=" PROBE " inetd\n");
        sv_start_unit("hi.socket", "state", "listening");
        int before = sv_fds();
        int a = pk_fd_tcp_connect("127.0.0.1", port, 0);
        int b = pk_fd_tcp_connect("127.0.0.1", port, 0);
        cr_assert(a >= 0 && b >= 0);
        char *ra = strdup(ask(a, "A\n"));
        char *rb = strdup(ask(b, "B\n"));
        cr_assert(strstr(ra, "got=A") && strstr(rb, "got=B"), "%s / %s", ra, rb);
        long pa = answer_pid(ra), pb = answer_pid(rb);
        cr_assert_neq(pa, pb, "each connection has its own instance");
        /* both instances are alive at once: each waits for its client's EOF */
        cr_assert_eq(kill((pid_t)pa, 0), 0);
        cr_assert_eq(kill((pid_t)pb, 0), 0);
        cr_assert(strstr(ra, "fds=1 names=connection listen_pid=ok"), "%s", ra);
        cr_assert(strstr(ra, " remote=127.0.0.1:"), "REMOTE_ADDR/PORT: %s", ra);
        wait_field("hi.socket", "connections", "2");
        /* systemd's instance names: NAME@N-LOCAL:PORT-REMOTE:PORT.service */
        char want[2][128];
        for (int k = 0; k < 2; k++)
                snprintf(want[k], sizeof(want[k]), "hi@%d-127.0.0.1:%u-127.0.0.1:%d.service", k,
                         port, pk_fd_local_port(k ? b : a));
        char *log = slurp(S.err);
        cr_assert(strstr(log, want[0]) && strstr(log, want[1]), "%s or %s not in:\n%s", want[0],
                  want[1], log);
        free(log);
        pk_fd_close(a);
        pk_fd_close(b);
        /* ended instances are removed and their connections closed: no fd kept */
        wait_field("hi.socket", "connections", "0");
        if (sv_fds_settle(before) > before) {
                show_fds();
                cr_assert_fail("supervise leaked descriptors");
        }
        free(ra);
        free(rb);
        sv_stop();
}

Test(supervise_socket, accept_yes_unix_instance_is_named_by_the_peer, .init = setup,
     .fini = teardown, .timeout = 120)
{
        write_file("ux.socket", "[Socket]\nListenStream=%s/ux.sock\nAccept=yes\n", S.dir);
        write_file("ux@.service", "[Service]\nExecStart=" PROBE " inetd\n");
        sv_start_unit("ux.socket", "state", "listening");
        char path[512];
        snprintf(path, sizeof(path), "%s/ux.sock", S.dir);
        int u = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(u, 0, "%s", pk_strerror(u));
        char *r = ask(u, "U\n");
        cr_assert(strstr(r, "got=U"), "%s", r);
        /* NAME@N-PID-UID.service: the connecting process and its user */
        char want[128];
        snprintf(want, sizeof(want), "ux@0-%d-%u.service", (int)getpid(), (unsigned)geteuid());
        char *log = slurp(S.err);
        cr_assert(strstr(log, want), "%s not in:\n%s", want, log);
        free(log);
        pk_fd_close(u);
        wait_field("ux.socket", "connections", "0");
        sv_stop();
}

/* 200 connections opened and closed, 20 at a time: supervise's descriptor
 * count comes back to exactly where it was (each instance's connection copy,
 * the supervisor's duplicate and the command's map are all released). */
Test(supervise_socket, accept_yes_instances_leave_no_descriptor, .init = setup, .fini = teardown,
     .timeout = 300)
{
        unsigned port = free_port();
        write_file("many.socket", "[Socket]\nListenStream=127.0.0.1:%u\nAccept=yes\n", port);
        write_file("many@.service", "[Service]\nExecStart=" PROBE " inetd\n");
        sv_start_unit("many.socket", "state", "listening");
        int before = sv_fds_settle(sv_fds());
        for (int round = 0; round < 10; round++) {
                int c[20];
                for (int i = 0; i < 20; i++) {
                        c[i] = pk_fd_tcp_connect("127.0.0.1", port, 0);
                        cr_assert_geq(c[i], 0, "%s", pk_strerror(c[i]));
                }
                for (int i = 0; i < 20; i++) {
                        char line[32];
                        snprintf(line, sizeof(line), "r%di%d\n", round, i);
                        char *r = ask(c[i], line);
                        cr_assert(strstr(r, "got=r"), "round %d, %d: %s", round, i, r);
                }
                for (int i = 0; i < 20; i++)
                        pk_fd_close(c[i]);
        }
        wait_field("many.socket", "connections", "0");
        int after = sv_fds_settle(before);
        if (after != before) {
                show_fds();
        }
        cr_assert_eq(after, before, "supervise holds %d descriptors, %d before", after, before);
        sv_stop();
}

Test(supervise_socket, max_connections_refuses_beyond_the_limit, .init = setup, .fini = teardown,
     .timeout = 120)
{
        unsigned port = free_port();
        write_file("mc.socket",
                   "[Socket]\nListenStream=127.0.0.1:%u\nAccept=yes\nMaxConnections=1\n", port);
        write_file("mc@.service", "[Service]\nExecStart=" PROBE " inetd\n");
        sv_start_unit("mc.socket", "state", "listening");
        int a = pk_fd_tcp_connect("127.0.0.1", port, 0);
        cr_assert(strstr(ask(a, "A\n"), "got=A"));
        int b = pk_fd_tcp_connect("127.0.0.1", port, 0);
        char buf[64];
        cr_assert_leq(read(b, buf, sizeof(buf)), 0, "the second connection is closed");
        pk_fd_close(b);
        pk_fd_close(a);
        sv_stop();
}

/* ---- FDSTORE ----------------------------------------------------------------------------------
 */

/* Starts kept.service (a store of 4, FileDescriptorStorePreserve=preserve
 * unless NULL, Restart=always) until active; out: the file its probe writes
 * a stored descriptor's data to. */
static void start_kept(const char *preserve, char *out, size_t size)
{
        snprintf(out, size, "%s/kept.out", S.dir);
        write_file("kept.service",
                   "[Service]\nType=notify\nFileDescriptorStoreMax=4\n%s%s%sExecStart=" PROBE
                   " store %s\nRestart=always\nRestartSec=0\n",
                   preserve ? "FileDescriptorStorePreserve=" : "", preserve ? preserve : "",
                   preserve ? "\n" : "", out);
        sv_start_unit("kept.service", "active", "active");
}

/* Waits for a run that got the stored memfd to write it to out. */
static void wait_kept(const char *out, const char *what)
{
        char *t = svt_wait_text(out, "\n"); /* the probe's whole line */
        cr_assert_str_eq(t, "kept-data names=kept\n", "%s", what);
        free(t);
}

Test(supervise_socket, fdstore_survives_a_restart, .init = setup, .fini = teardown, .timeout = 120)
{
        char out[512];
        start_kept(NULL, out, sizeof(out));
        int before = sv_fds();
        cr_assert_eq(ctl(NULL, "kill", "--signal", "KILL", "kept.service"), 0);
        wait_kept(out, "over a restart");
        /* the stored memfd is the one descriptor supervise holds for it, before and after */
        cr_assert_leq(sv_fds_settle(before), before);
        sv_stop();
}

Test(supervise_socket, fdstore_refused_without_file_descriptor_store_max, .init = setup,
     .fini = teardown, .timeout = 120)
{
        char out[512];
        snprintf(out, sizeof(out), "%s/kept.out", S.dir);
        /* Type=notify alone: NOTIFY_SOCKET is there, but the store is 0 */
        write_file("keep0.service", "[Service]\nType=notify\nExecStart=" PROBE " store %s\n", out);
        sv_start_unit("keep0.service", "active", "active");
        int before = sv_fds();
        cr_assert_eq(ctl(NULL, "restart", "keep0.service"), 0);
        wait_field("keep0.service", "active", "active");
        cr_assert_leq(sv_fds_settle(before), before, "a refused fd is closed");
        char *t = slurp(out);
        cr_assert_str_eq(t, "", "nothing was kept: %s", t);
        free(t);
        sv_stop();
}

/* FileDescriptorStorePreserve=: the store across `ctl stop` + `ctl start`
 * and across an automatic restart (kill -9, Restart=always).  A run that gets
 * the stored memfd writes it to the file and never says READY=1; one that
 * does not stores a new one and becomes active. */
static void store_preserve(const char *preserve, int kept_over_stop, int kept_over_restart)
{
        char out[512];
        start_kept(preserve, out, sizeof(out));
        for (int step = 0; step < 2; step++) {
                int want = step == 0 ? kept_over_stop : kept_over_restart;
                char restarts[32];
                field("kept.service", "restarts", restarts, sizeof(restarts));
                if (step == 0) {
                        cr_assert_eq(ctl(NULL, "stop", "kept.service"), 0);
                        wait_field("kept.service", "state", "down");
                        cr_assert_eq(ctl(NULL, "start", "kept.service"), 0);
                } else {
                        cr_assert_eq(ctl(NULL, "kill", "--signal", "KILL", "kept.service"), 0);
                }
                char *t = NULL;
                if (want) {
                        wait_kept(out, step == 0 ? "over a stop" : "over a restart");
                        return; /* that run never becomes active: the rest is another test */
                }
                if (step == 1) { /* the restart happened: its count went up */
                        char now[32] = "";
                        for (int i = 0; i < 600 && strcmp(now, restarts) == 0; i++) {
                                nap();
                                field("kept.service", "restarts", now, sizeof(now));
                        }
                        cr_assert_str_neq(now, restarts);
                }
                wait_field("kept.service", "active", "active");
                t = slurp(out);
                cr_assert_str_eq(t, "", "step %d: the store was kept: %s", step, t);
                free(t);
        }
        sv_stop();
}

Test(supervise_socket, fdstore_default_is_flushed_by_a_stop, .init = setup, .fini = teardown,
     .timeout = 120)
{
        store_preserve(NULL, 0, 1); /* restart, systemd's default */
}

Test(supervise_socket, fdstore_preserve_yes_survives_a_stop, .init = setup, .fini = teardown,
     .timeout = 120)
{
        store_preserve("yes", 1, 1);
}

Test(supervise_socket, fdstore_preserve_no_is_flushed_by_a_restart, .init = setup, .fini = teardown,
     .timeout = 120)
{
        store_preserve("no", 0, 0);
}

/* `ctl restart` is a restart job (systemd: a job is queued, so the unit's
 * resources are not released): `restart` (the default) and `yes` keep the
 * store over it; `no` drops it at the end of the process all the same
 * (service_enter_dead() releases it whatever comes next). */
static void store_over_ctl_restart(const char *preserve, int kept)
{
        char out[512];
        start_kept(preserve, out, sizeof(out));
        char pid[32];
        field("kept.service", "pid", pid, sizeof(pid));
        cr_assert_eq(ctl(NULL, "restart", "kept.service"), 0);
        if (kept) {
                wait_kept(out, "over ctl restart");
                return; /* that run never becomes active */
        }
        char now[32] = "";
        for (int i = 0; i < 600; i++) {
                field("kept.service", "pid", now, sizeof(now));
                if (now[0] && strcmp(now, pid) != 0)
                        break;
                nap();
        }
        wait_field("kept.service", "active", "active");
        char *t = slurp(out);
        cr_assert_str_eq(t, "", "the store was kept over ctl restart: %s", t);
        free(t);
        sv_stop();
}

Test(supervise_socket, fdstore_default_survives_ctl_restart, .init = setup, .fini = teardown,
     .timeout = 120)
{
        store_over_ctl_restart(NULL, 1);
}

Test(supervise_socket, fdstore_preserve_no_is_flushed_by_ctl_restart, .init = setup,
     .fini = teardown, .timeout = 120)
{
        store_over_ctl_restart("no", 0);
}

/* ---- refused configurations ----------------------------------------------------------------- */

static void refused(const char *file, const char *text, const char *want)
{
        write_file(file, "%s", text);
        char cfg[512];
        snprintf(cfg, sizeof(cfg), "%s/%s", S.units, file);
        char *out = NULL;
        int st = svt_supervise_once(&S, 30000, &out, cfg, (const char *)NULL);
        cr_assert_eq(st, 1, "%s", out);
        cr_assert(strstr(out, want), "wanted '%s' in:\n%s", want, out);
        free(out);
}

Test(supervise_socket, bad_socket_units_are_clear_errors, .init = setup, .fini = teardown,
     .timeout = 120)
{
        write_file("x.service", "[Service]\nExecStart=/bin/true\n");
        char want[600];
        snprintf(want, sizeof(want), "%s/bad1.socket:2: ListenStream", S.units);
        refused("bad1.socket", "[Socket]\nListenStream=127.0.0.1:99999\nService=x.service\n", want);
        snprintf(want, sizeof(want), "%s/bad2.socket:", S.units);
        refused("bad2.socket", "[Socket]\nBacklog=12\n", "bad2.socket:");
        refused("bad3.socket", "[Socket]\nListenDatagram=/tmp/pk-nowhere.sock\nAccept=yes\n",
                "Accept=yes is only for stream and seqpacket sockets");
        /* an address in use: the file, the key, the address and the reason */
        int busy = pk_fd_tcp_listen("127.0.0.1", 0, 0, 0);
        char text[512];
        snprintf(text, sizeof(text), "[Socket]\nListenStream=127.0.0.1:%d\nService=x.service\n",
                 pk_fd_local_port(busy));
        snprintf(want, sizeof(want), "bad4.socket:2: ListenStream= stream 127.0.0.1:%d: bind: ",
                 pk_fd_local_port(busy));
        refused("bad4.socket", text, want);
        pk_fd_close(busy);
        /* StandardInput=socket outside Accept=yes: refused at load, with the file */
        write_file("si.service", "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n");
        snprintf(want, sizeof(want), "%s/si.service: StandardInput=socket: only Accept=yes",
                 S.units);
        snprintf(text, sizeof(text), "[Socket]\nListenStream=%s/si.sock\n", S.dir);
        refused("si.socket", text, want);
}

/* Whether this kernel makes SCTP sockets (the sctp module). */
static bool have_sctp(void)
{
        int fd = socket(AF_INET, SOCK_SEQPACKET | SOCK_CLOEXEC, IPPROTO_SCTP);
        if (fd >= 0)
                close(fd);
        return fd >= 0;
}

/* ListenSequentialPacket= on an IP address and SocketProtocol=sctp make SCTP
 * sockets; a kernel without SCTP (this machine: ESOCKTNOSUPPORT) is a clear
 * error naming the file, the line and the reason. */
// cppcheck-suppress unknownMacro
Test(supervise_socket, sctp_sockets_or_a_clear_error, .init = setup, .fini = teardown,
     .timeout = 120)
{
        write_file("x.service", "[Service]\nExecStart=/bin/sleep 1000\n");
        /* a free port: taken from a TCP listener (SCTP ports are their own, but
         * one free for TCP on loopback is as good a guess as any) */
        int probe = pk_fd_tcp_listen("127.0.0.1", 0, 0, 0);
        cr_assert_geq(probe, 0);
        int port = pk_fd_local_port(probe);
        pk_fd_close(probe);
        char seq[256], stream[256];
        snprintf(seq, sizeof(seq),
                 "[Socket]\n# SCTP, one-to-many\nListenSequentialPacket=127.0.0.1:%d\n"
                 "Service=x.service\n",
                 port);
        snprintf(stream, sizeof(stream),
                 "[Socket]\nSocketProtocol=sctp\nListenStream=127.0.0.1:%d\nService=x.service\n",
                 port);
        /* a protocol that cannot make the type: an error whatever the kernel */
        refused("dg.socket", "[Socket]\nSocketProtocol=sctp\nListenDatagram=127.0.0.1:9\n",
                "dg.socket:3: ListenDatagram= datagram 127.0.0.1:9: SocketProtocol=sctp makes "
                "stream and seqpacket sockets");
        if (!have_sctp()) {
                char want[600];
                snprintf(want, sizeof(want),
                         "%s/seq.socket:3: ListenSequentialPacket= seqpacket 127.0.0.1:%d: SCTP "
                         "not available in this kernel",
                         S.units, port);
                refused("seq.socket", seq, want);
                snprintf(want, sizeof(want),
                         "%s/st.socket:3: ListenStream= stream 127.0.0.1:%d: SCTP not available "
                         "in this kernel",
                         S.units, port);
                refused("st.socket", stream, want);
                return;
        }
        /* With SCTP (not this machine): the sockets listen; an SCTP client
         * associates with each. */
        const char *units[] = {"seq.socket", "st.socket"};
        const char *texts[] = {seq, stream};
        for (int i = 0; i < 2; i++) {
                write_file(units[i], "%s", texts[i]);
                char cfg[512];
                snprintf(cfg, sizeof(cfg), "%s/%s", S.units, units[i]);
                sv_start(cfg);
                int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
                cr_assert_geq(c, 0);
                struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
                sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                cr_assert_eq(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0, "%s: %s",
                             units[i], strerror(errno));
                close(c);
                sv_stop();
        }
}

Test(supervise_socket, not_enforced_socket_keys_are_reported, .init = setup, .fini = teardown,
     .timeout = 120)
{
        write_file("n.socket",
                   "[Socket]\nListenStream=%s/n.sock\nSymlinks=/run/x\n"
                   "DeferAcceptSec=5\nService=ne.service\n",
                   S.dir);
        write_file("ne.service", "[Service]\nExecStart=/bin/sleep 100\n");
        sv_start_unit("n.socket", NULL, NULL);
        char *out = NULL;
        cr_assert_eq(ctl(&out, "status", "n.socket"), 0, "%s", out);
        cr_assert(strstr(out, "Symlinks= of a socket unit is not enforced"), "%s", out);
        cr_assert(strstr(out, "DeferAcceptSec= is not enforced"), "%s", out);
        cr_assert(strstr(out, "listen: stream "), "%s", out);
        free(out);
        sv_stop();
}

/* Type=oneshot and Type=forking run through the unit-exec helper: its readiness
 * pipe is above the listen fds, so the commands get the sockets at fd 3 with
 * LISTEN_PID their own pid. */
static void activated_through_the_helper(const char *type_lines)
{
        write_file("hx.socket", "[Socket]\nListenStream=%s/hx.sock\n", S.dir);
        write_file("hx.service", "[Service]\n%s\n", type_lines);
        sv_start_unit("hx.socket", "state", "listening");
        wait_field("hx.service", "state", "down");
        char path[512];
        snprintf(path, sizeof(path), "%s/hx.sock", S.dir);
        for (int round = 0; round < 2; round++) {
                /* the second round: the socket was watched again once the service ended */
                int u = pk_fd_unix_connect(path, SOCK_STREAM, 0);
                cr_assert_geq(u, 0, "%s", pk_strerror(u));
                char *r = ask(u, "helper\n");
                cr_assert(strstr(r, "got=helper"), "%s", r);
                cr_assert(strstr(r, "fds=1 names=hx.socket listen_pid=ok"), "%s", r);
                pk_fd_close(u);
                wait_field("hx.service", "state", "down");
                wait_field("hx.socket", "state", "listening");
        }
        sv_stop();
}

Test(supervise_socket, oneshot_service_is_socket_activated, .init = setup, .fini = teardown,
     .timeout = 120)
{
        activated_through_the_helper("Type=oneshot\nExecStart=" PROBE " serve 1");
}

Test(supervise_socket, forking_service_is_socket_activated, .init = setup, .fini = teardown,
     .timeout = 120)
{
        char lines[1200];
        snprintf(lines, sizeof(lines),
                 "Type=forking\nPIDFile=%s/hx.pid\nExecStart=" PROBE " forking %s/hx.pid", S.dir,
                 S.dir);
        activated_through_the_helper(lines);
}

/* ---- the escript control client ----------------------------------------------------------- */

Test(supervise_socket, escript_control_client, .init = setup, .fini = teardown, .timeout = 120)
{
        if (access("/usr/bin/escript", X_OK) != 0)
                cr_skip_test("no escript");
        write_file("esc.service", "[Service]\nExecStart=/bin/sleep 100\n");
        sv_start_unit("esc.service", "active", "active");
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new("/usr/bin/escript", &cmd), 0);
        const char *a[] = {PK_SOURCE_DIR "/examples/erlang/portkit_ctl.escript", S.ctl, "status",
                           NULL};
        cr_assert_eq(pk_cmd_args(cmd, a), 0);
        struct pk_run_opts o = {.timeout_ms = 60000};
        struct pk_run_result res;
        cr_assert_eq(pk_run(cmd, &o, &res, NULL), 0);
        pk_cmd_free(cmd);
        int st = pk_exit_shell(&res.status);
        char *out = strdup(res.out ? res.out : ""), *err = strdup(res.err ? res.err : "");
        pk_run_result_free(&res);
        cr_assert_eq(st, 0, "%s%s", out, err);
        cr_assert(strstr(out, "name => <<\"esc.service\">>"), "%s", out);
        cr_assert(strstr(out, "active => active"), "%s", out);
        free(out);
        free(err);
        sv_stop();
}

/* ---- below supervise: spawn and fd ------------------------------------------------------------
 */

Test(spawn_env_pid, child_sees_its_own_pid)
{
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new("/bin/sh", &cmd), 0);
        const char *a[] = {"-c", "echo \"$LISTEN_PID $$\"", NULL};
        cr_assert_eq(pk_cmd_args(cmd, a), 0);
        cr_assert_eq(pk_cmd_env_set(cmd, "LISTEN_PID", "1"), 0); /* overridden */
        cr_assert_eq(pk_cmd_env_pid(cmd, "LISTEN_PID"), 0);
        cr_assert_eq(pk_cmd_env_pid(cmd, "A=B"), -EINVAL);
        struct pk_run_result res;
        cr_assert_eq(pk_run(cmd, NULL, &res, NULL), 0);
        long x = 0, y = -1;
        cr_assert_eq(sscanf(res.out, "%ld %ld", &x, &y), 2, "%s", res.out);
        cr_assert_eq(x, y, "%s", res.out);
        pk_run_result_free(&res);
        /* through the spawn helper process as well */
        struct pk_spawn_helper *h;
        cr_assert_eq(pk_spawn_helper_new(&h), 0);
        cr_assert_eq(pk_cmd_fd_pipe(cmd, 1, PK_PIPE_CHILD_WRITES), 0);
        struct pk_proc *p;
        cr_assert_eq(pk_spawn_helper_spawn(h, cmd, &p, NULL), 0);
        char buf[64] = "";
        ssize_t n = pk_fd_read_all(pk_proc_fd(p, 1), buf, sizeof(buf) - 1, NULL);
        cr_assert_gt(n, 0);
        cr_assert_eq(sscanf(buf, "%ld %ld", &x, &y), 2, "%s", buf);
        cr_assert_eq(x, y, "%s", buf);
        cr_assert_eq(pk_proc_wait(p, -1, NULL), 0);
        pk_proc_free(p);
        pk_spawn_helper_free(h);
        /* NULL removes it: the value set before is back */
        cr_assert_eq(pk_cmd_env_pid(cmd, NULL), 0);
        cr_assert_eq(pk_cmd_fd(cmd, 1, 1), 0);
        const char *b[] = {"/bin/sh", "-c", "echo \"$LISTEN_PID\"", NULL};
        pk_cmd_free(cmd);
        cr_assert_eq(pk_cmd_new("/bin/sh", &cmd), 0);
        cr_assert_eq(pk_cmd_args(cmd, b + 1), 0);
        cr_assert_eq(pk_cmd_env_set(cmd, "LISTEN_PID", "1"), 0);
        cr_assert_eq(pk_cmd_env_pid(cmd, "LISTEN_PID"), 0);
        cr_assert_eq(pk_cmd_env_pid(cmd, NULL), 0);
        cr_assert_eq(pk_run(cmd, NULL, &res, NULL), 0);
        cr_assert_str_eq(res.out, "1\n");
        pk_run_result_free(&res);
        pk_cmd_free(cmd);
}

Test(fd_inet_listen, options)
{
        struct pk_fd_inet_opts o = {.reuse_port = 1};
        int a = pk_fd_inet_listen("127.0.0.1", 0, SOCK_STREAM, &o);
        cr_assert_geq(a, 0, "%s", pk_strerror(a));
        int port = pk_fd_local_port(a);
        /* SO_REUSEPORT on both: a second listener on the same port */
        int b = pk_fd_inet_listen("127.0.0.1", (unsigned)port, SOCK_STREAM, &o);
        cr_assert_geq(b, 0, "%s", pk_strerror(b));
        o.reuse_port = 0;
        cr_assert_eq(pk_fd_inet_listen("127.0.0.1", (unsigned)port, SOCK_STREAM, &o), -EADDRINUSE);
        pk_fd_close(a);
        pk_fd_close(b);
        /* dual stack: "::" with IPV6_V6ONLY off takes IPv4 connections */
        struct pk_fd_inet_opts d = {.dual_stack = 1};
        int s = pk_fd_inet_listen(NULL, 0, SOCK_STREAM, &d);
        if (s == -EAFNOSUPPORT)
                cr_skip_test("no IPv6");
        cr_assert_geq(s, 0, "%s", pk_strerror(s));
        int c = pk_fd_tcp_connect("127.0.0.1", (unsigned)pk_fd_local_port(s), 0);
        cr_assert_geq(c, 0, "%s", pk_strerror(c));
        pk_fd_close(c);
        pk_fd_close(s);
        /* datagram, bad type, bad scope */
        int u = pk_fd_inet_listen("127.0.0.1", 0, SOCK_DGRAM, NULL);
        cr_assert_geq(u, 0);
        pk_fd_close(u);
        cr_assert_eq(pk_fd_inet_listen("127.0.0.1", 0, SOCK_RAW, NULL), -EINVAL);
        struct pk_fd_inet_opts sc = {.scope = "no-such-if0"};
        cr_assert_eq(pk_fd_inet_listen("fe80::1", 0, SOCK_STREAM, &sc), -ENODEV);
        cr_assert_eq(pk_fd_inet_listen("127.0.0.1", 0, SOCK_STREAM, &sc), -EINVAL);
}

/* fd is a socket of protocol proto (SO_PROTOCOL); closes it. */
static void assert_protocol(int fd, int proto)
{
        int got = 0;
        socklen_t len = sizeof(got);
        cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &got, &len), 0);
        cr_assert_eq(got, proto);
        pk_fd_close(fd);
}

/* SocketProtocol=: each protocol with its types, SCTP by the kernel's answer. */
Test(fd_inet_listen, protocols)
{
        struct pk_fd_inet_opts o = {.protocol = IPPROTO_SCTP};
        cr_assert_eq(pk_fd_inet_listen("127.0.0.1", 0, SOCK_DGRAM, &o), -EINVAL);
        o.protocol = IPPROTO_UDPLITE;
        cr_assert_eq(pk_fd_inet_listen("127.0.0.1", 0, SOCK_STREAM, &o), -EINVAL);
        o.protocol = IPPROTO_TCP; /* not one of SocketProtocol='s */
        cr_assert_eq(pk_fd_inet_listen("127.0.0.1", 0, SOCK_STREAM, &o), -EINVAL);
        cr_assert_eq(pk_fd_inet_listen("127.0.0.1", 0, SOCK_SEQPACKET, NULL), -EINVAL,
                     "seqpacket on IP is SCTP's: said explicitly");
        o.protocol = IPPROTO_UDPLITE;
        int u = pk_fd_inet_listen("127.0.0.1", 0, SOCK_DGRAM, &o);
        if (u == -EPROTONOSUPPORT || u == -ESOCKTNOSUPPORT) {
                cr_log_info("no UDP-Lite in this kernel: %s", pk_strerror(u));
        } else {
                cr_assert_geq(u, 0, "%s", pk_strerror(u));
                assert_protocol(u, IPPROTO_UDPLITE);
        }
        o.protocol = IPPROTO_SCTP;
        for (int i = 0; i < 2; i++) {
                int type = i ? SOCK_STREAM : SOCK_SEQPACKET;
                int s = pk_fd_inet_listen("127.0.0.1", 0, type, &o);
                int raw = socket(AF_INET, type | SOCK_CLOEXEC, IPPROTO_SCTP);
                if (raw < 0) { /* this machine: the error is the kernel's, unchanged */
                        cr_assert_eq(s, -errno, "%s", pk_strerror(s));
                        continue;
                }
                close(raw);
                cr_assert_geq(s, 0, "%s", pk_strerror(s));
                assert_protocol(s, IPPROTO_SCTP);
        }
}

/* ---- the sup layer's listen fds, manual children and bad specs ---------------------------- */

static struct pk_cmd *sh_true(void)
{
        struct pk_cmd *c;
        cr_assert_eq(pk_cmd_new("/bin/true", &c), 0);
        return c;
}

static int sup_done; /* reset by each test that runs a child more than once */

static void on_ev(void *ud, const struct pk_sup_event *ev)
{
        if (ev->kind == PK_SUP_EV_EXITED) {
                sup_done = 1;
                pk_loop_stop(ud);
        }
}

Test(sup_listen, manual_child_gets_the_listen_fds, .timeout = 60)
{
        int fds_before = tu_count_fds();
        char out[] = "/tmp/pk-suplisten-XXXXXX";
        int ofd = mkstemp(out);
        cr_assert_geq(ofd, 0);
        close(ofd);
        int sp_fds[2];
        cr_assert_eq(pk_fd_socketpair(sp_fds, SOCK_STREAM, 0), 0);
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_sup *s;
        cr_assert_eq(pk_sup_new(loop, NULL, &s), 0);
        cr_assert_eq(pk_sup_subscribe(s, on_ev, loop), 0);
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new("/bin/sh", &cmd), 0);
        char script[256];
        snprintf(script, sizeof(script),
                 "echo \"$LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$\" > %s; "
                 "[ -S /dev/fd/3 ] && echo socket >> %s",
                 out, out);
        const char *a[] = {"-c", script, NULL};
        cr_assert_eq(pk_cmd_args(cmd, a), 0);
        const char *names[] = {"web"};
        struct pk_sup_child_spec sp = {.id = "svc",
                                       .restart = PK_SUP_TEMPORARY,
                                       .manual = 1,
                                       .listen_fds = &sp_fds[0],
                                       .n_listen_fds = 1,
                                       .listen_fd_names = names};
        cr_assert_eq(pk_sup_add(s, &sp, cmd), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(s, "svc", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_DOWN, "a manual child is not started by pk_sup_start()");
        /* the supervisor holds its own copy: the caller's may go */
        pk_fd_close(sp_fds[0]);
        cr_assert_eq(pk_sup_start_child(s, "svc"), 0);
        pk_loop_run(loop);
        cr_assert(sup_done);
        char *t = slurp(out);
        long x = 0, y = -1;
        char nm[32] = "";
        int nfd = 0;
        cr_assert_eq(sscanf(t, "%d %31s %ld %ld", &nfd, nm, &x, &y), 4, "%s", t);
        cr_assert_eq(nfd, 1);
        cr_assert_str_eq(nm, "web");
        cr_assert_eq(x, y, "LISTEN_PID %ld is not the child's pid %ld", x, y);
        cr_assert(strstr(t, "\nsocket\n"), "fd 3 is the socket: %s", t);
        free(t);
        unlink(out);

        /* bad specs */
        sp.id = "bad";
        sp.listen_fds = NULL;
        cr_assert_eq(pk_sup_add(s, &sp, sh_true()), -EINVAL);
        sp.listen_fds = &sp_fds[1];
        const char *colon[] = {"a:b"};
        sp.listen_fd_names = colon;
        cr_assert_eq(pk_sup_add(s, &sp, sh_true()), -EINVAL);
        sp.listen_fd_names = NULL;
        sp.fd_store_max = PK_SUP_MAX_FDS + 1;
        cr_assert_eq(pk_sup_add(s, &sp, sh_true()), -EINVAL);
        sp.fd_store_max = 0;
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3; /* the listen fd's number */
        cr_assert_eq(pk_sup_add(s, &sp, sh_true()), -EINVAL);
        sp.ready = PK_SUP_READY_EXEC;
        int closed = sp_fds[0]; /* closed above */
        sp.listen_fds = &closed;
        cr_assert_eq(pk_sup_add(s, &sp, sh_true()), -EBADF);

        cr_assert_eq(pk_sup_remove_child(s, "svc"), 0);
        pk_sup_free(s);
        pk_loop_free(loop);
        pk_fd_close(sp_fds[1]);
        cr_assert_eq(tu_count_fds(), fds_before, "descriptors leaked");
}

Test(sup_listen, set_listen_fds_replaces_them_for_the_next_run, .timeout = 60)
{
        int fds_before = tu_count_fds_of(getpid());
        char out[] = "/tmp/pk-suplisten-XXXXXX";
        int ofd = mkstemp(out);
        cr_assert_geq(ofd, 0);
        close(ofd);
        int a[2], b[2];
        cr_assert_eq(pk_fd_socketpair(a, SOCK_STREAM, 0), 0);
        cr_assert_eq(pk_fd_socketpair(b, SOCK_STREAM, 0), 0);
        struct pk_loop *loop;
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_sup *s;
        cr_assert_eq(pk_sup_new(loop, NULL, &s), 0);
        cr_assert_eq(pk_sup_subscribe(s, on_ev, loop), 0);
        struct pk_cmd *cmd;
        cr_assert_eq(pk_cmd_new("/bin/sh", &cmd), 0);
        char script[256];
        snprintf(script, sizeof(script), "echo \"$LISTEN_FDS $LISTEN_FDNAMES\" > %s", out);
        const char *args[] = {"-c", script, NULL};
        cr_assert_eq(pk_cmd_args(cmd, args), 0);
        const char *old_names[] = {"old"};
        struct pk_sup_child_spec sp = {.id = "svc",
                                       .restart = PK_SUP_TEMPORARY,
                                       .manual = 1,
                                       .listen_fds = &a[0],
                                       .n_listen_fds = 1,
                                       .listen_fd_names = old_names};
        cr_assert_eq(pk_sup_add(s, &sp, cmd), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        int two[] = {a[0], b[0]};
        const char *new_names[] = {"n1", "n2"};
        cr_assert_eq(pk_sup_set_listen_fds(s, "nope", two, 2, new_names), -ENOENT);
        const char *bad[] = {"n1", "a:b"};
        cr_assert_eq(pk_sup_set_listen_fds(s, "svc", two, 2, bad), -EINVAL);
        cr_assert_eq(pk_sup_set_listen_fds(s, "svc", two, 2, new_names), 0);
        /* the caller's copies may go: the supervisor holds its own */
        pk_fd_close(a[0]);
        pk_fd_close(b[0]);
        cr_assert_eq(pk_sup_start_child(s, "svc"), 0);
        pk_loop_run(loop);
        cr_assert(sup_done);
        char *t = slurp(out);
        cr_assert_str_eq(t, "2 n1:n2\n");
        free(t);
        /* none at all: the next run gets no LISTEN_* */
        cr_assert_eq(pk_sup_set_listen_fds(s, "svc", NULL, 0, NULL), 0);
        sup_done = 0;
        cr_assert_eq(pk_sup_start_child(s, "svc"), 0);
        pk_loop_run(loop);
        cr_assert(sup_done);
        t = slurp(out);
        cr_assert_str_eq(t, " \n");
        free(t);
        unlink(out);
        /* a readiness fd the new set would cover */
        struct pk_sup_child_spec rp = {.id = "rdy",
                                       .restart = PK_SUP_TEMPORARY,
                                       .manual = 1,
                                       .ready = PK_SUP_READY_FD,
                                       .ready_fd = 4};
        cr_assert_eq(pk_sup_add(s, &rp, sh_true()), 0);
        int pair[] = {a[1], b[1]};
        cr_assert_eq(pk_sup_set_listen_fds(s, "rdy", pair, 1, NULL), 0);
        cr_assert_eq(pk_sup_set_listen_fds(s, "rdy", pair, 2, NULL), -EINVAL);
        cr_assert_eq(pk_sup_remove_child(s, "rdy"), 0);
        cr_assert_eq(pk_sup_remove_child(s, "svc"), 0);
        pk_sup_free(s);
        pk_loop_free(loop);
        pk_fd_close(a[1]);
        pk_fd_close(b[1]);
        cr_assert_eq(tu_count_fds_of(getpid()), fds_before, "descriptors leaked");
}
