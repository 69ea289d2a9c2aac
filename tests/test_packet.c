/* SPDX-License-Identifier: MIT */
/* packet layer: framer headers and limits, deframers for {packet,N},
 * {line,L} and stream against Erlang's observed behaviour, and the same
 * messages for every split of the input. */
#include <criterion/criterion.h>
#include <portkit/packet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PK_ARRAY_SIZE_T(a) (sizeof(a) / sizeof((a)[0]))

/* A message list: each message rendered "E:<bytes>", "N:<bytes>" or "M:<bytes>". */
struct msgs {
        char *s;
        size_t len, cap;
        int count;
        int err; /* first error seen */
};

static void msgs_add(struct msgs *m, const struct pk_packet_msg *msg)
{
        size_t need = m->len + msg->len + 8;
        if (need > m->cap) {
                m->cap = need * 2;
                m->s = realloc(m->s, m->cap);
                cr_assert_not_null(m->s);
        }
        char tag = msg->flags == PK_PACKET_EOL ? 'E' : msg->flags == PK_PACKET_NOEOL ? 'N' : 'M';
        m->s[m->len++] = tag;
        m->s[m->len++] = ':';
        memcpy(m->s + m->len, msg->data, msg->len);
        m->len += msg->len;
        m->s[m->len++] = '|';
        m->count++;
}

/* Feeds `in` in chunks given by `cuts` (sorted offsets; NULL = whole) and
 * drains with next() after each chunk, then finish(). */
static void run_split(const struct pk_framing *f, const void *in, size_t n, const size_t *cuts,
                      size_t ncuts, int use_space, struct msgs *out)
{
        struct pk_deframer *d = NULL;
        cr_assert_eq(pk_deframer_new(f, &d), 0);
        memset(out, 0, sizeof(*out));
        size_t pos = 0;
        for (size_t c = 0; c <= ncuts; c++) {
                size_t to = (cuts && c < ncuts) ? cuts[c] : n;
                size_t len = to - pos;
                if (use_space) {
                        size_t done = 0;
                        while (done < len) {
                                void *p;
                                size_t room;
                                int r = pk_deframer_space(d, 0, &p, &room);
                                if (r < 0) {
                                        out->err = r;
                                        goto out;
                                }
                                size_t k = len - done < room ? len - done : room;
                                memcpy(p, (const char *)in + pos + done, k);
                                cr_assert_eq(pk_deframer_commit(d, k), 0);
                                done += k;
                        }
                } else {
                        int r = pk_deframer_feed(d, (const char *)in + pos, len);
                        if (r < 0) {
                                out->err = r;
                                goto out;
                        }
                }
                pos = to;
                struct pk_packet_msg m;
                int r;
                while ((r = pk_deframer_next(d, &m)) == 1)
                        msgs_add(out, &m);
                if (r < 0) {
                        out->err = r;
                        goto out;
                }
        }
        for (;;) {
                struct pk_packet_msg m;
                int r = pk_deframer_finish(d, &m);
                if (r == 1) {
                        msgs_add(out, &m);
                        continue;
                }
                if (r < 0)
                        out->err = r;
                break;
        }
out:
        pk_deframer_free(d);
}

static void expect_line(unsigned int L, const char *in, const char *want)
{
        struct pk_framing f = {.kind = PK_FRAMING_LINE, .arg = L};
        struct msgs m;
        run_split(&f, in, strlen(in), NULL, 0, 0, &m);
        cr_assert_eq(m.err, 0);
        char *got = malloc(m.len + 1);
        cr_assert_not_null(got);
        if (m.len)
                memcpy(got, m.s, m.len);
        got[m.len] = 0;
        cr_expect_str_eq(got, want, "line %u input %s", L, in);
        free(got);
        free(m.s);
}

/* Each case below is what Erlang/OTP 25 delivered for {line,3} (run through
 * a real VM with printf as the port program). */
