/* SPDX-License-Identifier: MIT */
/**
 * @file etf.h
 * @brief Erlang External Term Format: the term model, an arena, and (below)
 *        the codec, text syntax and pattern helpers.
 *
 * The layer is pure: no I/O, no global state.  A decoded or built term is a
 * tree of `struct pk_term` values living in a `pk_arena`; freeing the arena
 * frees the whole tree at once.  Strings, atoms and binaries may point into
 * the caller's input buffer (zero-copy): such a term is valid only while both
 * the arena and that buffer live.
 */
#ifndef PORTKIT_ETF_H
#define PORTKIT_ETF_H

#include <portkit/error.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Term model                                                          */
/* ------------------------------------------------------------------ */

/** Kinds of term.  Values are stable (they are part of the ABI). */
enum pk_term_type {
        PK_TERM_INT = 1, /**< an integer that fits int64_t: v.i */
        PK_TERM_BIG,     /**< an integer outside int64_t: v.big */
        PK_TERM_FLOAT,   /**< a finite double: v.f */
        PK_TERM_ATOM,    /**< v.atom, UTF-8 */
        PK_TERM_NIL,     /**< [] (no payload) */
        PK_TERM_LIST,    /**< a non-empty list: v.list */
        PK_TERM_STRING,  /**< a non-empty proper list of integers 0..255 kept as bytes: v.string */
        PK_TERM_TUPLE,   /**< v.tuple */
        PK_TERM_MAP,     /**< v.map */
        PK_TERM_BINARY,  /**< a binary or bitstring: v.bin */
        PK_TERM_PID,     /**< v.pid */
        PK_TERM_PORT,    /**< v.port */
        PK_TERM_REF,     /**< v.ref */
        PK_TERM_EXPORT,  /**< fun M:F/A: v.export */
        PK_TERM_FUN      /**< a local fun (NEW_FUN_EXT): v.fun */
};

struct pk_term;

/** The fields of a local fun, kept so it re-encodes byte for byte. */
struct pk_fun {
        uint8_t arity;
        uint8_t uniq[16];
        uint32_t index;
        const char *module; /**< UTF-8, not NUL-terminated */
        uint16_t module_len;
        uint32_t num_free;
        struct pk_term *old_index; /**< an integer term */
        struct pk_term *old_uniq;  /**< an integer term */
        struct pk_term *pid;       /**< a pid term */
        struct pk_term *free_vars; /**< num_free terms */
};

/**
 * One term.  32 bytes on LP64.  Arrays of terms (tuple elements, list
 * elements, map pairs) are contiguous.  Names (atoms, node names) are UTF-8
 * and not NUL-terminated; their length is in bytes (at most 255 characters,
 * so at most 1020 bytes).
 */
struct pk_term {
        uint8_t type; /**< an enum pk_term_type value */
        union {
                int64_t i; /**< PK_TERM_INT */
                double f;  /**< PK_TERM_FLOAT: never NaN or infinite */
                /** PK_TERM_BIG: magnitude in little-endian bytes, canonical:
                 *  digits[len-1] != 0 and the value does not fit int64_t. */
                struct {
                        const uint8_t *digits;
                        uint32_t len;
                        uint8_t negative;
                } big;
                struct {
                        const char *name;
                        uint16_t len;
                } atom; /**< PK_TERM_ATOM */
                struct {
                        struct pk_term *elems;
                        uint32_t arity;
                } tuple; /**< PK_TERM_TUPLE */
                /** PK_TERM_LIST: len >= 1 elements then a tail, which is a
                 *  PK_TERM_NIL term for a proper list (never NULL). */
                struct {
                        struct pk_term *elems;
                        struct pk_term *tail;
                        uint32_t len;
                } list;
                /** PK_TERM_STRING: the list [b0, b1, ...] of len >= 1 bytes. */
                struct {
                        const uint8_t *bytes;
                        uint32_t len;
                } string;
                /** PK_TERM_MAP: pairs[2k] is a key, pairs[2k+1] its value;
                 *  keys are distinct. */
                struct {
                        struct pk_term *pairs;
                        uint32_t arity;
                } map;
                /** PK_TERM_BINARY: size bytes; bits (1..8) of the last byte
                 *  are used, counted from the most significant bit.  A binary
                 *  (whole bytes, including the empty one) has bits == 8. */
                struct {
                        const uint8_t *data;
                        size_t size;
                        uint8_t bits;
                } bin;
                struct {
                        const char *node;
                        uint16_t node_len;
                        uint32_t id, serial, creation;
                } pid; /**< PK_TERM_PID */
                struct {
                        const char *node;
                        uint16_t node_len;
                        uint32_t creation;
                        uint64_t id;
                } port; /**< PK_TERM_PORT */
                struct {
                        const char *node;
                        uint16_t node_len;
                        uint16_t len; /**< 1..5 id words */
                        uint32_t creation;
                        const uint32_t *ids;
                } ref; /**< PK_TERM_REF */
                struct {
                        const char *module, *function;
                        uint16_t module_len, function_len;
                        uint8_t arity;
                } export;                 /**< PK_TERM_EXPORT */
                const struct pk_fun *fun; /**< PK_TERM_FUN */
        } v;
};

/* ------------------------------------------------------------------ */
/* Arena                                                               */
/* ------------------------------------------------------------------ */

