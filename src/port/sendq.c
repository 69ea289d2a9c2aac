/* SPDX-License-Identifier: MIT */
/* The send queue of a loop-driven port: framed copies of messages written as
 * the child's input pipe takes them, with Erlang's busy high/low watermarks
 * telling the sender when to wait. */
#include "port-host.h"

#include <poll.h>
#include <string.h>

void pk__sendq_clear(struct pk_port *p)
{
        struct pk__sendq_item *it = p->sq_head;
        while (it) {
                struct pk__sendq_item *next = it->next;
                free(it);
                it = next;
        }
        p->sq_head = p->sq_tail = NULL;
        p->sendq_bytes = 0;
}

int pk__sendq_write(struct pk_port *p)
{
        while (p->sq_head) {
                struct iovec iov[16];
                int n = 0;
                for (struct pk__sendq_item *it = p->sq_head; it && n < 16; it = it->next) {
                        iov[n].iov_base = it->data + it->off;
                        iov[n].iov_len = it->len - it->off;
                        n++;
                }
                ssize_t w = pk__port_writev_once(p->out_fd, iov, n, p->guard);
                if (w == -EAGAIN)
                        return 0;
                if (w < 0)
                        return (int)w;
                size_t left = (size_t)w;
                p->sendq_bytes -= left;
                while (left > 0 && p->sq_head) {
                        struct pk__sendq_item *it = p->sq_head;
                        size_t rest = it->len - it->off;
                        if (left < rest) {
                                it->off += left;
                                break;
                        }
                        left -= rest;
                        p->sq_head = it->next;
                        if (!p->sq_head)
                                p->sq_tail = NULL;
                        free(it);
                }
        }
        return 0;
}

int pk__port_send_queued(struct pk_port *p, const void *data, size_t len)
{
        if (p->sendq_bytes >= p->busy_high) {
                p->busy = true;
                return PK_EBUSY_PORT;
        }
        uint8_t hdr[4];
        size_t hlen;
        int r = pk_packet_header(&p->f, len, hdr, &hlen);
        if (r < 0)
                return r;
        if (hlen + len == 0)
                return 0;
        size_t off = 0;
        if (!p->sq_head) {
                /* Nothing queued: try the pipe first, copy only what it refuses. */
                struct iovec iov[2] = {{hdr, hlen}, {(void *)(uintptr_t)data, len}};
                ssize_t w = pk__port_writev_once(p->out_fd, iov, 2, p->guard);
                if (w < 0 && w != -EAGAIN) {
                        p->out_error = (int)w;
                        return (int)w;
                }
                if (w > 0)
                        off = (size_t)w;
                if (off == hlen + len)
                        return 0;
        }
        struct pk__sendq_item *it = malloc(sizeof(*it) + hlen + len - off);
        if (!it)
                return -ENOMEM;
        it->next = NULL;
        it->len = hlen + len - off;
        it->off = 0;
        size_t k = 0;
        if (off < hlen) {
                memcpy(it->data, hdr + off, hlen - off);
                k = hlen - off;
        }
        size_t poff = off > hlen ? off - hlen : 0;
        if (len > poff)
                memcpy(it->data + k, (const uint8_t *)data + poff, len - poff);
        if (p->sq_tail)
                p->sq_tail->next = it;
        else
                p->sq_head = it;
        p->sq_tail = it;
        p->sendq_bytes += it->len;
        if (p->sendq_bytes >= p->busy_high)
                p->busy = true;
        pk__port_update_watchers(p);
        return 0;
}

void pk__sendq_flush_blocking(struct pk_port *p)
{
        /* Erlang's close flushes queued output first; a child that never reads
         * would hold us forever, so flushing stops at the kill grace. */
        int waited = 0;
        while (p->sq_head && p->out_fd >= 0) {
                if (pk__sendq_write(p) < 0)
                        break;
                if (!p->sq_head)
                        break;
                struct pollfd pf = {.fd = p->out_fd, .events = POLLOUT};
                int r = poll(&pf, 1, 100);
                if (r == 0 && (waited += 100) >= p->kill_grace_ms)
                        break;
        }
        pk__sendq_clear(p);
}