Test(packet, line_matches_erlang)
{
        expect_line(3, "abc\r\n", "E:abc|");
        expect_line(3, "abcd\r\n", "N:abc|E:d|");
        expect_line(3, "ab\r\r\n", "E:ab\r|");
        expect_line(3, "abc\r", "N:abc|N:\r|");
        expect_line(3, "abc\rd\n", "N:abc|E:\rd|");
        expect_line(3, "abcdef\n", "N:abc|E:def|");
        expect_line(3, "abcdefg", "N:abc|N:def|N:g|");
        expect_line(3, "a\rb\n", "E:a\rb|");
        expect_line(3, "\r\n\n", "E:|E:|");
        expect_line(3, "abcdef\r\n", "N:abc|E:def|");
        expect_line(3, "abcde\r\n", "N:abc|E:de|");
        expect_line(3, "abc", "N:abc|");
        expect_line(3, "ab\r", "N:ab\r|");
        expect_line(3, "\r", "N:\r|");
        expect_line(3, "abc\r\r\n", "N:abc|E:\r|");
        expect_line(3, "abc\r\rx", "N:abc|N:\r\rx|");
        expect_line(3, "ab\rx\n", "N:ab\r|E:x|");
        expect_line(3, "ab\r\n", "E:ab|");
        expect_line(3, "abc\r\rxy\n", "N:abc|N:\r\rx|E:y|");
        expect_line(3, "abcd", "N:abc|N:d|");
        expect_line(1, "\r\r\n", "E:\r|");
        expect_line(1, "ab\n", "N:a|E:b|");
        expect_line(1, "a\r\n", "E:a|");
        expect_line(3, "", "");
        expect_line(512, "hello\nworld\n", "E:hello|E:world|");
}

/* Compares the whole-input result against every single cut, one byte at a
 * time, and random multi-cuts, through both feed() and space()/commit(). */
static void check_splits(const struct pk_framing *f, const uint8_t *in, size_t n, unsigned int seed)
{
        struct msgs ref;
        run_split(f, in, n, NULL, 0, 0, &ref);
        size_t *cuts = malloc((n + 1) * sizeof(*cuts));
        cr_assert_not_null(cuts);
        for (int use_space = 0; use_space < 2; use_space++) {
                /* every single cut */
                for (size_t c = 0; c <= n; c++) {
                        struct msgs m;
                        cuts[0] = c;
                        run_split(f, in, n, cuts, 1, use_space, &m);
                        cr_assert_eq(m.err, ref.err, "cut %zu", c);
                        if (f->kind != PK_FRAMING_STREAM) {
                                cr_assert_eq(m.len, ref.len, "cut %zu", c);
                                cr_assert(m.len == 0 || memcmp(m.s, ref.s, m.len) == 0);
                        }
                        free(m.s);
                }
                /* one byte at a time */
                for (size_t c = 0; c < n; c++)
                        cuts[c] = c + 1;
                struct msgs m;
                run_split(f, in, n, cuts, n ? n - 1 : 0, use_space, &m);
                cr_assert_eq(m.err, ref.err);
                if (f->kind != PK_FRAMING_STREAM) {
                        cr_assert_eq(m.len, ref.len);
                        cr_assert(m.len == 0 || memcmp(m.s, ref.s, m.len) == 0);
                }
                free(m.s);
                /* random cuts */
                srand(seed);
                for (int round = 0; round < 20; round++) {
                        size_t k = 0;
                        for (size_t c = 1; c < n; c++)
                                if (rand() % 5 == 0)
                                        cuts[k++] = c;
                        run_split(f, in, n, cuts, k, use_space, &m);
                        cr_assert_eq(m.err, ref.err);
                        if (f->kind != PK_FRAMING_STREAM) {
                                cr_assert_eq(m.len, ref.len);
                                cr_assert(m.len == 0 || memcmp(m.s, ref.s, m.len) == 0);
                        }
                        free(m.s);
                }
        }
        free(cuts);
        free(ref.s);
}

Test(packet, line_every_split_same_messages)
{
        static const char alphabet[] = "ab\r\n";
        for (unsigned int L = 1; L <= 6; L++) {
                for (unsigned int seed = 1; seed <= 40; seed++) {
                        srand(seed * 31 + L);
                        uint8_t in[64];
                        size_t n = (size_t)(rand() % 48);
                        for (size_t i = 0; i < n; i++)
                                in[i] = (uint8_t)alphabet[rand() % 4];
                        struct pk_framing f = {.kind = PK_FRAMING_LINE, .arg = L};
                        check_splits(&f, in, n, seed);
                }
        }
}

