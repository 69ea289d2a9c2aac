/* SPDX-License-Identifier: MIT */
/* fd layer: socketpairs, Unix sockets with path hygiene, descriptor
 * passing, peer credentials, TCP and UDP on IPv4 and IPv6 loopback. */
#include "testutil.h"
#include <portkit/fd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static void roundtrip(int a, int b, const char *msg)
{
        size_t len = strlen(msg);
        cr_assert_eq(pk_fd_write_all(a, msg, len, NULL), (ssize_t)len);
        char buf[256] = {0};
        cr_assert_eq(pk_fd_read_all(b, buf, len, NULL), (ssize_t)len);
        cr_assert_str_eq(buf, msg);
}

Test(fd_sock, socketpair_kinds)
{
        int base = tu_count_fds();
        int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
        for (size_t i = 0; i < 3; i++) {
                int sv[2];
                cr_assert_eq(pk_fd_socketpair(sv, types[i], 0), 0);
                cr_assert(tu_cloexec(sv[0]) && tu_cloexec(sv[1]));
                cr_assert(!tu_nonblock(sv[0]));
                roundtrip(sv[0], sv[1], "ping");
                roundtrip(sv[1], sv[0], "pong");
                pk_fd_close(sv[0]);
                pk_fd_close(sv[1]);
        }
        int sv[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_SEQPACKET, PK_FD_NONBLOCK), 0);
        cr_assert(tu_nonblock(sv[0]) && tu_nonblock(sv[1]));
        /* Message boundaries hold on seqpacket. */
        cr_assert_eq(pk_fd_write_all(sv[0], "ab", 2, NULL), 2);
        cr_assert_eq(pk_fd_write_all(sv[0], "cde", 3, NULL), 3);
        char buf[8];
        cr_assert_eq(read(sv[1], buf, sizeof(buf)), 2);
        cr_assert_eq(read(sv[1], buf, sizeof(buf)), 3);
        cr_assert_eq(pk_fd_read_all(sv[1], buf, 1, NULL), -EAGAIN);
        pk_fd_close(sv[0]);
        pk_fd_close(sv[1]);
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_RAW, 0), -EINVAL);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_unix, stream_listen_connect_accept_peercred)
{
        char dir[64], path[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/s.sock", dir);
        int base = tu_count_fds();
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        int fd = pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l);
        cr_assert_geq(fd, 0, "%s", pk_strerror(fd));
        cr_assert_eq(l.fd, fd);
        cr_assert(tu_cloexec(fd));
        struct stat st;
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert(S_ISSOCK(st.st_mode));
        int c = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(c, 0);
        cr_assert(tu_cloexec(c));
        int s = pk_fd_accept(fd, PK_FD_NONBLOCK);
        cr_assert_geq(s, 0);
        cr_assert(tu_cloexec(s));
        cr_assert(tu_nonblock(s));
        roundtrip(c, s, "over unix");
        roundtrip(s, c, "and back");
        struct pk_fd_cred cred;
        cr_assert_eq(pk_fd_peercred(s, &cred), 0);
        cr_assert_eq(cred.pid, getpid());
        cr_assert_eq(cred.uid, geteuid());
        cr_assert_eq(cred.gid, getegid());
        cr_assert_eq(pk_fd_peercred(c, &cred), 0);
        cr_assert_eq(cred.pid, getpid());
        pk_fd_close(c);
        pk_fd_close(s);
        /* Closing through portkit removes the socket file. */
        cr_assert_eq(pk_fd_unix_listener_close(&l), -EBADF);
        cr_assert_eq(l.fd, -1);
        cr_assert(lstat(path, &st) < 0 && errno == ENOENT, "socket file left behind");
        cr_assert_eq(pk_fd_unix_listener_close(&l), -EBADF, "second close is a no-op");
        cr_assert_eq(pk_fd_unix_listener_close(NULL), -EBADF);
        cr_assert_eq(pk_fd_unix_connect(path, SOCK_STREAM, 0), -ENOENT);
        int devnull = pk_fd_chardev_open("/dev/null", PK_FD_READ, 0);
        cr_assert_eq(pk_fd_peercred(devnull, &cred), -ENOTSOCK);
        pk_fd_close(devnull);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

Test(fd_unix, seqpacket_and_dgram)
{
        char dir[64], path[128], path2[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/sp", dir);
        snprintf(path2, sizeof(path2), "%s/dg", dir);
        int base = tu_count_fds();
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_SEQPACKET, NULL, &l), 0);
        int c = pk_fd_unix_connect(path, SOCK_SEQPACKET, 0);
        cr_assert_geq(c, 0);
        int s = pk_fd_accept(l.fd, 0);
        cr_assert_geq(s, 0);
        roundtrip(c, s, "packet");
        /* Wrong type against a live socket. */
        cr_assert_eq(pk_fd_unix_connect(path, SOCK_STREAM, 0), -EPROTOTYPE);
        pk_fd_close(c);
        pk_fd_close(s);
        pk_fd_unix_listener_close(&l);

        /* Datagram: "listen" binds, connect sets the default peer. */
        struct pk_fd_unix_listener d = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_geq(pk_fd_unix_listen(path2, SOCK_DGRAM, NULL, &d), 0);
        int dc = pk_fd_unix_connect(path2, SOCK_DGRAM, 0);
        cr_assert_geq(dc, 0);
        cr_assert_eq(pk_fd_write_all(dc, "dgram", 5, NULL), 5);
        char buf[16] = {0};
        cr_assert_eq(recv(d.fd, buf, sizeof(buf), 0), 5);
        cr_assert_str_eq(buf, "dgram");
        pk_fd_close(dc);
        pk_fd_unix_listener_close(&d);
        struct stat st;
        cr_assert(lstat(path2, &st) < 0);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

Test(fd_unix, parent_folders_and_modes)
{
        char dir[64], path[160];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/a/b/c.sock", dir);
        umask(022);
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        /* Without dir_mode missing folders are an error. */
        cr_assert_eq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l), -ENOENT);
        cr_assert_eq(l.fd, -1, "listener written on failure");
        struct pk_fd_unix_opts o = {.dir_mode = 0710, .socket_mode = 0600};
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_STREAM, &o, &l), 0);
        char sub[160];
        struct stat st;
        snprintf(sub, sizeof(sub), "%s/a", dir);
        cr_assert_eq(stat(sub, &st), 0);
        cr_assert(S_ISDIR(st.st_mode));
        cr_assert_eq(st.st_mode & 07777, 0710, "mode %o", st.st_mode & 07777);
        snprintf(sub, sizeof(sub), "%s/a/b", dir);
        cr_assert_eq(stat(sub, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0710);
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600, "socket mode %o", st.st_mode & 0777);
        pk_fd_unix_listener_close(&l);
        tu_rmrf(dir);
}

