/* SPDX-License-Identifier: MIT */
/* Fuzzes pk_etf_unpack(): the input is "PATTERN\0TERMTEXT"; the term text is
 * parsed, then matched against the pattern with enough pointer arguments
 * for every directive the pattern can hold. */
#include <portkit/etf.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nul = memchr(data, 0, size);
        if (!nul)
                return 0;
        size_t plen = (size_t)(nul - data);
        /* Each hole ('~x' or '_') takes at most two pointers. */
        size_t holes = 0;
        for (size_t i = 0; i < plen; i++)
                holes += data[i] == '~' || data[i] == '_';
        if (holes > SLOTS / 2)
                return 0;
        char *pattern = malloc(plen + 1);
        if (!pattern)
                return 0;
        memcpy(pattern, data, plen);
        pattern[plen] = '\0';
        pk_arena *a = pk_arena_new(1u << 24);
        struct pk_etf_parse_opts opts = {.max_depth = 200, .max_binary = 1u << 16};
        struct pk_term *t;
        if (a &&
            pk_etf_parse(a, (const char *)nul + 1, size - plen - 1, &opts, &t, NULL, NULL) == 1) {
                union {
                        int64_t i;
                        double f;
                        const void *p;
                        size_t n;
                } s[SLOTS];
                memset(s, 0, sizeof(s));
#define P8(k) &s[k], &s[k + 1], &s[k + 2], &s[k + 3], &s[k + 4], &s[k + 5], &s[k + 6], &s[k + 7]
                (void)pk_etf_unpack(t, pattern, P8(0), P8(8), P8(16), P8(24), P8(32), P8(40),
                                    P8(48), P8(56));
#undef P8
        }
        pk_arena_free(a);
        free(pattern);
        return 0;
}
