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
        PK_TERM_EXPORT,  /**< fun M:F/A: v.mfa */
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
                        uint16_t len; /**< 0..5 id words (0 only from NEWER_REFERENCE_EXT) */
                        uint32_t creation;
                        const uint32_t *ids;
                } ref; /**< PK_TERM_REF */
                struct {
                        const char *module, *function;
                        uint16_t module_len, function_len;
                        uint8_t arity;
                } mfa;                    /**< PK_TERM_EXPORT (`export` would be a C++ keyword) */
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

/** @brief Forgets every allocation but keeps the largest block for reuse (cheap for hot loops). */
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
 * @param exact nonzero for =:= and Erlang's map key order (every integer
 *        sorts before every float: 2 < 1.5, 1 < 1.0); zero for == (1 == 1.0).
 * Walks both terms with a stack on the heap (never the C stack), so any depth
 * is safe; if that memory cannot be had the result orders by address
 * (consistent, but not Erlang's order).
 * @return <0, 0 or >0.  Strings compare equal to the same byte lists.
 */
PK_API int pk_term_compare(const struct pk_term *a, const struct pk_term *b, int exact);

/* ------------------------------------------------------------------ */
/* Codec                                                               */
/* ------------------------------------------------------------------ */

/** Default nesting limit: containers inside containers (a list's tail does not count). */
#define PK_ETF_DEFAULT_MAX_DEPTH 10000u
/** Default cap on the bytes one decode may allocate (term nodes, copies, inflated data). */
#define PK_ETF_DEFAULT_MAX_SIZE ((size_t)128 << 20)
/** Default cap on a bignum's magnitude in bytes: the VM's limit, 2^19-1 64-bit digits. */
#define PK_ETF_DEFAULT_MAX_BIGNUM ((size_t)((1u << 19) - 1) * 8u)

/** Decoder flags (struct pk_etf_decode_opts.flags). */
enum pk_etf_decode_flags {
        /** Refuse NEW_FUN_EXT and EXPORT_EXT with PK_EFUN (Erlang's data-only idea). */
        PK_ETF_NO_FUNS = 1u << 0,
        /** Fail with PK_ETRAILING when bytes follow the term (default: report them). */
        PK_ETF_NO_TRAILING = 1u << 1,
        /** Copy binaries, strings, atoms and bignum digits into the arena, so the
         *  tree does not borrow the input buffer. */
        PK_ETF_COPY = 1u << 2,
        /** The input has no version byte: it starts directly with a tag. */
        PK_ETF_NO_VERSION = 1u << 3
};

/**
 * Decoder options.  A zero-initialised struct (or a NULL pointer) gives the
 * safe defaults: depth 10,000, 128 MiB, the VM's bignum cap, funs decoded as
 * inert data, trailing bytes reported but allowed.
 */
struct pk_etf_decode_opts {
        uint32_t max_depth;      /**< 0: PK_ETF_DEFAULT_MAX_DEPTH */
        size_t max_size;         /**< 0: PK_ETF_DEFAULT_MAX_SIZE */
        size_t max_bignum_bytes; /**< 0: PK_ETF_DEFAULT_MAX_BIGNUM */
        unsigned flags;          /**< enum pk_etf_decode_flags */
        /** Optional atom hook (no-new-atoms mode): called for every atom, node
         *  name and module name with its UTF-8 name; return nonzero to accept,
         *  zero to fail the decode with PK_EATOMREFUSED. */
        int (*atom_filter)(void *ctx, const char *name, size_t len);
        void *atom_ctx; /**< passed to atom_filter */
};

/** Where and why a decode failed. */
struct pk_etf_error {
        int code;          /**< the PK_E* (or -ENOMEM) code, as returned */
        size_t offset;     /**< byte offset of the offending item in the input, or, when
                                in_compressed is set, in the inflated data (which starts
                                at the tag after the 6-byte compressed header) */
        int in_compressed; /**< nonzero when offset is inside inflated data */
};

/**
 * @brief Decodes one ETF term (version byte 131, optionally compressed) into a tree.
 *
 * Iterative (an explicit stack on the heap), so input cannot grow the C
 * stack.  Every length is checked against the bytes left before anything is
 * allocated.  The duplicate-key check costs O(n log n) a map whatever the
 * keys, and sorts each map met in keys once per decode, so maps keyed by maps
 * cost time linear in their nesting.  Accepts every form OTP 25's binary_to_term accepts, including
 * FLOAT_EXT, ATOM_EXT/SMALL_ATOM_EXT (Latin-1, converted to UTF-8),
 * PID_EXT/PORT_EXT/REFERENCE_EXT/NEW_REFERENCE_EXT and non-canonical bignums
 * (normalised); refuses FUN_EXT (PK_EFUN), LOCAL_EXT (PK_ELOCAL), atom cache
 * references and distribution headers (PK_EATOMCACHE).
 *
 * @param a      arena that receives the tree (and copies, and inflated data).
 * @param buf    input; borrowed: unless PK_ETF_COPY is set, binaries, strings,
 *               ASCII/UTF-8 atoms and bignum digits of an uncompressed term point
 *               into it, so it must outlive the tree.
 * @param len    input length.
 * @param opts   NULL or options (see struct pk_etf_decode_opts).
 * @param[out] ret_term  the term (owned by the arena); untouched on failure.
 * @param[out] ret_used  NULL or the bytes consumed (so concatenated terms can be
 *                       walked); untouched on failure.
 * @param[out] reterr    NULL or where and why it failed (written on failure only).
 * @return 0, or PK_EBADVERSION, PK_ETRUNCATED, PK_EBADTAG, PK_EATOMLEN,
 *         PK_EATOMUTF8, PK_EATOMREFUSED, PK_EDEPTH, PK_ETERMSIZE, PK_EBIGNUM,
 *         PK_EZLIB, PK_EZSIZE, PK_EDUPKEY, PK_EBADFLOAT, PK_EBITS, PK_EFUN,
 *         PK_ELOCAL, PK_ETRAILING, PK_EBADREF, PK_EATOMCACHE, PK_EBADARITY,
 *         -EINVAL (NULL arguments) or -ENOMEM.  On failure the arena may hold
 *         partial allocations (freed with it).
 */
PK_API int pk_etf_decode(pk_arena *a, const void *buf, size_t len,
                         const struct pk_etf_decode_opts *opts, struct pk_term **ret_term,
                         size_t *ret_used, struct pk_etf_error *reterr);

/* ---- growable output buffer ---- */

/**
 * A growable byte buffer with a hard cap.  Initialise with pk_etf_buf_init()
 * (or zero it: then there is no cap).  Errors are sticky: after a failed
 * write, err holds the code and later writes do nothing and return it, so a
 * run of pk_etf_put_*() calls can be checked once at the end.
 */
struct pk_etf_buf {
        uint8_t *data; /**< len bytes written (owned; free with pk_etf_buf_free()) */
        size_t len;    /**< bytes written */
        size_t cap;    /**< bytes allocated */
        size_t max;    /**< hard cap on len (0: none) */
        int err;       /**< first error (0, -ENOMEM, PK_ETERMSIZE for the cap, or a
                            put function's input error) */
};

/** @brief Empties *b and sets its cap (max 0: no cap).  Allocates nothing. */
PK_API void pk_etf_buf_init(struct pk_etf_buf *b, size_t max);
/** @brief Frees b's memory and re-initialises it (keeping the cap).  Accepts NULL. */
PK_API void pk_etf_buf_free(struct pk_etf_buf *b);
/** @brief Sets len and err to 0, keeping the memory for reuse. */
PK_API void pk_etf_buf_reset(struct pk_etf_buf *b);
/**
 * @brief Makes room for n more bytes (grows geometrically).
 * @return 0, or (also stored in b->err) PK_ETERMSIZE when len + n would pass the
 *         cap, or -ENOMEM.
 */
PK_API int pk_etf_buf_reserve(struct pk_etf_buf *b, size_t n);
/** @brief Appends n bytes.  @return 0 or the sticky error. */
PK_API int pk_etf_buf_append(struct pk_etf_buf *b, const void *p, size_t n);

/* ---- tree encoder ---- */

/** Encoder options.  Initialise with PK_ETF_ENCODE_OPTS_INIT (minor version 2). */
struct pk_etf_encode_opts {
        /** term_to_binary's minor_version: 0 (FLOAT_EXT, Latin-1 ATOM_EXT),
         *  1 (NEW_FLOAT_EXT, Latin-1 ATOM_EXT: OTP 25's default) or 2
         *  (NEW_FLOAT_EXT, UTF-8 atoms: OTP 26's default). */
        int minor_version;
        /** 0: plain; 1..9: zlib level, used only when the result is smaller, as
         *  term_to_binary(T, [{compressed, Level}]) does (6 = [compressed]). */
        int compress_level;
        /** Whose term_to_binary order maps of over 32 keys are written in: 0
         *  (the default, now 25) or 25 (OTP 25's hash-trie order).  Other
         *  values give -EINVAL. */
        int map_order_otp;
        /** Nonzero: every map in Erlang's map key order, as
         *  term_to_binary(T, [deterministic]) writes them (map_order_otp is
         *  then not used). */
        int deterministic;
};

/** Default encoder options: minor version 2, no compression, OTP 25's map order. */
#define PK_ETF_ENCODE_OPTS_INIT                                                                    \
        {                                                                                          \
                2, 0, 0, 0                                                                         \
        }

/**
 * @brief Appends the encoding of t (version byte, term) to out.
 *
 * Chooses exactly the tags OTP 25's term_to_binary(T, [{minor_version, V}])
 * chooses, so the bytes are equal for every term without pids, ports, refs or
 * funs.  Maps of up to 32 keys are written in Erlang's map key order; larger
 * maps in the order of OTP 25's hash trie (the order term_to_binary writes),
 * whatever order their pairs are in.  A large map with an atom, pid, port,
 * ref or fun inside a key has no such order outside the VM that holds it
 * (the VM hashes those by VM-local words): its pairs are written in the order
 * they are in, which is the VM's own order for a map pk_etf_decode returned.
 * Iterative: any depth.
 *
 * @param out  buffer to append to (its cap applies).
 * @param t    the term (borrowed).
 * @param opts NULL (defaults) or options.
 * @return 0, -EINVAL (bad option or NULL), PK_EUNENCODABLE (a malformed tree:
 *         bad type, NaN, list over 2^32-1 cells, ref over 5 words),
 *         PK_EATOMLEN/PK_EATOMUTF8 (bad atom), PK_ETERMSIZE (cap), -ENOMEM.
 *         On failure out->len is restored to its value on entry.
 */
PK_API int pk_etf_encode(struct pk_etf_buf *out, const struct pk_term *t,
                         const struct pk_etf_encode_opts *opts);

/**
 * @brief Compresses, in place, the term that starts at out->data[start] (its
 *        version byte) and runs to out->len, if that makes it smaller.
 * @param level zlib level 1..9 (6 is Erlang's `compressed`).
 * @return 0 (compressed or left as it was), -EINVAL, PK_EZLIB, or the buffer's error.
 */
PK_API int pk_etf_compress(struct pk_etf_buf *out, size_t start, int level);

/* ---- streaming encoder: no tree, same bytes ---- */

/** @brief Writes the version byte 131. */
PK_API int pk_etf_put_version(struct pk_etf_buf *b);
/** @brief Writes an integer with the smallest tag (SMALL_INTEGER, INTEGER or SMALL_BIG). */
PK_API int pk_etf_put_int(struct pk_etf_buf *b, int64_t v);
/** @brief Writes an unsigned integer with the smallest tag. */
PK_API int pk_etf_put_uint(struct pk_etf_buf *b, uint64_t v);
/**
 * @brief Writes the integer with this little-endian magnitude (any length) and
 *        sign, normalised and with the smallest tag.
 */
PK_API int pk_etf_put_big(struct pk_etf_buf *b, const uint8_t *digits, size_t len, int negative);
/** @brief Writes a float as NEW_FLOAT_EXT.  PK_EBADFLOAT for NaN or infinity. */
PK_API int pk_etf_put_float(struct pk_etf_buf *b, double f);
/** @brief Writes a float as minor_version selects (0: FLOAT_EXT "%.20e"). */
PK_API int pk_etf_put_float_v(struct pk_etf_buf *b, int minor_version, double f);
/**
 * @brief Writes the atom of len UTF-8 bytes (minor version 2: SMALL_ATOM_UTF8_EXT
 *        or ATOM_UTF8_EXT).  PK_EATOMLEN or PK_EATOMUTF8 for a bad name;
 *        -EINVAL for a NULL name with len > 0 (NULL with len 0 is '').
 */
PK_API int pk_etf_put_atom(struct pk_etf_buf *b, const char *name, size_t len);
/** @brief Writes an atom as minor_version selects (0 and 1: ATOM_EXT when Latin-1 fits). */
PK_API int pk_etf_put_atom_v(struct pk_etf_buf *b, int minor_version, const char *name, size_t len);
/** @brief Writes [] (NIL_EXT). */
PK_API int pk_etf_put_nil(struct pk_etf_buf *b);
/** @brief Writes a tuple header; arity elements must follow. */
PK_API int pk_etf_put_tuple(struct pk_etf_buf *b, uint32_t arity);
/**
 * @brief Writes a LIST_EXT header; len (>= 1) elements and then a tail (pk_etf_put_nil()
 *        for a proper list) must follow.  For term_to_binary's exact bytes, a
 *        proper list of 1..65535 integers 0..255 must go through pk_etf_put_string().
 */
PK_API int pk_etf_put_list(struct pk_etf_buf *b, uint32_t len);
/**
 * @brief Writes the byte list [bytes...] as term_to_binary does: NIL_EXT for 0
 *        bytes, STRING_EXT up to 65535, otherwise a LIST_EXT of integers.
 */
PK_API int pk_etf_put_string(struct pk_etf_buf *b, const void *bytes, size_t len);
/** @brief Writes a binary (BINARY_EXT). */
PK_API int pk_etf_put_binary(struct pk_etf_buf *b, const void *data, size_t len);
/**
 * @brief Writes a bitstring of len bytes whose last byte uses bits (1..8) bits;
 *        unused low bits are written as zero.  PK_EBITS for a bad bit count.
 */
PK_API int pk_etf_put_bitstring(struct pk_etf_buf *b, const void *data, size_t len, unsigned bits);
/**
 * @brief Writes a map header; arity key/value pairs must follow.  For Erlang's
 *        exact bytes, write up to 32 keys in Erlang's map key order
 *        (pk_term_compare with exact set) and more in the order pk_etf_encode
 *        writes them (OTP 25's hash-trie order).
 */
PK_API int pk_etf_put_map(struct pk_etf_buf *b, uint32_t arity);
/** @brief Writes a pid (NEW_PID_EXT) on the node named by len UTF-8 bytes. */
PK_API int pk_etf_put_pid(struct pk_etf_buf *b, int minor_version, const char *node,
                          size_t node_len, uint32_t id, uint32_t serial, uint32_t creation);
/** @brief Writes a whole term tree (no version byte) as pk_etf_encode() would. */
PK_API int pk_etf_put_term(struct pk_etf_buf *b, int minor_version, const struct pk_term *t);
/* Text syntax and patterns */
/* ------------------------------------------------------------------ */

/** Options for pk_etf_parse(); a NULL pointer or zeroed fields give the defaults. */
struct pk_etf_parse_opts {
        uint32_t max_depth;      /**< nesting limit (0: 1000); deeper input fails with PK_EDEPTH */
        uint32_t max_int_digits; /**< longest integer literal, in digits (0: 10000): PK_EBIGNUM */
        size_t max_binary;       /**< largest binary literal in bytes (0: 16 MiB): PK_ETERMSIZE */
        unsigned flags;          /**< PK_ETF_PARSE_* bits */
};

/** The input is one term without the final '.'; only blanks and comments may follow it. */
#define PK_ETF_PARSE_NO_DOT 1u

/** Where and why text parsing failed. */
struct pk_etf_text_error {
        int code;          /**< the negative code the call returned (as in every error struct) */
        size_t offset;     /**< byte offset of the offending token in the input */
        uint32_t line;     /**< 1-based line */
        uint32_t column;   /**< 1-based column, in characters */
        char message[128]; /**< what was wrong, NUL-terminated */
};

/**
 * @brief Parses the next Erlang term literal of a text, as file:consult/1 reads them.
 *
 * Accepts integers (any base: 16#ff, with _ separators), characters ($a, $\\n),
 * floats (1.0, 2.5e-3), atoms bare and quoted, strings with escapes (adjacent
 * strings concatenate), binaries (<<"ab">>, <<1,2:4>>, <<"é"/utf8>>), tuples,
 * proper and improper lists, maps, pids/ports/refs as Erlang prints them
 * (<0.1.0>, #Port<0.5>, #Ref<0.1.2.3>, and portkit's #Pid<node.ID.SERIAL.CREATION>
 * forms for other nodes) and exports (fun m:f/1).  Comments run from % to the
 * end of the line.  Each term ends with '.' followed by a blank, '%' or the end.
 * A string whose code points all fit 0..255 becomes a PK_TERM_STRING; other
 * strings become lists of integers.  Map keys given twice keep the last value.
 * Nesting is handled without recursion.
 *
 * @param a arena every term and byte of the result lives in (text is not
 *        referenced after the call).
 * @param text UTF-8 input of len bytes (need not be NUL-terminated).
 * @param opts limits, or NULL for the defaults.
 * @param[out] ret_term the term (owned by the arena); NULL when only blanks and
 *        comments were left.
 * @param[out] ret_used bytes consumed (the term and its terminator), so a
 *        caller walks a text holding several terms.  May be NULL.
 * @param[out] reterr where and why parsing failed (may be NULL); untouched on success.
 * @return 1 when a term was parsed, 0 at the end of the input, or PK_ESYNTAX,
 *         PK_EDEPTH, PK_EBIGNUM, PK_ETERMSIZE, PK_EATOMLEN, -ENOMEM, -EINVAL.
 */
PK_API int pk_etf_parse(pk_arena *a, const char *text, size_t len,
                        const struct pk_etf_parse_opts *opts, struct pk_term **ret_term,
                        size_t *ret_used, struct pk_etf_text_error *reterr);

/**
 * @brief Writes a term as io_lib:format("~w", [T]) does on OTP 25.
 *
 * The result is UTF-8 (Erlang's characters 160..255 appear as their UTF-8
 * encoding).  Maps of up to 32 keys come out in Erlang's key order, larger
 * maps in the order OTP 25's map iterator visits its hash trie, whatever
 * order the pairs are in; a large map with an atom, pid, port, ref or fun in
 * a key (hashed by VM-local words) is taken to be in wire order, as
 * pk_etf_decode leaves it, and printed in reverse, as erl prints it.
 * Pids, ports and refs of node 'nonode@nohost' with creation 0 print as a
 * non-distributed VM prints its own (<0.ID.SERIAL>); others in portkit's
 * #Pid<...>, #Port<...>, #Ref<node...> forms, which pk_etf_parse() reads back.
 *
 * @param[out] ret_str a malloc'd NUL-terminated string (caller frees with free()).
 * @param[out] ret_len its length in bytes (may be NULL).
 * @return 0, -EINVAL or -ENOMEM.
 */
PK_API int pk_etf_print_w(const struct pk_term *t, char **ret_str, size_t *ret_len);

/** Default nesting limit of pk_etf_print_p(). */
#define PK_ETF_PRINT_DEFAULT_MAX_DEPTH 2000u

/** Options for pk_etf_print_p(); NULL or zero fields give io_lib's defaults. */
struct pk_etf_print_opts {
        unsigned line_length; /**< right margin (0: 80) */
        unsigned column;      /**< column the term starts at, 1-based (0: 1) */
        unsigned max_depth;   /**< nesting limit (0: PK_ETF_PRINT_DEFAULT_MAX_DEPTH); deeper
                                   terms give PK_EDEPTH */
        size_t max_len;       /**< longest output in bytes (0: no cap); a longer text gives
                                   PK_ETERMSIZE: the printer stops before passing it */
};

/**
 * @brief pk_etf_print_w() with options: of struct pk_etf_print_opts only
 *        max_len applies (NULL: none), so output a peer can inflate (a large
 *        binary prints as up to 4 bytes a byte) has a bound.
 * @return 0, -EINVAL, -ENOMEM or PK_ETERMSIZE (longer than max_len).
 */
PK_API int pk_etf_print_w_opts(const struct pk_term *t, const struct pk_etf_print_opts *opts,
                               char **ret_str, size_t *ret_len);

/**
 * @brief Pretty-prints a term as io_lib:format("~p", [T]) does on OTP 25.
 *
 * Printable Latin-1 lists print as "strings" and printable binaries as
 * <<"text">>; a term too wide for the line is broken over several lines with
 * io_lib_pretty's layout.  Output is UTF-8.  No recursion: every pass keeps its
 * stack on the heap, and max_depth bounds it.  Memory follows the text: a
 * layout node per container and per list or tuple element that is not a plain
 * leaf (a list's runs of numbers, atoms and [] share one node).
 *
 * @param[out] ret_str a malloc'd NUL-terminated string (caller frees with free()).
 * @param[out] ret_len its length in bytes (may be NULL).
 * @return 0, -EINVAL, -ENOMEM, PK_EDEPTH or PK_ETERMSIZE (output longer than max_len).
 */
PK_API int pk_etf_print_p(const struct pk_term *t, const struct pk_etf_print_opts *opts,
                          char **ret_str, size_t *ret_len);

/**
 * @brief Builds a term from a pattern in Erlang text syntax and values.
 *
 * The pattern is one term without a final '.'; each directive takes the
 * next argument(s):
 *  - ~i int64_t, ~u uint64_t (bignum above INT64_MAX), ~f double (finite),
 *  - ~a const char * (NUL-terminated UTF-8 atom name),
 *  - ~s const char * (NUL-terminated; becomes a byte list),
 *  - ~b const void *, size_t (a binary),
 *  - ~t const struct pk_term * (borrowed: must outlive the result).
 * Names, strings and binaries are copied into the arena.  The pattern is
 * parsed on every call (no cache).
 *
 * In C11 and later (not C++), pk_etf_pack() is a macro that records each
 * argument's C type (_Generic) and calls pk_etf_pack_args(): any integer
 * type then works for ~i, ~u and the length of ~b, an integer works for ~f,
 * and an argument whose type does not fit its directive (a string for ~i, a
 * double for ~i, a number for ~a, too few or too many arguments) fails with
 * PK_EPATTERN instead of reading garbage; a type with no directive (a struct,
 * a long double) does not compile.  At most 32 arguments after the pattern.
 * Define PK_ETF_PACK_UNCHECKED, or write (pk_etf_pack)(...), for the plain
 * variadic function, whose arguments must have exactly the types above
 * (pass (int64_t)x: an int read as int64_t is garbage).
 * Example: pk_etf_pack(a, &t, "{ok, ~i, ~b}", 7, data, len).
 *
 * @param[out] ret_term the built term, owned by the arena; untouched on failure.
 * @return 0, PK_EPATTERN (malformed pattern, unknown directive, or with the
 *         checked form an argument of the wrong type or count), PK_EBADFLOAT,
 *         PK_EATOMLEN, PK_EATOMUTF8, -ENOMEM, -EINVAL.
 */
PK_API int pk_etf_pack(pk_arena *a, struct pk_term **ret_term, const char *pattern, ...);

/** @brief The C type of one pk_etf_pack_args() argument. */
enum pk_etf_pack_type {
        PK_ETF_ARG_INT = 1, /**< v.i: a signed integer type */
        PK_ETF_ARG_UINT,    /**< v.u: an unsigned integer type */
        PK_ETF_ARG_FLOAT,   /**< v.f: float or double */
        PK_ETF_ARG_STR,     /**< v.p: char * or const char * (NUL-terminated) */
        PK_ETF_ARG_PTR,     /**< v.p: any other pointer (binary data) */
        PK_ETF_ARG_TERM     /**< v.t: struct pk_term * */
};

/** @brief One typed argument of pk_etf_pack_args(). */
struct pk_etf_pack_arg {
        int type; /**< an enum pk_etf_pack_type value */
        union {
                int64_t i;
                uint64_t u;
                double f;
                const void *p;
                const struct pk_term *t;
        } v; /**< the value */
};

/**
 * @brief pk_etf_pack() with typed arguments: each directive checks the type
 *        of the argument it takes (see pk_etf_pack()).  What the checked
 *        pk_etf_pack() macro calls; usable directly from C++ and other FFIs.
 * @param a the arena.
 * @param[out] ret_term the built term (arena-owned); untouched on failure.
 * @param pattern the pattern (borrowed).
 * @param args n_args typed arguments, in directive order (borrowed).
 * @param n_args their count; it must be exactly what the directives take.
 * @return as pk_etf_pack(); PK_EPATTERN for a type or count mismatch.
 */
PK_API int pk_etf_pack_args(pk_arena *a, struct pk_term **ret_term, const char *pattern,
                            const struct pk_etf_pack_arg *args, size_t n_args);

#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L &&           \
    !defined(PK_ETF_PACK_UNCHECKED) && !defined(PORTKIT_BUILDING)
/* The checked pk_etf_pack(): every argument (the pattern first) becomes a
 * struct pk_etf_pack_arg through _Generic. */
static inline struct pk_etf_pack_arg pk__pa_i(long long x)
{
        struct pk_etf_pack_arg r = {PK_ETF_ARG_INT, {0}};
        r.v.i = x;
        return r;
}
static inline struct pk_etf_pack_arg pk__pa_u(unsigned long long x)
{
        struct pk_etf_pack_arg r = {PK_ETF_ARG_UINT, {0}};
        r.v.u = x;
        return r;
}
static inline struct pk_etf_pack_arg pk__pa_f(double x)
{
        struct pk_etf_pack_arg r = {PK_ETF_ARG_FLOAT, {0}};
        r.v.f = x;
        return r;
}
static inline struct pk_etf_pack_arg pk__pa_s(const char *x)
{
        struct pk_etf_pack_arg r = {PK_ETF_ARG_STR, {0}};
        r.v.p = x;
        return r;
}
static inline struct pk_etf_pack_arg pk__pa_p(const void *x)
{
        struct pk_etf_pack_arg r = {PK_ETF_ARG_PTR, {0}};
        r.v.p = x;
        return r;
}
static inline struct pk_etf_pack_arg pk__pa_t(const struct pk_term *x)
{
        struct pk_etf_pack_arg r = {PK_ETF_ARG_TERM, {0}};
        r.v.t = x;
        return r;
}
static inline int pk__etf_pack_typed(pk_arena *a, struct pk_term **ret_term, size_t n,
                                     const struct pk_etf_pack_arg *args)
{
        /* A pattern that is not a string becomes NULL: -EINVAL. */
        const char *pattern = args[0].type == PK_ETF_ARG_STR || args[0].type == PK_ETF_ARG_PTR
                                  ? (const char *)args[0].v.p
                                  : NULL;
        return pk_etf_pack_args(a, ret_term, pattern, args + 1, n - 1);
}
#        define PK__PACK_ARG(x)                                                                    \
                _Generic((x),                                                                      \
                    _Bool: pk__pa_i,                                                               \
                    char: pk__pa_i,                                                                \
                    signed char: pk__pa_i,                                                         \
                    short: pk__pa_i,                                                               \
                    int: pk__pa_i,                                                                 \
                    long: pk__pa_i,                                                                \
                    long long: pk__pa_i,                                                           \
                    unsigned char: pk__pa_u,                                                       \
                    unsigned short: pk__pa_u,                                                      \
                    unsigned int: pk__pa_u,                                                        \
                    unsigned long: pk__pa_u,                                                       \
                    unsigned long long: pk__pa_u,                                                  \
                    float: pk__pa_f,                                                               \
                    double: pk__pa_f,                                                              \
                    char *: pk__pa_s,                                                              \
                    const char *: pk__pa_s,                                                        \
                    struct pk_term *: pk__pa_t,                                                    \
                    const struct pk_term *: pk__pa_t,                                              \
                    default: pk__pa_p)(x)
#        define PK__PACK_N(...)                                                                    \
                PK__PACK_N_(__VA_ARGS__, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,   \
                            19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#        define PK__PACK_N_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, \
                            _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30,  \
                            _31, _32, _33, n, ...)                                                 \
                n
#        define PK__PACK_CAT(a, b) PK__PACK_CAT_(a, b)
#        define PK__PACK_CAT_(a, b) a##b
#        define PK__PACK_M1(x) PK__PACK_ARG(x)
#        define PK__PACK_M2(x, ...) PK__PACK_ARG(x), PK__PACK_M1(__VA_ARGS__)
#        define PK__PACK_M3(x, ...) PK__PACK_ARG(x), PK__PACK_M2(__VA_ARGS__)
#        define PK__PACK_M4(x, ...) PK__PACK_ARG(x), PK__PACK_M3(__VA_ARGS__)
#        define PK__PACK_M5(x, ...) PK__PACK_ARG(x), PK__PACK_M4(__VA_ARGS__)
#        define PK__PACK_M6(x, ...) PK__PACK_ARG(x), PK__PACK_M5(__VA_ARGS__)
#        define PK__PACK_M7(x, ...) PK__PACK_ARG(x), PK__PACK_M6(__VA_ARGS__)
#        define PK__PACK_M8(x, ...) PK__PACK_ARG(x), PK__PACK_M7(__VA_ARGS__)
#        define PK__PACK_M9(x, ...) PK__PACK_ARG(x), PK__PACK_M8(__VA_ARGS__)
#        define PK__PACK_M10(x, ...) PK__PACK_ARG(x), PK__PACK_M9(__VA_ARGS__)
#        define PK__PACK_M11(x, ...) PK__PACK_ARG(x), PK__PACK_M10(__VA_ARGS__)
#        define PK__PACK_M12(x, ...) PK__PACK_ARG(x), PK__PACK_M11(__VA_ARGS__)
#        define PK__PACK_M13(x, ...) PK__PACK_ARG(x), PK__PACK_M12(__VA_ARGS__)
#        define PK__PACK_M14(x, ...) PK__PACK_ARG(x), PK__PACK_M13(__VA_ARGS__)
#        define PK__PACK_M15(x, ...) PK__PACK_ARG(x), PK__PACK_M14(__VA_ARGS__)
#        define PK__PACK_M16(x, ...) PK__PACK_ARG(x), PK__PACK_M15(__VA_ARGS__)
#        define PK__PACK_M17(x, ...) PK__PACK_ARG(x), PK__PACK_M16(__VA_ARGS__)
#        define PK__PACK_M18(x, ...) PK__PACK_ARG(x), PK__PACK_M17(__VA_ARGS__)
#        define PK__PACK_M19(x, ...) PK__PACK_ARG(x), PK__PACK_M18(__VA_ARGS__)
#        define PK__PACK_M20(x, ...) PK__PACK_ARG(x), PK__PACK_M19(__VA_ARGS__)
#        define PK__PACK_M21(x, ...) PK__PACK_ARG(x), PK__PACK_M20(__VA_ARGS__)
#        define PK__PACK_M22(x, ...) PK__PACK_ARG(x), PK__PACK_M21(__VA_ARGS__)
#        define PK__PACK_M23(x, ...) PK__PACK_ARG(x), PK__PACK_M22(__VA_ARGS__)
#        define PK__PACK_M24(x, ...) PK__PACK_ARG(x), PK__PACK_M23(__VA_ARGS__)
#        define PK__PACK_M25(x, ...) PK__PACK_ARG(x), PK__PACK_M24(__VA_ARGS__)
#        define PK__PACK_M26(x, ...) PK__PACK_ARG(x), PK__PACK_M25(__VA_ARGS__)
#        define PK__PACK_M27(x, ...) PK__PACK_ARG(x), PK__PACK_M26(__VA_ARGS__)
#        define PK__PACK_M28(x, ...) PK__PACK_ARG(x), PK__PACK_M27(__VA_ARGS__)
#        define PK__PACK_M29(x, ...) PK__PACK_ARG(x), PK__PACK_M28(__VA_ARGS__)
#        define PK__PACK_M30(x, ...) PK__PACK_ARG(x), PK__PACK_M29(__VA_ARGS__)
#        define PK__PACK_M31(x, ...) PK__PACK_ARG(x), PK__PACK_M30(__VA_ARGS__)
#        define PK__PACK_M32(x, ...) PK__PACK_ARG(x), PK__PACK_M31(__VA_ARGS__)
#        define PK__PACK_M33(x, ...) PK__PACK_ARG(x), PK__PACK_M32(__VA_ARGS__)
#        define pk_etf_pack(a, ret_term, ...)                                                      \
                pk__etf_pack_typed((a), (ret_term), PK__PACK_N(__VA_ARGS__),                       \
                                   (const struct pk_etf_pack_arg[]){PK__PACK_CAT(                  \
                                       PK__PACK_M, PK__PACK_N(__VA_ARGS__))(__VA_ARGS__)})
#endif

/**
 * @brief Matches a term against a pattern, storing the values of its holes.
 *
 * Literal parts must be equal (=:=); maps match when the term holds at least
 * the pattern's keys (keys must be literals).  '_' and ~_ match anything.
 * Directives take pointers:
 *  - ~i int64_t *, ~u uint64_t * (integers only; PK_ERANGE_INT when out of range),
 *  - ~f double * (floats only),
 *  - ~a const char **, size_t * (the atom's UTF-8 name, not NUL-terminated),
 *  - ~s const uint8_t **, size_t * (a byte list held as a string, or [];
 *    other lists do not match),
 *  - ~b const uint8_t **, size_t * (a binary of whole bytes),
 *  - ~t const struct pk_term ** (any term).
 * Pointers returned borrow from t.  Nothing is written unless the whole
 * term matches.  A pattern holds at most 64 directives and '_'.
 * Example: pk_etf_unpack(t, "{add, ~i, ~i}", &x, &y).
 *
 * @return 0 on a match, PK_ENOMATCH, PK_ERANGE_INT, PK_EPATTERN, -ENOMEM, -EINVAL.
 */
PK_API int pk_etf_unpack(const struct pk_term *t, const char *pattern, ...);

#ifdef __cplusplus
}
#endif
#endif
