/* SPDX-License-Identifier: MIT */
/* An open-addressing hash table of borrowed pointers (linear probing,
 * backward-shift deletion, power-of-two size, at most 1/2 full), for the
 * lookups that must stay O(1) at tens of thousands of entries: the sup
 * layer's children by id and by pid.  The caller hashes the key and says how
 * a stored value matches it; values may share a hash (and a key). */
#ifndef PORTKIT_COMMON_HTAB_H
#define PORTKIT_COMMON_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pk__hslot {
        uint64_t h;
        void *v; /* NULL: empty */
};

struct pk__htab {
        struct pk__hslot *slots; /* owned */
        size_t cap;              /* 0 or a power of two */
        size_t n;
};

/* Makes room so that `more` further pk__htab_put calls cannot fail.
 * 0 or -ENOMEM (the table is unchanged). */
int pk__htab_reserve(struct pk__htab *t, size_t more);
/* Stores v (not NULL, borrowed) under h: 0, or -ENOMEM when no room was
 * reserved and growing failed. */
int pk__htab_put(struct pk__htab *t, uint64_t h, void *v);
/* The first value stored under h for which match(v, key) is true, or NULL. */
void *pk__htab_get(const struct pk__htab *t, uint64_t h,
                   bool (*match)(const void *v, const void *key), const void *key);
/* Removes the entry (h, v).  True when it was there. */
bool pk__htab_del(struct pk__htab *t, uint64_t h, const void *v);
/* Frees the slots (not the values); the table is empty and usable again. */
void pk__htab_free(struct pk__htab *t);

/* FNV-1a of a C string, and a 64-bit integer mixer (splitmix64's finaliser). */
uint64_t pk__hash_str(const char *s);
uint64_t pk__hash_u64(uint64_t x);

#endif
