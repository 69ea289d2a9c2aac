/* SPDX-License-Identifier: MIT */
/* The send queue of a loop-driven port: framed copies of messages, written as
 * the child's input pipe takes them.  It knows descriptors and bytes only; the
 * port's watermarks and watchers are the loop driver's business. */
#include "port-host.h"

#include <poll.h>
#include <string.h>

void pk__sendq_clear(struct pk__sendq *q)
{
        struct pk__sendq_item *it = q->head;
        while (it) {
                struct pk__sendq_item *next = it->next;
                free(it);
                it = next;
        }
        *q = (struct pk__sendq){0};
}

int pk__sendq_append(struct pk__sendq *q, const uint8_t *hdr, size_t hlen, const void *data,
                     size_t len, size_t skip)
{
        struct pk__sendq_item *it = malloc(sizeof(*it) + hlen + len - skip);
        if (!it)
                return -ENOMEM;
        it->next = NULL;
        it->len = hlen + len - skip;
        it->off = 0;
        size_t k = 0;
        if (skip < hlen) {
                memcpy(it->data, hdr + skip, hlen - skip);
                k = hlen - skip;
        }
        size_t poff = skip > hlen ? skip - hlen : 0;
        if (len > poff)
                memcpy(it->data + k, (const uint8_t *)data + poff, len - poff);
        if (q->tail)
                q->tail->next = it;
        else
                q->head = it;
        q->tail = it;
        q->bytes += it->len;
        return 0;
}

int pk__sendq_write(struct pk__sendq *q, int fd, bool guard)
{
        while (q->head) {
                struct iovec iov[16];
                int n = 0;
                for (struct pk__sendq_item *it = q->head; it && n < 16; it = it->next) {
                        iov[n].iov_base = it->data + it->off;
                        iov[n].iov_len = it->len - it->off;
                        n++;
                }
                ssize_t w = pk__port_writev_once(fd, iov, n, guard);
                if (w == -EAGAIN)
                        return 0;
                if (w < 0)
                        return (int)w;
                size_t left = (size_t)w;
                q->bytes -= left;
                while (left > 0 && q->head) {
                        struct pk__sendq_item *it = q->head;
                        size_t rest = it->len - it->off;
                        if (left < rest) {
                                it->off += left;
                                break;
                        }
                        left -= rest;
                        q->head = it->next;
                        if (!q->head)
                                q->tail = NULL;
                        free(it);
                }
        }
        return 0;
}

void pk__sendq_flush_blocking(struct pk__sendq *q, int fd, bool guard, int64_t grace_ms)
{
        int64_t waited = 0;
        while (q->head && fd >= 0) {
                if (pk__sendq_write(q, fd, guard) < 0)
                        break;
                if (!q->head)
                        break;
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                int r = poll(&pf, 1, 100);
                if (r == 0 && (waited += 100) >= grace_ms)
                        break;
        }
        pk__sendq_clear(q);
}
