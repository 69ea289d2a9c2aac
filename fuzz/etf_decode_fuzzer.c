/* SPDX-License-Identifier: MIT */
/* Fuzzes the ETF decoder: any input must decode or fail cleanly; what
 * decodes must re-encode, decode again to an equal term, and re-encode to
 * the same bytes (minor versions 1 and 2, plain and compressed). */
#include <portkit/etf.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct pk_term *t, int mv, int level)
{
        struct pk_etf_buf b1, b2;
        pk_etf_buf_init(&b1, 0);
        pk_etf_buf_init(&b2, 0);
        struct pk_etf_encode_opts o = {mv, level, 0, 0};
        if (pk_etf_encode(&b1, t, &o) != 0)
                abort(); /* every decoded tree is encodable */
        pk_arena *a = pk_arena_new(0);
        if (!a)
                abort();
        struct pk_term *t2;
        size_t used;
        struct pk_etf_decode_opts d = {.max_size = SIZE_MAX, .max_depth = 1u << 20};
        if (pk_etf_decode(a, b1.data, b1.len, &d, &t2, &used, NULL) != 0 || used != b1.len)
                abort();
        if (pk_term_compare(t, t2, 1) != 0)
                abort();
        if (pk_etf_encode(&b2, t2, &o) != 0 || b1.len != b2.len ||
            memcmp(b1.data, b2.data, b1.len) != 0)
                abort();
        pk_arena_free(a);
        pk_etf_buf_free(&b1);
        pk_etf_buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        pk_arena *a = pk_arena_new(0);
        if (!a)
                return 0;
        /* Small limits keep each run fast; every limit is still exercised. */
        struct pk_etf_decode_opts opts = {.max_depth = 2000, .max_size = 16u << 20};
        struct pk_term *t;
        size_t used;
        struct pk_etf_error err;
        int rc = pk_etf_decode(a, data, size, &opts, &t, &used, &err);
        if (rc == 0) {
                if (used > size)
                        abort();
                check(t, 1, 0);
                check(t, 2, 0);
                check(t, 0, size & 1 ? 1 : 0);
        } else if (err.code != rc || (!err.in_compressed && err.offset > size)) {
                abort();
        }
        pk_arena_free(a);
        return 0;
}
