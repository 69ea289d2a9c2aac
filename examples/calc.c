/* SPDX-License-Identifier: MIT */
/* calc: a port program that does integer arithmetic of any size on ETF
 * requests, for Erlang and for `portkit call`.
 *
 *   calc [--packet N | --line L | --stream] [--nouse-stdio]      (default --packet 4)
 *
 *   {add, A, B}    -> {ok, A + B}
 *   {mul, A, B}    -> {ok, A * B}
 *   {divide, A, B} -> {ok, A div B}   (truncated toward zero, as Erlang's div)
 *                     {error, badarith} when B is 0
 *   anything else  -> {error, badarg}
 *
 * Integers may be bignums.  Operands over 64 KiB (about 157,000 decimal
 * digits) get {error, system_limit}: schoolbook multiplication of two
 * 64 MiB numbers would take days, and a port must keep answering. */
#include <portkit.h>
#include <signal.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc_bignum.h"

#define CALC_MAX_OPERAND_BYTES ((size_t)64 << 10)

static bool atom_is(const struct pk_term *t, const char *name)
{
        size_t len = strlen(name);
        return t->type == PK_TERM_ATOM && t->v.atom.len == len &&
               memcmp(t->v.atom.name, name, len) == 0;
}

static bool is_int(const struct pk_term *t)
{
        return t->type == PK_TERM_INT || t->type == PK_TERM_BIG;
}

static int to_bn(const struct pk_term *t, struct bn *ret)
{
        if (t->type == PK_TERM_INT)
                return bn_from_i64(ret, t->v.i);
        return bn_from_bytes(ret, t->v.big.digits, t->v.big.len, t->v.big.negative);
}

/* Sets *ret to {Tag, Value-atom}. */
static int tagged_atom(pk_arena *a, const char *tag, const char *value, struct pk_term *ret)
{
        struct pk_term *e = pk_arena_terms(a, 2);
        if (!e)
                return -ENOMEM;
        if (pk_term_set_atom(&e[0], tag, strlen(tag)) < 0 ||
            pk_term_set_atom(&e[1], value, strlen(value)) < 0)
                return -EINVAL;
        pk_term_set_tuple(ret, e, 2);
        return 0;
}

/* Answers one request; the reply lives in arena a. */
static int calc(const struct pk_term *req, pk_arena *a, struct pk_term *ret)
{
        int op = -1;
        if (req->type == PK_TERM_TUPLE && req->v.tuple.arity == 3) {
                const struct pk_term *e = req->v.tuple.elems;
                if (atom_is(&e[0], "add"))
                        op = 0;
                else if (atom_is(&e[0], "mul"))
                        op = 1;
                else if (atom_is(&e[0], "divide"))
                        op = 2;
                if (op >= 0 && !(is_int(&e[1]) && is_int(&e[2])))
                        op = -1;
        }
        if (op < 0)
                return tagged_atom(a, "error", "badarg", ret);
        const struct pk_term *x = &req->v.tuple.elems[1], *y = &req->v.tuple.elems[2];
        if ((x->type == PK_TERM_BIG && x->v.big.len > CALC_MAX_OPERAND_BYTES) ||
            (y->type == PK_TERM_BIG && y->v.big.len > CALC_MAX_OPERAND_BYTES))
                return tagged_atom(a, "error", "system_limit", ret);
        struct bn bx = {0}, by = {0}, br = {0};
        int r = -ENOMEM;
        if (to_bn(x, &bx) < 0 || to_bn(y, &by) < 0)
                goto out;
        if (op == 2 && by.n == 0) {
                r = tagged_atom(a, "error", "badarith", ret);
                goto out;
        }
        int k = op == 0   ? bn_add(&br, &bx, &by)
                : op == 1 ? bn_mul(&br, &bx, &by)
                          : bn_div(&br, &bx, &by);
        if (k < 0)
                goto out;
        uint8_t *bytes;
        size_t len;
        if (bn_to_bytes(&br, &bytes, &len) < 0)
                goto out;
        /* The term borrows its digits: keep them in the arena. */
        uint8_t *digits = pk_arena_memdup(a, bytes, len ? len : 1);
        free(bytes);
        struct pk_term *e = pk_arena_terms(a, 2);
        if (!digits || !e)
                goto out;
        if (pk_term_set_atom(&e[0], "ok", 2) < 0)
                goto out;
        pk_term_set_big(&e[1], digits, len, br.neg);
        pk_term_set_tuple(ret, e, 2);
        r = 0;
out:
        bn_free(&bx);
        bn_free(&by);
        bn_free(&br);
        return r;
}

static int serve_calc(void *ctx, const struct pk_term *req, pk_arena *a, struct pk_term *ret)
{
        (void)ctx;
        return calc(req, a, ret);
}

static int usage(void)
{
        fprintf(stderr, "usage: calc [--packet 1|2|4 | --line L | --stream] [--nouse-stdio]\n");
        return 2;
}

int main(int argc, char **argv)
{
        /* Like every child of the Erlang VM, this port program ignores
         * SIGPIPE: a host that went away is an -EPIPE return, and the port
         * side then skips its SIGPIPE guard (two syscalls per write). */
        signal(SIGPIPE, SIG_IGN);
        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 4};
        unsigned int flags = 0;
        for (int i = 1; i < argc; i++) {
                int m = pk_framing_option(argc, argv, &i, &f);
                if (m == 0 && strcmp(argv[i], "--nouse-stdio") == 0)
                        flags |= PK_PORT_SELF_NOUSE_STDIO;
                else if (m <= 0)
                        return usage();
        }
        struct pk_port_self *port;
        int r = pk_port_self_open(&f, flags, &port);
        if (r < 0) {
                fprintf(stderr, "calc: %s\n", pk_strerror(r));
                return r == -EINVAL ? usage() : 1;
        }
        /* With line or stream framing each message is taken as one term: that
         * works for a term sent in one write, which is all such framings offer. */
        r = pk_port_serve(port, serve_calc, NULL);
        pk_port_self_close(port);
        if (r < 0) {
                fprintf(stderr, "calc: %s\n", pk_strerror(r));
                return 1;
        }
        return 0;
}
