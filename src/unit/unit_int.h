/* SPDX-License-Identifier: MIT */
/* Internal interface of the unit layer: the unit's arena, the per-file parse
 * context, and the word/value helpers shared by the lexer, the key table and
 * the loader. */
#ifndef PORTKIT_UNIT_INT_H
#define PORTKIT_UNIT_INT_H

#include "internal.h"
#include "portkit/unit.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Arena: everything a unit owns comes from here and goes with pk_unit_free(). */
struct ua_block;
struct ua {
        struct ua_block *head;
};
void *ua_alloc(struct ua *a, size_t size);
void ua_free(struct ua *a);
char *ua_strndup(struct ua *a, const char *s, size_t n);
char *ua_strdup(struct ua *a, const char *s);

/* Grows a vector of n elements of elem bytes so one more (plus `extra`
 * zeroed slots) fits; capacity is implied by n (powers of two from 4). */
int ua_grow(struct ua *a, void **v, size_t n, size_t elem, size_t extra);

/* The unit plus what only the parser needs. */
struct unit_priv {
        struct pk_unit pub;
        struct ua arena;
        unsigned int nkeys;
        unsigned int ndropins;
        char *prefix; /* "foo" of foo@bar.service and of foo.service */
        char *suffix; /* "service" */
        bool type_set;
        bool notify_access_set;
        bool restart_signal_set;
        bool timeout_abort_set;
        bool timeout_start_set;
        bool ambient_set;
        bool success_action; /* SuccessAction= given (not enforced, but makes a unit whole) */
        bool other_listen;   /* ListenNetlink= and the like (not enforced) */
};

static inline struct unit_priv *unit_priv(struct pk_unit *u)
{
        return (struct unit_priv *)(void *)u;
}

/* Per-file parse state. */
struct pctx {
        struct unit_priv *p;
        const struct pk_unit_opts *o; /* normalised: limits filled */
        const char *file;             /* arena copy, "" for none */
        unsigned int line;
        const char *section; /* static string or arena copy */
        const char *key;     /* the key being applied */
        struct pk_unit_error *err;
};

/* Fills reterr (if any) and returns code. */
int pk__unit_fail(struct pctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pk__unit_err_set(struct pk_unit_error *e, const char *file, unsigned int line, const char *key,
                      int code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Words: systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE).
 * Returns 1 with *ret (arena) set, 0 at end of input, <0 on bad quoting or
 * escape (message in *why).  *ret_bare_sep is set when the word was an
 * unquoted, unescaped ";" (Exec command separator). */
int pk__unit_word(struct ua *a, const char **p, char **ret, bool *ret_bare_sep, const char **why);

/* C escapes (systemd's cunescape()) of a whole string into the arena: 0,
 * -EINVAL for an unknown escape or one giving a NUL byte, -ENOMEM. */
int pk__unit_cunescape(struct ua *a, const char *s, char **ret);

/* Decodes base64 in place: whitespace is skipped, '=' padding is optional;
 * *len in: the text's length, out: the bytes'.  0 or -EINVAL. */
int pk__unit_unbase64(char *s, size_t *len);

/* Specifier expansion into the arena (%% included).  Errors through c. */
int pk__unit_specifiers(struct pctx *c, const char *in, char **ret);

/* Value parsers. */
int pk__unit_bool(const char *s); /* 1, 0 or -EINVAL */
int pk__unit_uint(const char *s, uint64_t max, uint64_t *ret);
int pk__unit_int(const char *s, int64_t min, int64_t max, int64_t *ret);
int pk__unit_size(const char *s, uint64_t *ret); /* 1024-based K M G T P E suffixes */
int pk__unit_mode(const char *s, unsigned int *ret);
uint64_t pk__unit_usec_to_ms(uint64_t usec);

/* Unit names. */
bool pk__unit_name_valid(const char *name);
const char *pk__unit_name_suffix(const char *name); /* after the last '.', or NULL */

/* Key application (keys.c). */
int pk__unit_assign(struct pctx *c, const char *section, const char *key, char *value);
void pk__unit_defaults(struct pk_unit *u);

/* Exec line parsing (exec.c). */
int pk__unit_exec_parse(struct pctx *c, struct pk_unit_exec_list *list, const char *value);

/* Records a note (warning or not-enforced entry). */
int pk__unit_note(struct pctx *c, bool warning, const char *key, const char *value,
                  const char *message);

/* Lexer (lex.c): feeds every assignment of buf to pk__unit_assign(). */
int pk__unit_lex(struct pctx *c, const char *buf, size_t len);

/* Reads a whole file of at most max bytes (runtime.c); caller frees *ret. */
int pk__unit_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* ExecSearchPath= joined with ':' after prefix ("PATH=" or ""); the caller
 * frees it; NULL when out of memory (runtime.c). */
char *pk__unit_search_path(const struct pk_unit *u, const char *prefix);

/* Capabilities. */
int pk__unit_cap_from_name(const char *name);

#endif
