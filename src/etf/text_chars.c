/* SPDX-License-Identifier: MIT */
/* Erlang's reserved words, the one table the scanner (which refuses them
 * bare) and the printers (which quote them) share.  It is erl_scan's
 * reserved_word/1 on OTP 25, 'fun' included: io_lib writes the atom as
 * 'fun', and a bare fun starts an expression, never an atom.  The feature
 * words 'maybe' and 'else' are not reserved on OTP 25 by default. */
#include "text-internal.h"

#include <string.h>

bool pk__txt_reserved(const char *s, size_t n)
{
        static const char *const words[] = {
            "after", "and",  "andalso", "band",   "begin",   "bnot", "bor", "bsl",  "bsr",
            "bxor",  "case", "catch",   "cond",   "div",     "end",  "fun", "if",   "let",
            "not",   "of",   "or",      "orelse", "receive", "rem",  "try", "when", "xor"};
        if (n < 2 || n > 7)
                return false;
        for (size_t i = 0; i < PK_ARRAY_SIZE(words); i++)
                if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
                        return true;
        return false;
}
