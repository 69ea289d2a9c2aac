/* SPDX-License-Identifier: MIT */
/* Writes terms exactly as io_lib:format("~w", [T]) does on OTP 25: binaries
 * as byte lists, maps in key order, pids, ports, refs and funs; leaves come
 * from print_leaf.c.  The writer keeps its own stack, so term depth never
 * drives recursion. */
#include "text-internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- leaves shared with ~p ---- */

static const char nonode[] = "nonode@nohost";

static bool is_local(const char *node, size_t len, uint32_t creation)
{
        return creation == 0 && len == sizeof(nonode) - 1 && memcmp(node, nonode, len) == 0;
}

static void w_dot_u(struct pk__sbuf *sb, uint64_t v)
{
        pk__sb_putc(sb, '.');
        pk__sb_putu(sb, v);
}

static void w_binary(struct pk__sbuf *sb, const struct pk_term *t)
{
        pk__sb_puts(sb, "<<");
        size_t n = t->v.bin.size;
        unsigned bits = t->v.bin.bits;
        size_t whole = n > 0 && bits < 8 ? n - 1 : n;
        pk__sb_byte_list(sb, t->v.bin.data, whole, false);
        if (whole < n) {
                if (whole)
                        pk__sb_putc(sb, ',');
                pk__sb_putu(sb, (unsigned)t->v.bin.data[whole] >> (8 - bits));
                pk__sb_putc(sb, ':');
                pk__sb_putu(sb, bits);
        }
        pk__sb_puts(sb, ">>");
}

/* Writes a term that has no subterms to walk; returns false for containers. */
static bool w_leaf(struct pk__sbuf *sb, const struct pk_term *t)
{
        switch (t->type) {
        case PK_TERM_INT:
        case PK_TERM_BIG:
                pk__txt_integer(sb, t);
                return true;
        case PK_TERM_FLOAT:
                pk__txt_float(sb, t->v.f);
                return true;
        case PK_TERM_ATOM:
                pk__txt_atom(sb, t->v.atom.name, t->v.atom.len);
                return true;
        case PK_TERM_NIL:
                pk__sb_puts(sb, "[]");
                return true;
        case PK_TERM_STRING:
                pk__sb_putc(sb, '[');
                pk__sb_byte_list(sb, t->v.string.bytes, t->v.string.len, false);
                pk__sb_putc(sb, ']');
                return true;
        case PK_TERM_BINARY:
                w_binary(sb, t);
                return true;
        case PK_TERM_PID:
                if (is_local(t->v.pid.node, t->v.pid.node_len, t->v.pid.creation)) {
                        pk__sb_puts(sb, "<0");
                } else {
                        pk__sb_puts(sb, "#Pid<");
                        pk__txt_atom(sb, t->v.pid.node, t->v.pid.node_len);
                }
                w_dot_u(sb, t->v.pid.id);
                w_dot_u(sb, t->v.pid.serial);
                if (!is_local(t->v.pid.node, t->v.pid.node_len, t->v.pid.creation))
                        w_dot_u(sb, t->v.pid.creation);
                pk__sb_putc(sb, '>');
                return true;
        case PK_TERM_PORT:
                pk__sb_puts(sb, "#Port<");
                if (is_local(t->v.port.node, t->v.port.node_len, t->v.port.creation)) {
                        pk__sb_putc(sb, '0');
                        w_dot_u(sb, t->v.port.id);
                } else {
                        pk__txt_atom(sb, t->v.port.node, t->v.port.node_len);
                        w_dot_u(sb, t->v.port.id);
                        w_dot_u(sb, t->v.port.creation);
                }
                pk__sb_putc(sb, '>');
                return true;
        case PK_TERM_REF:
                pk__sb_puts(sb, "#Ref<");
                if (is_local(t->v.ref.node, t->v.ref.node_len, t->v.ref.creation)) {
                        pk__sb_putc(sb, '0');
                } else {
                        pk__txt_atom(sb, t->v.ref.node, t->v.ref.node_len);
                        w_dot_u(sb, t->v.ref.creation);
                }
                for (uint16_t i = t->v.ref.len; i-- > 0;)
                        w_dot_u(sb, t->v.ref.ids[i]);
                pk__sb_putc(sb, '>');
                return true;
        case PK_TERM_EXPORT:
                pk__sb_puts(sb, "fun ");
                pk__txt_atom(sb, t->v.mfa.module, t->v.mfa.module_len);
                pk__sb_putc(sb, ':');
                pk__txt_atom(sb, t->v.mfa.function, t->v.mfa.function_len);
                pk__sb_putc(sb, '/');
                pk__sb_putu(sb, t->v.mfa.arity);
                return true;
        case PK_TERM_FUN: {
                const struct pk_fun *f = t->v.fun;
                pk__sb_puts(sb, "#Fun<");
                pk__txt_atom(sb, f->module, f->module_len);
                pk__sb_putc(sb, '.');
                if (f->old_index)
                        pk__txt_integer(sb, f->old_index);
                pk__sb_putc(sb, '.');
                if (f->old_uniq)
                        pk__txt_integer(sb, f->old_uniq);
                pk__sb_putc(sb, '>');
                return true;
        }
        default:
                return false;
        }
}

/* ---- the iterative ~w writer ---- */

