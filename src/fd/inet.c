/* SPDX-License-Identifier: MIT */
/* TCP and UDP over IPv4 and IPv6 with numeric addresses only (no DNS, so
 * nothing here blocks on a resolver). */
#include "fd/fd-internal.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

/* Parses host:port into ss.  An empty host is the IPv4 wildcard, which
 * only makes sense for binding. */
static int make_inet(const char *host, unsigned port, bool for_connect, struct sockaddr_storage *ss,
                     socklen_t *ret_len)
{
        if (port > 65535)
                return -EINVAL;
        memset(ss, 0, sizeof(*ss));
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (!host || !*host) {
                if (for_connect)
                        return -EINVAL;
                sin->sin_family = AF_INET;
                sin->sin_addr.s_addr = htonl(INADDR_ANY);
                sin->sin_port = htons((uint16_t)port);
                *ret_len = sizeof(*sin);
                return 0;
        }
        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t)port);
                *ret_len = sizeof(*sin);
                return 0;
        }
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t)port);
                *ret_len = sizeof(*sin6);
                return 0;
        }
        return -EINVAL;
}

static int new_socket(int family, int type, int flags)
{
        int fd =
            socket(family, type | SOCK_CLOEXEC | ((flags & PK_FD_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
                return pk__neg_errno();
        if (family == AF_INET6) {
                /* One socket, one family: dual-stack behaviour would depend
                 * on a sysctl. */
                int one = 1;
                if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
                        int r = pk__neg_errno();
                        pk_fd_close(fd);
                        return r;
                }
        }
        return fd;
}

/* Waits for a connect that a signal interrupted, then reads its result. */
static int finish_connect(int fd)
{
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int n = poll(&p, 1, -1);
                if (n > 0)
                        break;
                if (n < 0 && errno != EINTR)
                        return pk__neg_errno();
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return pk__neg_errno();
        return err ? -err : 0;
}

static int connected_socket(const char *host, unsigned port, int type, int flags)
{
        if (pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        struct sockaddr_storage ss;
        socklen_t len;
        int r = make_inet(host, port, true, &ss, &len);
        if (r < 0)
                return r;
        int saved = errno;
        PK_CLEANUP_FD int fd = new_socket(ss.ss_family, type, flags);
        if (fd < 0)
                return fd;
        if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
                if (errno == EINPROGRESS && (flags & PK_FD_NONBLOCK)) {
                        /* The caller waits for POLLOUT and asks
                         * pk_fd_connect_result(). */
                } else if (errno == EINTR) {
                        /* The connect goes on in the background; calling
                         * connect() again would give EALREADY. */
                        r = finish_connect(fd);
                        if (r < 0)
                                return r;
                } else {
                        return pk__neg_errno();
                }
        }
        errno = saved;
        return pk_take_fd(&fd);
}

int pk_fd_tcp_listen(const char *host, unsigned port, int backlog, int flags)
{
        return pk_fd_inet_listen(host, port, SOCK_STREAM,
                                 &(struct pk_fd_inet_opts){.flags = flags, .backlog = backlog});
}

int pk_fd_tcp_connect(const char *host, unsigned port, int flags)
{
        return connected_socket(host, port, SOCK_STREAM, flags);
}

int pk_fd_udp_bind(const char *host, unsigned port, int flags)
{
        return pk_fd_inet_listen(host, port, SOCK_DGRAM, &(struct pk_fd_inet_opts){.flags = flags});
}

int pk_fd_udp_connect(const char *host, unsigned port, int flags)
{
        return connected_socket(host, port, SOCK_DGRAM, flags);
}

int pk_fd_connect_result(int fd)
{
        int saved = errno;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        do
                n = poll(&p, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return pk__neg_errno();
        if (p.revents & POLLNVAL)
                return -EBADF;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return pk__neg_errno();
        errno = saved;
        if (err)
                return -err;
        return n == 0 ? -EINPROGRESS : 0;
}

int pk_fd_local_port(int fd)
{
        struct sockaddr_storage ss = {0}; /* getsockname() fills it; zeroed, so never garbage */
        socklen_t len = sizeof(ss);
        int saved = errno;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
                return pk__neg_errno();
        errno = saved;
        if (ss.ss_family == AF_INET)
                return ntohs(((struct sockaddr_in *)&ss)->sin_port);
        if (ss.ss_family == AF_INET6)
                return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        return -EAFNOSUPPORT;
}

/* Sets an int socket option to 1. */
static int set_one(int fd, int level, int name)
{
        int one = 1;
        return setsockopt(fd, level, name, &one, sizeof(one)) < 0 ? pk__neg_errno() : 0;
}

int pk_fd_inet_listen(const char *host, unsigned port, int type, const struct pk_fd_inet_opts *opts)
{
        struct pk_fd_inet_opts o = {0};
        if (opts)
                o = *opts;
        if (pk__bad_flags(o.flags, PK_FD_NONBLOCK) || o.backlog < 0)
                return -EINVAL;
        /* The protocols systemd's SocketProtocol= names, each with its types. */
        bool ok = o.protocol == 0                 ? type == SOCK_STREAM || type == SOCK_DGRAM
                  : o.protocol == IPPROTO_SCTP    ? type == SOCK_STREAM || type == SOCK_SEQPACKET
                  : o.protocol == IPPROTO_UDPLITE ? type == SOCK_DGRAM
                                                  : false;
        if (!ok)
                return -EINVAL;
        bool listens = type == SOCK_STREAM || type == SOCK_SEQPACKET;
        struct sockaddr_storage ss;
        socklen_t len;
        int r = make_inet((!host || !*host) && o.dual_stack ? "::" : host, port, false, &ss, &len);
        if (r < 0)
                return r;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        if (o.scope) {
                if (ss.ss_family != AF_INET6)
                        return -EINVAL;
                unsigned idx = if_nametoindex(o.scope);
                if (idx == 0)
                        return -ENODEV;
                sin6->sin6_scope_id = idx;
        }
        int saved = errno;
        PK_CLEANUP_FD int fd = socket(
            ss.ss_family, type | SOCK_CLOEXEC | ((o.flags & PK_FD_NONBLOCK) ? SOCK_NONBLOCK : 0),
            o.protocol);
        if (fd < 0)
                return pk__neg_errno();
        if (ss.ss_family == AF_INET6) {
                int v6only = o.dual_stack ? 0 : 1;
                if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
                        return pk__neg_errno();
        }
        if (listens && (r = set_one(fd, SOL_SOCKET, SO_REUSEADDR)) < 0)
                return r;
        if (o.reuse_port && (r = set_one(fd, SOL_SOCKET, SO_REUSEPORT)) < 0)
                return r;
        if (o.free_bind &&
            (r = ss.ss_family == AF_INET6 ? set_one(fd, IPPROTO_IPV6, IPV6_FREEBIND)
                                          : set_one(fd, IPPROTO_IP, IP_FREEBIND)) < 0)
                return r;
        if (o.device &&
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.device, (socklen_t)strlen(o.device)) < 0)
                return pk__neg_errno();
        if (bind(fd, (struct sockaddr *)&ss, len) < 0)
                return pk__neg_errno();
        if (listens && listen(fd, o.backlog ? o.backlog : SOMAXCONN) < 0)
                return pk__neg_errno();
        errno = saved;
        return pk_take_fd(&fd);
}