/** A bump allocator that owns every term and copied byte of a tree. */
typedef struct pk_arena pk_arena;

/**
 * @brief Creates an arena.
 * @param max_bytes hard cap on the total bytes it may hand out (0: no cap
 *        beyond SIZE_MAX); allocations past it fail with PK_ETERMSIZE.
 * @return the arena (caller owns; free with pk_arena_free()), or NULL when
 *         out of memory.
 */
PK_API pk_arena *pk_arena_new(size_t max_bytes);

/** @brief Frees the arena and everything allocated in it.  Accepts NULL; returns NULL. */
PK_API pk_arena *pk_arena_free(pk_arena *a);

/** @brief Forgets every allocation but keeps the first block for reuse (cheap for hot loops). */
PK_API void pk_arena_reset(pk_arena *a);

/**
 * @brief Allocates n bytes aligned for any term.
 * @return memory owned by the arena, or NULL (out of memory, or over the cap;
 *         pk_arena_last_error() tells which: -ENOMEM or PK_ETERMSIZE).
 */
PK_API void *pk_arena_alloc(pk_arena *a, size_t n);

/** @brief Copies n bytes into the arena; NULL on failure as pk_arena_alloc(). */
PK_API void *pk_arena_memdup(pk_arena *a, const void *p, size_t n);

/** @brief Allocates an array of n zeroed terms (n may be 0: returns a non-NULL pointer). */
PK_API struct pk_term *pk_arena_terms(pk_arena *a, size_t n);

/** @brief Total bytes handed out since creation or the last reset. */
PK_API size_t pk_arena_used(const pk_arena *a);

/** @brief -ENOMEM or PK_ETERMSIZE for the last failed allocation, 0 if none. */
PK_API int pk_arena_last_error(const pk_arena *a);

/* ------------------------------------------------------------------ */
/* Building terms in place.  Each setter fills *t; borrowed pointers    */
/* (names, bytes, element arrays) must outlive the term.                */
/* ------------------------------------------------------------------ */

/** @brief *t = the integer v. */
PK_API void pk_term_set_int(struct pk_term *t, int64_t v);
/** @brief *t = the float v.  @return 0, or PK_EBADFLOAT for NaN/infinity (t untouched). */
PK_API int pk_term_set_float(struct pk_term *t, double v);
/**
 * @brief *t = the integer with this little-endian magnitude and sign.
 * Normalises: leading zero bytes dropped, a value that fits int64_t becomes
 * PK_TERM_INT, -0 becomes 0.  Borrows digits (the canonical prefix).
 */
PK_API void pk_term_set_big(struct pk_term *t, const uint8_t *digits, size_t len, int negative);
/**
 * @brief *t = the atom named by len bytes of UTF-8 (borrowed).
 * @return 0, PK_EATOMLEN (over 255 characters) or PK_EATOMUTF8.
 */
PK_API int pk_term_set_atom(struct pk_term *t, const char *name, size_t len);
/** @brief *t = []. */
PK_API void pk_term_set_nil(struct pk_term *t);
/** @brief *t = {elems[0], ...}; borrows elems. */
PK_API void pk_term_set_tuple(struct pk_term *t, struct pk_term *elems, uint32_t arity);
/**
 * @brief *t = [elems[0], ... | tail]; borrows elems and tail.
 * len 0 makes *t a copy of *tail (which must then be given); tail NULL means [].
 * @return 0, or -ENOMEM when a NIL tail had to be allocated and could not be.
 */
PK_API int pk_term_set_list(pk_arena *a, struct pk_term *t, struct pk_term *elems, uint32_t len,
                            struct pk_term *tail);
/** @brief *t = the byte list of len bytes (borrowed); len 0 gives []. */
PK_API void pk_term_set_string(struct pk_term *t, const uint8_t *bytes, uint32_t len);
/** @brief *t = #{pairs[0] => pairs[1], ...}; borrows pairs (2 * arity terms).  Does not check for
 * duplicates. */
PK_API void pk_term_set_map(struct pk_term *t, struct pk_term *pairs, uint32_t arity);
/** @brief *t = the binary of size bytes (borrowed). */
PK_API void pk_term_set_binary(struct pk_term *t, const void *data, size_t size);
/**
 * @brief *t = the bitstring of size bytes whose last byte uses bits (1..8) bits.
 * @return 0, or PK_EBITS when bits is outside 1..8 or size is 0 with bits != 8.
 */
PK_API int pk_term_set_bitstring(struct pk_term *t, const void *data, size_t size, unsigned bits);

/** @brief The number of elements of a proper list (NIL: 0; STRING: its length); -1 if t is not a
 * proper list. */
PK_API int64_t pk_term_list_length(const struct pk_term *t);

/**
 * @brief Compares in Erlang's term order (number < atom < reference < fun <
 *        port < pid < tuple < map < nil < list < bitstring).
 * @param exact nonzero for =:= order (1 and 1.0 differ: the integer sorts
 *        first, as map keys do); zero for == (1 == 1.0).
 * @return <0, 0 or >0.  Strings compare equal to the same byte lists.
 */
PK_API int pk_term_compare(const struct pk_term *a, const struct pk_term *b, int exact);

#ifdef __cplusplus
}
#endif
#endif
