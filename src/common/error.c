/* SPDX-License-Identifier: MIT */
/* Names for negative errno values and portkit's own PK_E* codes.  Uses
 * strerrordesc_np/strerrorname_np so no shared buffer is involved. */
#include "internal.h"

#include <string.h>

const char *pk_strerror(int err)
{
        if (err < 0)
                err = -err;
        switch (-err) {
#define PK__ERR_CASE(name, value, msg)                                                             \
        case value:                                                                                \
                return msg;
                PK_ERRNO_MAP(PK__ERR_CASE)
#undef PK__ERR_CASE
        default:
                break;
        }
        const char *s = err < 4000 ? strerrordesc_np(err) : NULL;
        return s ? s : "unknown error";
}

const char *pk_strerror_name(int err)
{
        if (err < 0)
                err = -err;
        switch (-err) {
#define PK__ERR_NAME(name, value, msg)                                                             \
        case value:                                                                                \
                return "PK_" #name;
                PK_ERRNO_MAP(PK__ERR_NAME)
#undef PK__ERR_NAME
        default:
                break;
        }
        return err < 4000 ? strerrorname_np(err) : NULL;
}
