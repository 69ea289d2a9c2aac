/* SPDX-License-Identifier: MIT */
/* Fuzzes the deframers: the first two bytes pick the framing and a split
 * pattern; the rest is input.  The whole input fed at once and the same
 * input fed in pieces must give identical messages, and no message may break
 * the framing's limits (size, line length, no LF inside a line). */
#include <portkit/packet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
        uint8_t *buf;
        size_t len, cap;
        int err;
};

static void put(struct out *o, const struct pk_framing *f, const struct pk_packet_msg *m)
{
        if (m->len > f->max_message)
                abort();
        if (f->kind == PK_FRAMING_LINE) {
                if (m->len > f->arg || memchr(m->data, '\n', m->len))
                        abort();
                if (m->flags != PK_PACKET_EOL && m->flags != PK_PACKET_NOEOL)
                        abort();
        }
        size_t need = o->len + m->len + 2 + sizeof(size_t);
        if (need > o->cap) {
                size_t ncap = need * 2;
                uint8_t *nb = realloc(o->buf, ncap);
                if (!nb)
                        abort();
                o->buf = nb;
                o->cap = ncap;
        }
        memcpy(o->buf + o->len, &m->len, sizeof(size_t));
        o->len += sizeof(size_t);
        o->buf[o->len++] = (uint8_t)m->flags;
        memcpy(o->buf + o->len, m->data, m->len);
        o->len += m->len;
}

static void run(const struct pk_framing *f, const uint8_t *in, size_t n, unsigned int step,
                struct out *o)
{
        struct pk_deframer *d;
        memset(o, 0, sizeof(*o));
        if (pk_deframer_new(f, &d) < 0)
                abort();
        size_t pos = 0;
        while (pos < n) {
                size_t k = step ? step : n;
                if (k > n - pos)
                        k = n - pos;
                int r;
                if (step & 1) {
                        r = pk_deframer_feed(d, in + pos, k);
                } else {
                        void *p;
                        size_t room;
                        r = pk_deframer_space(d, 0, &p, &room);
                        if (r == 0) {
                                if (k > room)
                                        k = room;
                                memcpy(p, in + pos, k);
                                r = pk_deframer_commit(d, k);
                        }
                }
                if (r < 0) {
                        o->err = r;
                        goto done;
                }
                pos += k;
                struct pk_packet_msg m;
                while ((r = pk_deframer_next(d, &m)) == 1)
                        put(o, f, &m);
                if (r < 0) {
                        o->err = r;
                        goto done;
                }
        }
        for (;;) {
                struct pk_packet_msg m;
                int r = pk_deframer_finish(d, &m);
                if (r == 1) {
                        put(o, f, &m);
                        continue;
                }
                o->err = r;
                break;
        }
done:
        pk_deframer_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        struct pk_framing f = {0};
        uint8_t sel = data[0];
        switch (sel % 5) {
        case 0:
                f.kind = PK_FRAMING_STREAM;
                break;
        case 1:
        case 2:
        case 3:
                f.kind = PK_FRAMING_PACKET;
                f.arg = (sel % 5 == 1) ? 1 : (sel % 5 == 2) ? 2 : 4;
                f.max_message = (sel & 0x80) ? 300 : 0;
                break;
        default:
                f.kind = PK_FRAMING_LINE;
                f.arg = 1 + (sel >> 3);
                break;
        }
        struct pk_framing norm;
        if (pk_framing_normalize(&f, &norm) < 0)
                abort();
        unsigned int step = 1 + data[1] % 17;
        struct out whole, split;
        run(&norm, data + 2, size - 2, 0, &whole);
        run(&norm, data + 2, size - 2, step, &split);
        if (norm.kind != PK_FRAMING_STREAM) {
                /* A size error may surface earlier in the split run, so only
                 * successful runs must agree byte for byte. */
                if (whole.err != split.err)
                        abort();
                if (whole.err == 0 &&
                    (whole.len != split.len ||
                     (whole.len > 0 && memcmp(whole.buf, split.buf, whole.len) != 0)))
                        abort();
        }
        free(whole.buf);
        free(split.buf);
        return 0;
}