/* Builds count random frames with header size hs into buf; returns length. */
static size_t make_frames(unsigned int hs, int count, uint8_t *buf, unsigned int seed)
{
        srand(seed);
        size_t n = 0;
        for (int i = 0; i < count; i++) {
                size_t len = (size_t)(rand() % 40);
                if (i == 1)
                        len = 0;
                for (unsigned int b = 0; b < hs; b++)
                        buf[n++] = (uint8_t)(len >> (8 * (hs - 1 - b)));
                for (size_t j = 0; j < len; j++)
                        buf[n++] = (uint8_t)rand();
        }
        return n;
}

Test(packet, packet_every_split_same_messages)
{
        static const unsigned int sizes[] = {1, 2, 4};
        uint8_t buf[8 * 48];
        for (size_t s = 0; s < 3; s++) {
                for (unsigned int seed = 1; seed <= 10; seed++) {
                        size_t n = make_frames(sizes[s], 7, buf, seed);
                        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = sizes[s]};
                        struct msgs ref;
                        run_split(&f, buf, n, NULL, 0, 0, &ref);
                        cr_assert_eq(ref.err, 0);
                        cr_assert_eq(ref.count, 7);
                        free(ref.s);
                        check_splits(&f, buf, n, seed);
                }
        }
}

Test(packet, packet_decodes_big_endian_and_zero_length)
{
        const uint8_t in[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0};
        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 4};
        struct msgs m;
        run_split(&f, in, sizeof(in), NULL, 0, 0, &m);
        cr_assert_eq(m.err, 0);
        cr_assert_eq(m.count, 2);
        cr_assert(m.len == 9 && memcmp(m.s, "M:abc|M:|", 9) == 0);
        free(m.s);
        /* {packet,2} header 0x01 0x02 is 258 bytes, not 513 */
        uint8_t big[2 + 258 + 2];
        memset(big, 'q', sizeof(big));
        big[0] = 1;
        big[1] = 2;
        big[260] = 0;
        big[261] = 0;
        struct pk_framing f2 = {.kind = PK_FRAMING_PACKET, .arg = 2};
        run_split(&f2, big, sizeof(big), NULL, 0, 0, &m);
        cr_assert_eq(m.err, 0);
        cr_assert_eq(m.count, 2);
        cr_assert_eq(m.len, 2 + 258 + 1 + 3);
        free(m.s);
}

Test(packet, stream_concatenates_to_input)
{
        uint8_t in[200];
        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t)(i * 7);
        struct pk_framing f = {.kind = PK_FRAMING_STREAM};
        struct pk_deframer *d;
        cr_assert_eq(pk_deframer_new(&f, &d), 0);
        static const size_t cuts[] = {0, 1, 50, 199, 200};
        uint8_t got[200];
        size_t g = 0;
        int count = 0;
        for (size_t c = 0; c + 1 < PK_ARRAY_SIZE_T(cuts); c++) {
                cr_assert_eq(pk_deframer_feed(d, in + cuts[c], cuts[c + 1] - cuts[c]), 0);
                struct pk_packet_msg m;
                while (pk_deframer_next(d, &m) == 1) {
                        memcpy(got + g, m.data, m.len);
                        g += m.len;
                        count++;
                }
        }
        struct pk_packet_msg m;
        cr_assert_eq(pk_deframer_finish(d, &m), 0);
        cr_assert_eq(count, 4);
        cr_assert_eq(g, sizeof(in));
        cr_assert_eq(memcmp(got, in, sizeof(in)), 0);
        pk_deframer_free(d);
}

Test(packet, absurd_header_is_an_error_before_allocating)
{
        /* 4 GiB - 16 announced in 5 bytes: Erlang allocated 4.3 GB here. */
        const uint8_t in[] = {0xff, 0xff, 0xff, 0xf0, 'x'};
        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 4};
        struct pk_deframer *d;
        cr_assert_eq(pk_deframer_new(&f, &d), 0);
        cr_assert_eq(pk_deframer_feed(d, in, sizeof(in)), 0);
        struct pk_packet_msg m;
        cr_assert_eq(pk_deframer_next(d, &m), PK_EFRAMESIZE);
        /* sticky: every later call fails the same way */
        cr_assert_eq(pk_deframer_next(d, &m), PK_EFRAMESIZE);
        cr_assert_eq(pk_deframer_feed(d, in, 1), PK_EFRAMESIZE);
        void *p;
        size_t room;
        cr_assert_eq(pk_deframer_space(d, 0, &p, &room), PK_EFRAMESIZE);
        pk_deframer_free(d);

        /* space() sees the header too, and never lends 4 GiB */
        cr_assert_eq(pk_deframer_new(&f, &d), 0);
        cr_assert_eq(pk_deframer_space(d, 0, &p, &room), 0);
        memcpy(p, in, 4);
        cr_assert_eq(pk_deframer_commit(d, 4), 0);
        cr_assert_eq(pk_deframer_space(d, 0, &p, &room), PK_EFRAMESIZE);
        pk_deframer_free(d);

        /* a custom maximum: 10 accepted, 11 refused */
        struct pk_framing small = {.kind = PK_FRAMING_PACKET, .arg = 1, .max_message = 10};
        const uint8_t ok[] = {10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11};
        struct msgs mm;
        run_split(&small, ok, sizeof(ok), NULL, 0, 0, &mm);
        cr_assert_eq(mm.count, 1);
        cr_assert_eq(mm.err, PK_EFRAMESIZE);
        free(mm.s);
}