Test(fd_unix, live_path_is_eaddrinuse)
{
        char dir[64], path[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/live", dir);
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l), 0);
        int base = tu_count_fds();
        struct pk_fd_unix_listener l2 = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_eq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l2), -EADDRINUSE);
        /* Also for another type probing a live stream socket. */
        cr_assert_eq(pk_fd_unix_listen(path, SOCK_DGRAM, NULL, &l2), -EADDRINUSE);
        cr_assert_eq(l2.fd, -1);
        cr_assert_eq(tu_count_fds(), base, "probe or socket leaked");
        /* The live listener still works: its file was not removed. */
        int c = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(c, 0);
        int s = pk_fd_accept(l.fd, 0);
        cr_assert_geq(s, 0);
        pk_fd_close(s);
        pk_fd_close(c);
        pk_fd_unix_listener_close(&l);
        tu_rmrf(dir);
}

Test(fd_unix, stale_file_is_replaced_other_files_are_not)
{
        char dir[64], path[128], reg[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/stale", dir);
        snprintf(reg, sizeof(reg), "%s/regular", dir);
        /* Leave a stale socket file: bind, then close without unlinking. */
        int raw = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        cr_assert_eq(bind(raw, (struct sockaddr *)&sa, sizeof(sa)), 0);
        pk_fd_close(raw);
        struct stat st;
        cr_assert_eq(lstat(path, &st), 0);
        int base = tu_count_fds();
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        int fd = pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l);
        cr_assert_geq(fd, 0, "stale file not replaced: %s", pk_strerror(fd));
        int c = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(c, 0);
        pk_fd_close(c);
        pk_fd_unix_listener_close(&l);
        cr_assert_eq(tu_count_fds(), base);
        /* A regular file is never removed. */
        int f = pk_fd_open(reg, O_WRONLY | O_CREAT, 0600);
        pk_fd_close(f);
        cr_assert_eq(pk_fd_unix_listen(reg, SOCK_STREAM, NULL, &l), -EADDRINUSE);
        cr_assert_eq(lstat(reg, &st), 0);
        cr_assert(S_ISREG(st.st_mode));
        tu_rmrf(dir);
}