enum { WF_TUPLE, WF_LIST, WF_CLOSE_LIST, WF_MAP };

struct wframe {
        const struct pk_term *t;
        uint32_t i;
        uint8_t kind;
        uint32_t *order; /* WF_MAP: pair order */
};

int pk__txt_term(struct pk__sbuf *sb, const struct pk_term *root)
{
        struct wframe *st = NULL;
        size_t n = 0, cap = 0;
        const struct pk_term *t = root;
        struct pk__korder ko = {0}; /* key orders of the maps sorted so far */
        int rc = 0;
        for (;;) {
                /* Write t: a leaf at once, a container by pushing a frame. */
                if (t && !w_leaf(sb, t)) {
                        if (n == cap) {
                                size_t nc = cap ? cap * 2 : 16;
                                struct wframe *ns = realloc(st, nc * sizeof(*ns));
                                if (!ns) {
                                        rc = -ENOMEM;
                                        goto out;
                                }
                                st = ns;
                                cap = nc;
                        }
                        struct wframe *f = &st[n++];
                        *f = (struct wframe){.t = t};
                        switch (t->type) {
                        case PK_TERM_TUPLE:
                                f->kind = WF_TUPLE;
                                pk__sb_putc(sb, '{');
                                break;
                        case PK_TERM_LIST:
                                f->kind = WF_LIST;
                                pk__sb_putc(sb, '[');
                                break;
                        case PK_TERM_MAP:
                                f->kind = WF_MAP;
                                pk__sb_puts(sb, "#{");
                                f->order = pk__map_order(t, &ko);
                                if (!f->order) {
                                        rc = -ENOMEM;
                                        goto out;
                                }
                                break;
                        default:
                                n--;
                                rc = -EINVAL;
                                goto out;
                        }
                }
                t = NULL;
                if (sb->err) {
                        rc = sb->err;
                        goto out;
                }
                /* Pick the next subterm to write, closing finished frames. */
                while (n > 0 && !t) {
                        struct wframe *f = &st[n - 1];
                        switch (f->kind) {
                        case WF_TUPLE:
                                if (f->i < f->t->v.tuple.arity) {
                                        if (f->i)
                                                pk__sb_putc(sb, ',');
                                        t = &f->t->v.tuple.elems[f->i++];
                                } else {
                                        pk__sb_putc(sb, '}');
                                        n--;
                                }
                                break;
                        case WF_LIST:
                                if (f->i < f->t->v.list.len) {
                                        if (f->i)
                                                pk__sb_putc(sb, ',');
                                        t = &f->t->v.list.elems[f->i++];
                                        break;
                                }
                                {
                                        const struct pk_term *tail = f->t->v.list.tail;
                                        if (tail->type == PK_TERM_NIL) {
                                                pk__sb_putc(sb, ']');
                                                n--;
                                        } else if (tail->type == PK_TERM_LIST) {
                                                pk__sb_putc(sb, ',');
                                                f->t = tail;
                                                f->i = 0;
                                        } else if (tail->type == PK_TERM_STRING) {
                                                pk__sb_byte_list(sb, tail->v.string.bytes,
                                                                 tail->v.string.len, true);
                                                pk__sb_putc(sb, ']');
                                                n--;
                                        } else {
                                                pk__sb_putc(sb, '|');
                                                f->kind = WF_CLOSE_LIST;
                                                t = tail;
                                        }
                                }
                                break;
                        case WF_CLOSE_LIST:
                                pk__sb_putc(sb, ']');
                                n--;
                                break;
                        case WF_MAP: {
                                uint32_t k = f->i / 2;
                                if (k >= f->t->v.map.arity) {
                                        pk__sb_putc(sb, '}');
                                        free(f->order);
                                        n--;
                                        break;
                                }
                                if (f->i % 2 == 0) {
                                        if (k)
                                                pk__sb_putc(sb, ',');
                                } else {
                                        pk__sb_puts(sb, " => ");
                                }
                                t = &f->t->v.map.pairs[2 * f->order[k] + f->i % 2];
                                f->i++;
                                break;
                        }
                        default:
                                break;
                        }
                }
                if (!t)
                        break;
        }
        rc = sb->err;
out:
        for (size_t i = 0; i < n; i++)
                if (st[i].kind == WF_MAP)
                        free(st[i].order);
        free(st);
        if (ko.tab) /* only a map's keys fill it: leaves skip the call */
                pk__korder_free(&ko);
        return rc;
}

int pk_etf_print_w(const struct pk_term *t, char **ret_str, size_t *ret_len)
{
        return pk_etf_print_w_opts(t, NULL, ret_str, ret_len);
}

int pk_etf_print_w_opts(const struct pk_term *t, const struct pk_etf_print_opts *opts,
                        char **ret_str, size_t *ret_len)
{
        if (!t || !ret_str)
                return -EINVAL;
        struct pk__sbuf sb = {.max = opts ? opts->max_len : 0, .toobig = PK_ETERMSIZE};
        int rc = pk__txt_term(&sb, t);
        if (rc == 0 && !sb.p)
                pk__sb_put(&sb, "", 0);
        if (rc == 0)
                rc = sb.err;
        if (rc < 0) {
                pk__sb_free(&sb);
                return rc;
        }
        *ret_str = sb.p;
        if (ret_len)
                *ret_len = sb.len;
        return 0;
}
