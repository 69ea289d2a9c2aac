/* SPDX-License-Identifier: MIT */
/* Internal helpers shared by the etf sources. */
#ifndef PORTKIT_ETF_INTERNAL_H
#define PORTKIT_ETF_INTERNAL_H

#include "internal.h"
#include "portkit/etf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Counts the code points of len bytes of UTF-8, rejecting overlongs,
 * surrogates and values above U+10FFFF.  Returns the count or -1. */
ptrdiff_t pk__utf8_count(const uint8_t *s, size_t len);

/* Checks an atom name: 0, PK_EATOMUTF8 or PK_EATOMLEN (> 255 characters). */
int pk__atom_check(const char *name, size_t len);

/* True when the term is a list-like value: NIL, LIST or STRING. */
static inline bool pk__is_listish(const struct pk_term *t)
{
        return t->type == PK_TERM_NIL || t->type == PK_TERM_LIST || t->type == PK_TERM_STRING;
}

#endif
