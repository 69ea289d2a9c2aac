/* SPDX-License-Identifier: MIT */
/* The port side's request/reply loop on ETF terms: decode each message,
 * call the handler, encode and send its reply, one arena reused throughout. */
#include "internal.h"
#include "portkit/port.h"

#include <string.h>

/* Sets *t to {error, badarg} in arena a. */
static int badarg(pk_arena *a, struct pk_term *t)
{
        struct pk_term *e = pk_arena_terms(a, 2);
        if (!e)
                return -ENOMEM;
        pk_term_set_atom(&e[0], "error", 5);
        pk_term_set_atom(&e[1], "badarg", 6);
        pk_term_set_tuple(t, e, 2);
        return 0;
}

int pk_port_serve(struct pk_port_self *s, pk_port_serve_fn fn, void *ctx)
{
        if (!s || !fn)
                return -EINVAL;
        pk_arena *a = pk_arena_new(0);
        if (!a)
                return -ENOMEM;
        struct pk_etf_buf out;
        pk_etf_buf_init(&out, 0);
        const struct pk_etf_decode_opts dopts = {.flags = PK_ETF_NO_FUNS};
        const struct pk_etf_encode_opts eopts = PK_ETF_ENCODE_OPTS_INIT;
        int r;
        struct pk_packet_msg m;
        while ((r = pk_port_self_read(s, &m)) == 1) {
                pk_arena_reset(a);
                pk_etf_buf_reset(&out);
                struct pk_term *req, reply;
                if (pk_etf_decode(a, m.data, m.len, &dopts, &req, NULL, NULL) == 0)
                        r = fn(ctx, req, a, &reply);
                else
                        r = badarg(a, &reply);
                if (r < 0)
                        break;
                r = pk_etf_encode(&out, &reply, &eopts);
                if (r < 0)
                        break;
                r = pk_port_self_write(s, out.data, out.len);
                if (r < 0)
                        break;
        }
        pk_etf_buf_free(&out);
        pk_arena_free(a);
        return r;
}
