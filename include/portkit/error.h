/* SPDX-License-Identifier: MIT */
/**
 * @file error.h
 * @brief Error codes shared by every portkit layer.
 *
 * Every portkit function reports failure as a negative number: either a
 * negative errno (-ENOENT) or one of the PK_E* codes below, which live in a
 * block (-4000 and lower) that no errno reaches.  pk_strerror() names both.
 */
#ifndef PORTKIT_ERROR_H
#define PORTKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PORTKIT_BUILDING) && defined(__GNUC__)
#        define PK_API __attribute__((visibility("default")))
#else
#        define PK_API
#endif

/* X-macro list of every portkit-specific error: name, value, message. */
#define PK_ERRNO_MAP(X)                                                                            \
        /* ETF decoding (tests: tests/test_etf_decode.c) */                                        \
        X(EBADVERSION, -4001, "term does not start with version byte 131")                         \
        X(ETRUNCATED, -4002, "term truncated: a length runs past the end of the input")            \
        X(EBADTAG, -4003, "unknown or unsupported term tag")                                       \
        X(EATOMLEN, -4004, "atom longer than 255 characters")                                      \
        X(EATOMUTF8, -4005, "atom is not valid UTF-8")                                             \
        X(EDEPTH, -4006, "term nested deeper than the depth limit")                                \
        X(ETERMSIZE, -4007, "term larger than the size limit")                                     \
        X(EBIGNUM, -4008, "integer larger than the bignum limit")                                  \
        X(EZLIB, -4009, "compressed term is not a valid zlib stream")                              \
        X(EZSIZE, -4010, "compressed term inflates to a size other than its header says")          \
        X(EDUPKEY, -4011, "map has a duplicate key")                                               \
        X(EBADFLOAT, -4012, "float is NaN, infinite or malformed")                                 \
        X(EBITS, -4013, "bitstring bit count outside 1..8")                                        \
        X(EFUN, -4014, "funs are refused (FUN_EXT always; NEW_FUN_EXT unless allowed)")            \
        X(ELOCAL, -4015, "LOCAL_EXT terms cannot be decoded outside the VM that made them")        \
        X(ETRAILING, -4016, "bytes left over after the term")                                      \
        X(EBADREF, -4017, "reference has too many id words")                                       \
        X(EATOMCACHE, -4018, "atom cache references and distribution headers are not terms")       \
        X(EBADARITY, -4019, "arity or length is out of range")                                     \
        X(EATOMREFUSED, -4020, "atom not in the allowed set (no-new-atoms mode)")                  \
        X(ESYNTAX, -4030, "syntax error in Erlang term text")                                      \
        X(EPATTERN, -4031, "malformed format pattern")                                             \
        X(ENOMATCH, -4032, "term does not match the pattern")                                      \
        X(ERANGE_INT, -4033, "integer does not fit the requested C type")                          \
        X(EUNENCODABLE, -4034, "term cannot be encoded (value out of range for its type)")         \
        /* packet framing */                                                                       \
        X(EFRAMESIZE, -4100, "frame larger than the maximum message size")                         \
        X(EFRAMEHDR, -4101, "frame cannot be encoded in this packet header size")                  \
        X(EPARTIAL, -4102, "input ended in the middle of a frame")                                 \
        /* spawn and run */                                                                        \
        X(ESPAWNSTEP, -4200, "child setup step failed")                                            \
        X(EOUTPUTCAP, -4201, "captured output exceeded its cap")                                   \
        X(ENOUSER, -4202, "no such user")                                                          \
        X(ENOGROUP, -4203, "no such group")                                                        \
        X(EHELPER, -4204, "spawn helper process failed")                                           \
        /* port */                                                                                 \
        X(ECLOSED, -4300, "port is closed")                                                        \
        X(EBUSY_PORT, -4301, "port is busy: send queue above its high watermark")                  \
        X(EEXITED, -4302, "port program exited")                                                   \
        /* sup */                                                                                  \
        X(EDEPCYCLE, -4400, "child dependencies form a cycle")                                     \
        X(EDEPUNKNOWN, -4401, "a dependency names no child of this supervisor")                    \
        /* unit files */                                                                           \
        X(EUNITSYNTAX, -4500, "unit file syntax error")                                            \
        X(EUNITVALUE, -4501, "invalid value in a unit file")                                       \
        X(EUNITKEY, -4502, "unknown key or section in a unit file (strict mode)")                  \
        X(EUNITLIMIT, -4503, "unit file exceeds a limit (line, file size, keys, drop-ins)")        \
        X(EUNITSPEC, -4504, "unknown or unavailable specifier in a unit file")                     \
        X(EUNITMASKED, -4505, "unit is masked (linked to /dev/null)")                              \
        X(EUNITASSERT, -4506, "a unit's Assert*= failed")                                          \
        /* buffers */                                                                              \
        X(EBUFCAP, -4600, "input or output larger than its size cap")

enum pk_errno {
#define PK__ERR_ENUM(name, value, msg) PK_##name = (value),
        PK_ERRNO_MAP(PK__ERR_ENUM)
#undef PK__ERR_ENUM
};

/**
 * @brief Names an error code.
 * @param err a negative errno or PK_E* code (a positive errno is accepted too).
 * @return a static, never-NULL string; unknown codes give "unknown error".
 *         Thread-safe (does not use strerror's shared buffer).
 */
PK_API const char *pk_strerror(int err);

/**
 * @brief Names the symbol of an error code ("ENOENT", "PK_EDEPTH").
 * @return a static string, or NULL for an unknown code.
 */
PK_API const char *pk_strerror_name(int err);

#ifdef __cplusplus
}
#endif
#endif
