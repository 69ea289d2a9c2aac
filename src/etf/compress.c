/* SPDX-License-Identifier: MIT */
/* Compressed terms (tag 80): zlib deflate on encode, used only when it makes
 * the term smaller as erl does, and a bounded inflate on decode that checks
 * the declared size exactly. */
#include "etf-internal.h"

#include <zlib.h>

int pk_etf_compress(struct pk_etf_buf *out, size_t start, int level)
{
        if (!out || level < 1 || level > 9 || start >= out->len ||
            out->data[start] != PK_TAG_VERSION)
                return -EINVAL;
        if (out->err)
                return out->err;
        size_t real_size = out->len - start; /* 131 and the term */
        size_t ulen = real_size - 1;
        if (ulen > UINT32_MAX || real_size <= 6)
                return 0;
        /* Like erl, keep the plain form unless the compressed one (tag 80,
         * 4-byte size, stream) is no longer than it. */
        uLongf clen = (uLongf)(real_size - 6);
        uint8_t *tmp = malloc(clen);
        if (!tmp)
                return pk__buf_fail(out, -ENOMEM);
        int zr = compress2(tmp, &clen, out->data + start + 1, (uLong)ulen, level);
        if (zr == Z_OK) {
                out->data[start + 1] = PK_TAG_COMPRESSED;
                pk__put32(out->data + start + 2, (uint32_t)ulen);
                memcpy(out->data + start + 6, tmp, clen);
                out->len = start + 6 + clen;
        }
        free(tmp);
        if (zr == Z_MEM_ERROR)
                return pk__buf_fail(out, -ENOMEM);
        return 0;
}

int pk__inflate(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, size_t *consumed)
{
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        if (inflateInit(&zs) != Z_OK)
                return -ENOMEM;
        int ret = 0;
        uint8_t spill[1];
        zs.next_out = dst;
        size_t out_left = dstlen, in_left = srclen;
        const uint8_t *in = src;
        for (;;) {
                /* zlib counts in uInt: feed at most 1 GiB per call. */
                uInt in_chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
                uInt out_chunk = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
                zs.next_in = (Bytef *)(uintptr_t)in;
                zs.avail_in = in_chunk;
                if (out_chunk == 0) {
                        /* Full: any further output means the header lied. */
                        zs.next_out = spill;
                        zs.avail_out = 1;
                } else {
                        zs.avail_out = out_chunk;
                }
                uInt out_before = zs.avail_out;
                int zr = inflate(&zs, Z_NO_FLUSH);
                size_t used_in = in_chunk - zs.avail_in;
                size_t made = out_before - zs.avail_out;
                in += used_in;
                in_left -= used_in;
                if (out_chunk == 0 && made) {
                        ret = PK_EZSIZE;
                        break;
                }
                out_left -= out_chunk ? made : 0;
                if (zr == Z_STREAM_END) {
                        ret = out_left ? PK_EZSIZE : 0;
                        break;
                }
                if (zr == Z_MEM_ERROR) {
                        ret = -ENOMEM;
                        break;
                }
                if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR || zr == Z_STREAM_ERROR) {
                        ret = PK_EZLIB;
                        break;
                }
                if (used_in == 0 && made == 0) {
                        /* No progress: input exhausted inside the stream. */
                        ret = in_left ? PK_EZLIB : PK_ETRUNCATED;
                        break;
                }
        }
        inflateEnd(&zs);
        if (ret == 0)
                *consumed = srclen - in_left;
        return ret;
}