Test(fd_unix, datagram_stale_and_live)
{
        char dir[64], path[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/dg", dir);
        int raw = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        cr_assert_eq(bind(raw, (struct sockaddr *)&sa, sizeof(sa)), 0);
        /* Live: bound by `raw`. */
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_eq(pk_fd_unix_listen(path, SOCK_DGRAM, NULL, &l), -EADDRINUSE);
        pk_fd_close(raw);
        /* Stale now. */
        int base = tu_count_fds();
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_DGRAM, NULL, &l), 0);
        int c = pk_fd_unix_connect(path, SOCK_DGRAM, 0);
        cr_assert_geq(c, 0);
        cr_assert_eq(pk_fd_write_all(c, "d", 1, NULL), 1);
        char b;
        cr_assert_eq(recv(l.fd, &b, 1, 0), 1);
        pk_fd_close(c);
        pk_fd_unix_listener_close(&l);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

Test(fd_unix, close_removes_only_its_own_file)
{
        char dir[64], path[128];
        tu_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/mine", dir);
        struct pk_fd_unix_listener a = PK_FD_UNIX_LISTENER_INIT, b = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &a), 0);
        /* Someone removes our file and listens on the same path. */
        cr_assert_eq(unlink(path), 0);
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &b), 0);
        pk_fd_unix_listener_close(&a);
        struct stat st;
        cr_assert_eq(lstat(path, &st), 0, "closing the old listener removed the new file");
        int c = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(c, 0);
        pk_fd_close(c);
        pk_fd_unix_listener_close(&b);
        cr_assert(lstat(path, &st) < 0);
        tu_rmrf(dir);
}

Test(fd_unix, path_too_long_is_enametoolong)
{
        char dir[64];
        tu_tmpdir(dir, sizeof(dir));
        int base = tu_count_fds();
        char path[300];
        /* Exactly PK_FD_UNIX_PATH_MAX - 1 characters fits ... */
        size_t dl = strlen(dir);
        memset(path, 'p', sizeof(path));
        memcpy(path, dir, dl);
        path[dl] = '/';
        path[PK_FD_UNIX_PATH_MAX - 1] = '\0';
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_geq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l), 0);
        int c = pk_fd_unix_connect(path, SOCK_STREAM, 0);
        cr_assert_geq(c, 0);
        pk_fd_close(c);
        pk_fd_unix_listener_close(&l);
        /* ... one more does not. */
        path[PK_FD_UNIX_PATH_MAX - 1] = 'p';
        path[PK_FD_UNIX_PATH_MAX] = '\0';
        cr_assert_eq(pk_fd_unix_listen(path, SOCK_STREAM, NULL, &l), -ENAMETOOLONG);
        cr_assert_eq(pk_fd_unix_connect(path, SOCK_STREAM, 0), -ENAMETOOLONG);
        path[200] = '\0';
        cr_assert_eq(pk_fd_unix_listen(path, SOCK_DGRAM, NULL, &l), -ENAMETOOLONG);
        char abs[200];
        memset(abs, 'a', sizeof(abs));
        abs[0] = '@';
        abs[PK_FD_UNIX_PATH_MAX + 1] = '\0';
        cr_assert_eq(pk_fd_unix_listen(abs, SOCK_STREAM, NULL, &l), -ENAMETOOLONG);
        /* The longest abstract name: '@' plus 107 bytes. */
        snprintf(abs + 1, 20, "%d-", (int)getpid());
        abs[strlen(abs)] = 'a';
        abs[PK_FD_UNIX_PATH_MAX] = '\0';
        cr_assert_geq(pk_fd_unix_listen(abs, SOCK_STREAM, NULL, &l), 0);
        cr_assert_str_eq(l.path, abs);
        int ac = pk_fd_unix_connect(abs, SOCK_STREAM, 0);
        cr_assert_geq(ac, 0);
        pk_fd_close(ac);
        pk_fd_unix_listener_close(&l);
        cr_assert_eq(pk_fd_unix_listen("", SOCK_STREAM, NULL, &l), -EINVAL);
        cr_assert_eq(pk_fd_unix_listen(NULL, SOCK_STREAM, NULL, &l), -EINVAL);
        cr_assert_eq(pk_fd_unix_listen("@", SOCK_STREAM, NULL, &l), -EINVAL);
        cr_assert_eq(l.fd, -1);
        cr_assert_eq(tu_count_fds(), base);
        tu_rmrf(dir);
}

