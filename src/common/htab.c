/* SPDX-License-Identifier: MIT */
/* The open-addressing pointer table of htab.h: linear probing at load <= 1/2,
 * deletion by backward shift (no tombstones, so lookups stay short however
 * many entries came and went). */
#include "common/htab.h"

#include "internal.h"

static size_t want_cap(size_t n)
{
        size_t cap = 16;
        while (cap < n * 2)
                cap *= 2;
        return cap;
}

static void insert_slot(struct pk__hslot *slots, size_t cap, uint64_t h, void *v)
{
        size_t i = (size_t)h & (cap - 1);
        while (slots[i].v)
                i = (i + 1) & (cap - 1);
        slots[i].h = h;
        slots[i].v = v;
}

int pk__htab_reserve(struct pk__htab *t, size_t more)
{
        if (more > SIZE_MAX / 4 - t->n)
                return -ENOMEM;
        size_t need = t->n + more;
        if (need * 2 <= t->cap)
                return 0;
        size_t cap = want_cap(need);
        struct pk__hslot *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->cap; i++)
                if (t->slots[i].v)
                        insert_slot(slots, cap, t->slots[i].h, t->slots[i].v);
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
        return 0;
}

int pk__htab_put(struct pk__htab *t, uint64_t h, void *v)
{
        if (!v)
                return -EINVAL;
        int r = pk__htab_reserve(t, 1);
        if (r < 0)
                return r;
        insert_slot(t->slots, t->cap, h, v);
        t->n++;
        return 0;
}

void *pk__htab_get(const struct pk__htab *t, uint64_t h,
                   bool (*match)(const void *v, const void *key), const void *key)
{
        if (t->cap == 0)
                return NULL;
        for (size_t i = (size_t)h & (t->cap - 1); t->slots[i].v; i = (i + 1) & (t->cap - 1))
                if (t->slots[i].h == h && match(t->slots[i].v, key))
                        return t->slots[i].v;
        return NULL;
}

bool pk__htab_del(struct pk__htab *t, uint64_t h, const void *v)
{
        if (t->cap == 0)
                return false;
        size_t mask = t->cap - 1;
        size_t i = (size_t)h & mask;
        while (t->slots[i].v && !(t->slots[i].h == h && t->slots[i].v == v))
                i = (i + 1) & mask;
        if (!t->slots[i].v)
                return false;
        /* backward shift: pull later entries of the run into the hole when
         * their home slot is not between the hole and themselves */
        size_t hole = i;
        for (size_t j = (i + 1) & mask; t->slots[j].v; j = (j + 1) & mask) {
                size_t home = (size_t)t->slots[j].h & mask;
                bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
                if (stays)
                        continue;
                t->slots[hole] = t->slots[j];
                hole = j;
        }
        t->slots[hole].v = NULL;
        t->slots[hole].h = 0;
        t->n--;
        return true;
}

void pk__htab_free(struct pk__htab *t)
{
        free(t->slots);
        t->slots = NULL;
        t->cap = t->n = 0;
}

uint64_t pk__hash_str(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

uint64_t pk__hash_u64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}