Test(packet, space_lends_a_whole_frame)
{
        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 4};
        struct pk_deframer *d;
        cr_assert_eq(pk_deframer_new(&f, &d), 0);
        const uint8_t hdr[] = {0, 0x10, 0, 0}; /* 1 MiB */
        cr_assert_eq(pk_deframer_feed(d, hdr, 4), 0);
        void *p;
        size_t room;
        cr_assert_eq(pk_deframer_space(d, 0, &p, &room), 0);
        cr_assert_geq(room, (size_t)1 << 20);
        memset(p, 'z', (size_t)1 << 20);
        cr_assert_eq(pk_deframer_commit(d, (size_t)1 << 20), 0);
        cr_assert_eq(pk_deframer_commit(d, 1), -EINVAL); /* nothing lent any more */
        struct pk_packet_msg m;
        cr_assert_eq(pk_deframer_next(d, &m), 1);
        cr_assert_eq(m.len, (size_t)1 << 20);
        cr_assert_eq(m.data[12345], 'z');
        cr_assert_eq(pk_deframer_pending(d), 0);
        pk_deframer_shrink(d);
        cr_assert_eq(pk_deframer_next(d, &m), 0);
        pk_deframer_free(d);
}

Test(packet, partial_frame_at_eof)
{
        const uint8_t in[] = {0, 5, 'a', 'b'};
        struct pk_framing f = {.kind = PK_FRAMING_PACKET, .arg = 2};
        struct pk_deframer *d;
        cr_assert_eq(pk_deframer_new(&f, &d), 0);
        cr_assert_eq(pk_deframer_feed(d, in, sizeof(in)), 0);
        struct pk_packet_msg m;
        cr_assert_eq(pk_deframer_next(d, &m), 0);
        cr_assert_eq(pk_deframer_finish(d, &m), PK_EPARTIAL);
        cr_assert_eq(pk_deframer_finish(d, &m), 0);
        pk_deframer_free(d);
}

Test(packet, header_limits_are_synchronous_errors)
{
        uint8_t h[4];
        size_t hl;
        struct pk_framing p1 = {.kind = PK_FRAMING_PACKET, .arg = 1};
        struct pk_framing p2 = {.kind = PK_FRAMING_PACKET, .arg = 2};
        struct pk_framing p4 = {.kind = PK_FRAMING_PACKET, .arg = 4, .max_message = SIZE_MAX};
        cr_assert_eq(pk_packet_header(&p1, 255, h, &hl), 0);
        cr_assert(hl == 1 && h[0] == 255);
        cr_assert_eq(pk_packet_header(&p1, 256, h, &hl), PK_EFRAMEHDR);
        cr_assert_eq(pk_packet_header(&p2, 65535, h, &hl), 0);
        cr_assert(hl == 2 && h[0] == 0xff && h[1] == 0xff);
        cr_assert_eq(pk_packet_header(&p2, 65536, h, &hl), PK_EFRAMEHDR);
        cr_assert_eq(pk_packet_header(&p4, 0x01020304, h, &hl), 0);
        cr_assert(hl == 4 && h[0] == 1 && h[1] == 2 && h[2] == 3 && h[3] == 4);
        cr_assert_eq(pk_packet_header(&p4, (size_t)1 << 32, h, &hl), PK_EFRAMEHDR);
        struct pk_framing p4d = {.kind = PK_FRAMING_PACKET, .arg = 4};
        cr_assert_eq(pk_packet_header(&p4d, PK_PACKET_DEFAULT_MAX + 1, h, &hl), PK_EFRAMESIZE);
        struct pk_framing line = {.kind = PK_FRAMING_LINE, .arg = 3};
        cr_assert_eq(pk_packet_header(&line, 1000, h, &hl), 0);
        cr_assert_eq(hl, 0);
        struct pk_framing p3 = {.kind = PK_FRAMING_PACKET, .arg = 3};
        cr_assert_eq(pk_packet_header(&p3, 1, h, &hl), -EINVAL);
        struct pk_framing l0 = {.kind = PK_FRAMING_LINE, .arg = 0};
        struct pk_deframer *d = (struct pk_deframer *)&l0;
        cr_assert_eq(pk_deframer_new(&l0, &d), -EINVAL);
        cr_assert_eq((void *)d, (void *)&l0); /* untouched on failure */

        uint8_t out[8];
        size_t ol;
        cr_assert_eq(pk_packet_encode(&p2, "abc", 3, out, sizeof(out), &ol), 0);
        cr_assert(ol == 5 && out[0] == 0 && out[1] == 3 && memcmp(out + 2, "abc", 3) == 0);
        cr_assert_eq(pk_packet_encode(&p2, "abcdefg", 7, out, sizeof(out), &ol), -ENOBUFS);
}