Test(fd_unix, abstract_names)
{
        char name[64];
        snprintf(name, sizeof(name), "@portkit-test-%d-%ld", (int)getpid(), (long)random());
        int base = tu_count_fds();
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT, l2 = PK_FD_UNIX_LISTENER_INIT;
        cr_assert_geq(pk_fd_unix_listen(name, SOCK_STREAM, NULL, &l), 0);
        cr_assert_eq(l.abstract, 1);
        struct stat st;
        cr_assert(lstat(name, &st) < 0, "a file was created for an abstract name");
        cr_assert_eq(pk_fd_unix_listen(name, SOCK_STREAM, NULL, &l2), -EADDRINUSE);
        int c = pk_fd_unix_connect(name, SOCK_STREAM, 0);
        cr_assert_geq(c, 0);
        int s = pk_fd_accept(l.fd, 0);
        roundtrip(c, s, "abstract");
        pk_fd_close(c);
        pk_fd_close(s);
        pk_fd_unix_listener_close(&l);
        /* Name released with the socket. */
        cr_assert_eq(pk_fd_unix_connect(name, SOCK_STREAM, 0), -ECONNREFUSED);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_unix, accept_nonblocking_without_client)
{
        char name[64];
        snprintf(name, sizeof(name), "@portkit-acc-%d", (int)getpid());
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        struct pk_fd_unix_opts o = {.flags = PK_FD_NONBLOCK, .backlog = 4};
        cr_assert_geq(pk_fd_unix_listen(name, SOCK_STREAM, &o, &l), 0);
        cr_assert(tu_nonblock(l.fd));
        cr_assert_eq(pk_fd_accept(l.fd, 0), -EAGAIN);
        cr_assert_eq(pk_fd_accept(l.fd, 0x40), -EINVAL);
        pk_fd_unix_listener_close(&l);
}

Test(fd_unix, nonblocking_connect_full_backlog_is_eagain)
{
        char name[64];
        snprintf(name, sizeof(name), "@portkit-backlog-%d", (int)getpid());
        struct pk_fd_unix_listener l = PK_FD_UNIX_LISTENER_INIT;
        struct pk_fd_unix_opts o = {.backlog = 1};
        cr_assert_geq(pk_fd_unix_listen(name, SOCK_STREAM, &o, &l), 0);
        int base = tu_count_fds();
        int conns[16];
        int n = 0, r = 0;
        while (n < 16) {
                r = pk_fd_unix_connect(name, SOCK_STREAM, PK_FD_NONBLOCK);
                if (r < 0)
                        break;
                conns[n++] = r;
        }
        cr_assert_eq(r, -EAGAIN, "backlog never filled (%d connects): %s", n, pk_strerror(r));
        cr_assert_eq(tu_count_fds(), base + n, "the failed connect leaked its socket");
        for (int i = 0; i < n; i++)
                pk_fd_close(conns[i]);
        pk_fd_unix_listener_close(&l);
}

