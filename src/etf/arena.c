/* SPDX-License-Identifier: MIT */
/* The bump allocator behind every term tree: one free releases a whole tree,
 * and a hard byte cap keeps hostile input from asking for unbounded memory. */
#include "etf-internal.h"

#include <stdint.h>
#include <string.h>

#define PK_ARENA_FIRST_BLOCK 4096u
#define PK_ARENA_MAX_BLOCK (1u << 20)

static inline uint8_t *block_data(struct pk_arena_block *b)
{
        return pk__arena_block_data(b);
}

pk_arena *pk_arena_new(size_t max_bytes)
{
        pk_arena *a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        a->max_bytes = max_bytes ? max_bytes : SIZE_MAX;
        a->next_block = PK_ARENA_FIRST_BLOCK;
        return a;
}

static void free_blocks(struct pk_arena_block *b)
{
        while (b) {
                struct pk_arena_block *next = b->next;
                free(b);
                b = next;
        }
}

pk_arena *pk_arena_free(pk_arena *a)
{
        if (a) {
                free_blocks(a->head);
                free(a);
        }
        return NULL;
}

void pk_arena_reset(pk_arena *a)
{
        if (!a || !a->head)
                return;
        if (!a->head->next) {
                /* One block (the usual state of a reused arena): just empty it. */
                a->head->used = 0;
                a->handed_out = 0;
                a->last_error = 0;
                return;
        }
        /* Keep the largest block (an oversized one-off may sit behind the
         * head), so a hot loop decoding similar terms stops calling malloc. */
        struct pk_arena_block *keep = a->head, **link = &a->head;
        for (struct pk_arena_block **pp = &a->head; *pp; pp = &(*pp)->next)
                if ((*pp)->size > keep->size) {
                        keep = *pp;
                        link = pp;
                }
        *link = keep->next;
        free_blocks(a->head);
        keep->next = NULL;
        keep->used = 0;
        a->head = keep;
        a->handed_out = 0;
        a->last_error = 0;
}

void *pk_arena_alloc(pk_arena *a, size_t n)
{
        size_t need = (n + PK_ARENA_ALIGN - 1) & ~(size_t)(PK_ARENA_ALIGN - 1);
        if (need < n || need > a->max_bytes - a->handed_out) {
                a->last_error = PK_ETERMSIZE;
                return NULL;
        }
        struct pk_arena_block *b = a->head;
        if (!b || b->size - b->used < need) {
                size_t size = a->next_block;
                if (size < need) {
                        /* A one-off block gets 25% slack so that, kept by a
                         * reset, it fits the next term of the same shape. */
                        size = need + need / 4;
                        if (size < need)
                                size = need;
                }
                b = malloc(sizeof(*b) + size);
                if (!b) {
                        a->last_error = -ENOMEM;
                        return NULL;
                }
                b->size = size;
                b->used = 0;
                /* An oversized one-off block goes behind the current one so
                 * the current block's free tail stays usable. */
                if (a->head && size > a->next_block && a->head->size - a->head->used > 256) {
                        b->next = a->head->next;
                        a->head->next = b;
                        b->used = need;
                        a->handed_out += need;
                        return block_data(b);
                }
                b->next = a->head;
                a->head = b;
                if (a->next_block < PK_ARENA_MAX_BLOCK)
                        a->next_block *= 2;
        }
        void *p = block_data(b) + b->used;
        b->used += need;
        a->handed_out += need;
        return p;
}

void *pk_arena_memdup(pk_arena *a, const void *p, size_t n)
{
        void *d = pk_arena_alloc(a, n ? n : 1);
        if (d && n)
                memcpy(d, p, n);
        return d;
}

struct pk_term *pk_arena_terms(pk_arena *a, size_t n)
{
        if (n > SIZE_MAX / sizeof(struct pk_term)) {
                a->last_error = PK_ETERMSIZE;
                return NULL;
        }
        size_t bytes = n * sizeof(struct pk_term);
        struct pk_term *t = pk_arena_alloc(a, bytes ? bytes : 1);
        if (t && bytes)
                memset(t, 0, bytes);
        return t;
}

size_t pk_arena_used(const pk_arena *a)
{
        return a->handed_out;
}

int pk_arena_last_error(const pk_arena *a)
{
        return a->last_error;
}
