/* SPDX-License-Identifier: MIT */
/* The port side: a port program reading framed messages from its host and
 * writing framed replies, blocking, on fds 0/1, 3/4 or any pair. */
#include "port-internal.h"
#include "portkit/port.h"

#include <fcntl.h>
#include <poll.h>

struct pk_port_self {
        struct pk_framing f;
        struct pk_deframer *d;
        int in_fd, out_fd;
        bool eof;
        bool guard; /* SIGPIPE needs holding off around writes */
};

int pk_port_self_open_fds(const struct pk_framing *f, int in_fd, int out_fd,
                          struct pk_port_self **ret)
{
        static const struct pk_framing stream = {.kind = PK_FRAMING_STREAM};
        if (!ret)
                return -EINVAL;
        if (in_fd < 0 || out_fd < 0 || fcntl(in_fd, F_GETFD) < 0 || fcntl(out_fd, F_GETFD) < 0)
                return -EBADF;
        struct pk_port_self *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        int r = pk_framing_normalize(f ? f : &stream, &s->f);
        if (r == 0)
                r = pk_deframer_new(&s->f, &s->d);
        if (r < 0) {
                free(s);
                return r;
        }
        s->in_fd = in_fd;
        s->out_fd = out_fd;
        s->guard = !pk__port_sigpipe_ignored();
        *ret = s;
        return 0;
}

int pk_port_self_open(const struct pk_framing *f, unsigned int flags, struct pk_port_self **ret)
{
        if (flags & ~PK_PORT_SELF_NOUSE_STDIO)
                return -EINVAL;
        if (flags & PK_PORT_SELF_NOUSE_STDIO)
                return pk_port_self_open_fds(f, 3, 4, ret);
        return pk_port_self_open_fds(f, 0, 1, ret);
}

struct pk_port_self *pk_port_self_close(struct pk_port_self *s)
{
        if (s) {
                pk_deframer_free(s->d);
                free(s);
        }
        return NULL;
}

const struct pk_framing *pk_port_self_framing(const struct pk_port_self *s)
{
        return s ? &s->f : NULL;
}

int pk_port_self_read(struct pk_port_self *s, struct pk_packet_msg *ret)
{
        if (!s || !ret)
                return -EINVAL;
        for (;;) {
                int r = pk_deframer_next(s->d, ret);
                if (r != 0)
                        return r;
                if (s->eof)
                        return pk_deframer_finish(s->d, ret);
                void *p;
                size_t room;
                r = pk_deframer_space(s->d, 0, &p, &room);
                if (r < 0)
                        return r;
                ssize_t n = pk__port_read_once(s->in_fd, p, room);
                if (n == -EAGAIN) {
                        /* An inherited non-blocking descriptor: wait, do not spin. */
                        struct pollfd pf = {.fd = s->in_fd, .events = POLLIN};
                        if (poll(&pf, 1, -1) < 0 && errno != EINTR)
                                return -errno;
                        continue;
                }
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        s->eof = true;
                else
                        pk_deframer_commit(s->d, (size_t)n);
        }
}

int pk_port_self_write(struct pk_port_self *s, const void *data, size_t len)
{
        if (!s || (!data && len > 0))
                return -EINVAL;
        uint8_t hdr[4];
        size_t hlen;
        int r = pk_packet_header(&s->f, len, hdr, &hlen);
        if (r < 0)
                return r;
        struct iovec iov[2] = {
            {.iov_base = hdr, .iov_len = hlen},
            {.iov_base = (void *)(uintptr_t)data, .iov_len = len},
        };
        return pk__port_writev_full(s->out_fd, iov, 2, s->guard);
}
