/* SPDX-License-Identifier: MIT */
/* Fuzzes the Erlang term text parser: every input is parsed term by term;
 * each term is printed as ~w and ~p, the ~w text is parsed again and must
 * give an equal term that prints the same.  Any difference aborts. */
#include <portkit/etf.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        pk_arena *a = pk_arena_new(1u << 24);
        if (!a)
                return 0;
        struct pk_etf_parse_opts opts = {.max_depth = 200, .max_binary = 1u << 16};
        size_t off = 0;
        while (off < size) {
                struct pk_term *t;
                size_t used;
                struct pk_etf_text_error err;
                int r =
                    pk_etf_parse(a, (const char *)data + off, size - off, &opts, &t, &used, &err);
                if (r <= 0)
                        break;
                off += used;
                char *w1, *p1;
                size_t l1;
                if (pk_etf_print_w(t, &w1, &l1) < 0)
                        break;
                if (pk_etf_print_p(t, NULL, &p1, NULL) == 0)
                        free(p1);
                char *text = malloc(l1 + 2);
                if (!text) {
                        free(w1);
                        break;
                }
                memcpy(text, w1, l1);
                memcpy(text + l1, ".", 2);
                struct pk_term *back;
                r = pk_etf_parse(a, text, l1 + 1, &opts, &back, NULL, &err);
                if (r != 1) {
                        fprintf(stderr, "reparse failed: %s\n%s\n", err.message, text);
                        abort();
                }
                if (pk_term_compare(t, back, 1) != 0) {
                        fprintf(stderr, "round trip differs: %s\n", text);
                        abort();
                }
                char *w2;
                if (pk_etf_print_w(back, &w2, NULL) == 0) {
                        if (strcmp(w1, w2) != 0) {
                                fprintf(stderr, "~w differs:\n%s\n%s\n", w1, w2);
                                abort();
                        }
                        free(w2);
                }
                free(text);
                free(w1);
        }
        pk_arena_free(a);
        return 0;
}