Test(fd_pass, send_and_receive_descriptors)
{
        int base = tu_count_fds();
        int sv[2], p1[2], p2[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_STREAM, 0), 0);
        cr_assert_eq(pk_fd_pipe(p1, 0), 0);
        cr_assert_eq(pk_fd_pipe(p2, 0), 0);
        int out[2] = {p1[1], p2[1]};
        cr_assert_eq(pk_fd_send_fds(sv[0], "fds!", 4, out, 2), 4);
        char buf[8] = {0};
        int got[4] = {-1, -1, -1, -1};
        size_t n = 99;
        cr_assert_eq(pk_fd_recv_fds(sv[1], buf, sizeof(buf), got, 4, &n), 4);
        cr_assert_str_eq(buf, "fds!");
        cr_assert_eq(n, 2);
        for (int i = 0; i < 2; i++) {
                cr_assert(tu_cloexec(got[i]), "received descriptor without FD_CLOEXEC");
                cr_assert_neq(got[i], out[i]);
        }
        /* Writing to the received ends reaches the original pipes. */
        cr_assert_eq(pk_fd_write_all(got[0], "1", 1, NULL), 1);
        cr_assert_eq(pk_fd_write_all(got[1], "2", 1, NULL), 1);
        cr_assert_eq(pk_fd_read_all(p1[0], buf, 1, NULL), 1);
        cr_assert_eq(buf[0], '1');
        cr_assert_eq(pk_fd_read_all(p2[0], buf, 1, NULL), 1);
        cr_assert_eq(buf[0], '2');
        /* Plain data, no descriptors. */
        cr_assert_eq(pk_fd_send_fds(sv[0], "x", 1, NULL, 0), 1);
        cr_assert_eq(pk_fd_recv_fds(sv[1], buf, 1, got + 2, 2, &n), 1);
        cr_assert_eq(n, 0);
        cr_assert_eq(pk_fd_send_fds(sv[0], "", 0, out, 1), -EINVAL);
        cr_assert_eq(pk_fd_send_fds(sv[0], "x", 1, out, PK_FD_MAX_PASS + 1), -EINVAL);
        /* EOF. */
        pk_fd_close(sv[0]);
        cr_assert_eq(pk_fd_recv_fds(sv[1], buf, 1, got + 2, 2, &n), 0);
        pk_fd_close(sv[1]);
        for (int i = 0; i < 2; i++) {
                pk_fd_close(got[i]);
                pk_fd_close(p1[i]);
                pk_fd_close(p2[i]);
        }
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_pass, truncated_descriptors_are_closed_and_reported)
{
        int base = tu_count_fds();
        int sv[2], p[2];
        cr_assert_eq(pk_fd_socketpair(sv, SOCK_SEQPACKET, 0), 0);
        cr_assert_eq(pk_fd_pipe(p, 0), 0);
        int out[5] = {p[0], p[1], p[0], p[1], p[0]};
        int during = tu_count_fds();
        char buf[8];
        int got[2] = {-1, -1};
        size_t n = 77;
        /* Room for 1, 5 sent: MSG_CTRUNC (or overflow) -> all closed. */
        cr_assert_eq(pk_fd_send_fds(sv[0], "abc", 3, out, 5), 3);
        cr_assert_eq(pk_fd_recv_fds(sv[1], buf, sizeof(buf), got, 1, &n), -ETOOMANYREFS);
        cr_assert_eq(n, 77, "ret_nfds written on failure");
        cr_assert_eq(tu_count_fds(), during, "received descriptors leaked");
        /* No room at all. */
        cr_assert_eq(pk_fd_send_fds(sv[0], "abc", 3, out, 2), 3);
        cr_assert_eq(pk_fd_recv_fds(sv[1], buf, sizeof(buf), NULL, 0, &n), -ETOOMANYREFS);
        cr_assert_eq(tu_count_fds(), during);
        /* Data truncated on a packet socket. */
        cr_assert_eq(pk_fd_send_fds(sv[0], "abcdef", 6, out, 2), 6);
        cr_assert_eq(pk_fd_recv_fds(sv[1], buf, 2, got, 2, &n), -EMSGSIZE);
        cr_assert_eq(tu_count_fds(), during);
        pk_fd_close(sv[0]);
        pk_fd_close(sv[1]);
        pk_fd_close(p[0]);
        pk_fd_close(p[1]);
        cr_assert_eq(tu_count_fds(), base);
}

/* Returns 1 if addr can be bound (IPv6 loopback may be missing). */
static bool can_bind(const char *host)
{
        int fd = pk_fd_tcp_listen(host, 0, 0, 0);
        if (fd < 0)
                return false;
        pk_fd_close(fd);
        return true;
}

static void tcp_roundtrip(const char *host)
{
        int base = tu_count_fds();
        int l = pk_fd_tcp_listen(host, 0, 0, 0);
        cr_assert_geq(l, 0, "listen %s: %s", host, pk_strerror(l));
        cr_assert(tu_cloexec(l));
        int port = pk_fd_local_port(l);
        cr_assert_gt(port, 0);
        /* Blocking connect. */
        int c = pk_fd_tcp_connect(host, (unsigned)port, 0);
        cr_assert_geq(c, 0, "%s", pk_strerror(c));
        cr_assert(tu_cloexec(c));
        cr_assert_eq(pk_fd_connect_result(c), 0);
        int s = pk_fd_accept(l, 0);
        cr_assert_geq(s, 0);
        cr_assert(tu_cloexec(s));
        roundtrip(c, s, "tcp hello");
        roundtrip(s, c, "tcp reply");
        pk_fd_close(c);
        pk_fd_close(s);
        /* Non-blocking connect: completion through poll + result. */
        c = pk_fd_tcp_connect(host, (unsigned)port, PK_FD_NONBLOCK);
        cr_assert_geq(c, 0);
        cr_assert(tu_nonblock(c));
        struct pollfd p = {.fd = c, .events = POLLOUT};
        cr_assert_eq(poll(&p, 1, -1), 1);
        cr_assert_eq(pk_fd_connect_result(c), 0);
        s = pk_fd_accept(l, 0);
        cr_assert_geq(s, 0);
        roundtrip(c, s, "nonblocking");
        pk_fd_close(c);
        pk_fd_close(s);
        pk_fd_close(l);
        /* Refused: the port has no listener any more. */
        c = pk_fd_tcp_connect(host, (unsigned)port, 0);
        cr_assert_eq(c, -ECONNREFUSED, "got %d", c);
        c = pk_fd_tcp_connect(host, (unsigned)port, PK_FD_NONBLOCK);
        if (c >= 0) {
                struct pollfd q = {.fd = c, .events = POLLOUT};
                cr_assert_eq(poll(&q, 1, -1), 1);
                cr_assert_eq(pk_fd_connect_result(c), -ECONNREFUSED);
                pk_fd_close(c);
        } else {
                cr_assert_eq(c, -ECONNREFUSED);
        }
        cr_assert_eq(tu_count_fds(), base);
}