Test(packet, normalize_fills_defaults)
{
        struct pk_framing f = {.kind = PK_FRAMING_STREAM, .arg = 9};
        cr_assert_eq(pk_framing_normalize(&f, &f), 0);
        cr_assert_eq(f.arg, 0);
        cr_assert_eq(f.max_message, PK_PACKET_DEFAULT_MAX);
        struct pk_framing bad = {.kind = (enum pk_framing_kind)7};
        cr_assert_eq(pk_framing_normalize(&bad, &f), -EINVAL);
        struct pk_framing big = {.kind = PK_FRAMING_LINE, .arg = 100, .max_message = 50};
        cr_assert_eq(pk_framing_normalize(&big, &f), -EINVAL);
}

/* argv strings are char * (as main() gets them); literals are const here. */
#define A(s) ((char *)(uintptr_t)(s))

Test(packet, framing_option_parses_the_command_line_forms)
{
        char *argv[] = {A("prog"),     A("--packet"),    A("2"),       A("--line"),   A("80"),
                        A("--stream"), A("--packet"),    A("3"),       A("--line"),   A("0"),
                        A("--line"),   A("9x"),          A("--other"), A("--packet"), A("-1"),
                        A("--line"),   A("99999999999"), A("--packet")};
        int argc = (int)(sizeof(argv) / sizeof(argv[0]));
        struct pk_framing f = {PK_FRAMING_STREAM, 0, 1000};
        int i = 1;
        cr_assert_eq(pk_framing_option(argc, argv, &i, &f), 1);
        cr_assert(f.kind == PK_FRAMING_PACKET && f.arg == 2 && i == 2);
        i = 3;
        cr_assert_eq(pk_framing_option(argc, argv, &i, &f), 1);
        cr_assert(f.kind == PK_FRAMING_LINE && f.arg == 80 && i == 4);
        cr_assert_eq(f.max_message, 1000, "max_message kept");
        i = 5;
        cr_assert_eq(pk_framing_option(argc, argv, &i, &f), 1);
        cr_assert(f.kind == PK_FRAMING_STREAM && f.arg == 0 && i == 5);
        /* Bad values and a missing one: -EINVAL, nothing changed. */
        int bad[] = {6, 8, 10, 13, 15, 17};
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                i = bad[k];
                cr_assert_eq(pk_framing_option(argc, argv, &i, &f), -EINVAL, "argv[%d]", bad[k]);
                cr_assert(i == bad[k] && f.kind == PK_FRAMING_STREAM);
        }
        /* A line length above max_message is refused. */
        char *big[] = {A("prog"), A("--line"), A("1001")};
        i = 1;
        cr_assert_eq(pk_framing_option(3, big, &i, &f), -EINVAL);
        /* Not a framing option: 0, nothing changed. */
        i = 12;
        cr_assert_eq(pk_framing_option(argc, argv, &i, &f), 0);
        cr_assert_eq(i, 12);
        cr_assert_eq(pk_framing_option(argc, argv, NULL, &f), -EINVAL);
        i = argc;
        cr_assert_eq(pk_framing_option(argc, argv, &i, &f), -EINVAL);
}