static void udp_roundtrip(const char *host)
{
        int base = tu_count_fds();
        int b = pk_fd_udp_bind(host, 0, 0);
        cr_assert_geq(b, 0, "%s", pk_strerror(b));
        cr_assert(tu_cloexec(b));
        int port = pk_fd_local_port(b);
        cr_assert_gt(port, 0);
        int c = pk_fd_udp_connect(host, (unsigned)port, PK_FD_NONBLOCK);
        cr_assert_geq(c, 0);
        cr_assert(tu_cloexec(c) && tu_nonblock(c));
        cr_assert_eq(pk_fd_write_all(c, "datagram", 8, NULL), 8);
        char buf[16] = {0};
        cr_assert_eq(recv(b, buf, sizeof(buf), 0), 8);
        cr_assert_str_eq(buf, "datagram");
        pk_fd_close(c);
        pk_fd_close(b);
        cr_assert_eq(tu_count_fds(), base);
}

Test(fd_inet, tcp_ipv4)
{
        tcp_roundtrip("127.0.0.1");
}

Test(fd_inet, tcp_ipv6)
{
        if (!can_bind("::1"))
                cr_skip_test("IPv6 loopback ::1 cannot be bound in this environment");
        tcp_roundtrip("::1");
}

Test(fd_inet, udp_ipv4)
{
        udp_roundtrip("127.0.0.1");
}

Test(fd_inet, udp_ipv6)
{
        if (!can_bind("::1"))
                cr_skip_test("IPv6 loopback ::1 cannot be bound in this environment");
        udp_roundtrip("::1");
}

Test(fd_inet, bad_addresses)
{
        int base = tu_count_fds();
        cr_assert_eq(pk_fd_tcp_listen("localhost", 0, 0, 0), -EINVAL, "names are not resolved");
        cr_assert_eq(pk_fd_tcp_listen("127.0.0.1", 65536, 0, 0), -EINVAL);
        cr_assert_eq(pk_fd_tcp_connect(NULL, 80, 0), -EINVAL);
        cr_assert_eq(pk_fd_tcp_connect("", 80, 0), -EINVAL);
        cr_assert_eq(pk_fd_udp_bind("1.2.3", 0, 0), -EINVAL);
        cr_assert_eq(pk_fd_tcp_listen("127.0.0.1", 0, 0, 0x80), -EINVAL);
        /* A busy port. */
        int l = pk_fd_tcp_listen("127.0.0.1", 0, 0, 0);
        cr_assert_geq(l, 0);
        int port = pk_fd_local_port(l);
        cr_assert_eq(pk_fd_tcp_listen("127.0.0.1", (unsigned)port, 0, 0), -EADDRINUSE);
        pk_fd_close(l);
        /* Wildcard bind. */
        l = pk_fd_tcp_listen(NULL, 0, 0, PK_FD_NONBLOCK);
        cr_assert_geq(l, 0);
        cr_assert_eq(pk_fd_accept(l, 0), -EAGAIN);
        pk_fd_close(l);
        int devnull = pk_fd_chardev_open("/dev/null", PK_FD_READ, 0);
        cr_assert_eq(pk_fd_local_port(devnull), -ENOTSOCK);
        pk_fd_close(devnull);
        cr_assert_eq(tu_count_fds(), base);
}
