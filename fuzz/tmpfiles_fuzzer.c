/* SPDX-License-Identifier: MIT */
/* Fuzzes the tmpfiles.d parser in dry-run mode (nothing on disk is touched):
 * the first byte picks strict/boot/remove and whether host specifier values
 * are given; the rest is one configuration file.  Every note must carry a
 * file, a line within the text and a message, and the counters must agree
 * with the notes. */
#include <portkit/unit.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
        unsigned int warnings, errors, not_enforced, max_line;
        size_t sink;
};

static void on_note(void *ud, const struct pk_unit_tmpfiles_note *n)
{
        struct seen *s = ud;
        if (!n->file || !n->message || !n->type || n->line == 0)
                abort();
        s->sink += strlen(n->message) + strlen(n->type) + (n->path ? strlen(n->path) : 0);
        if (n->line > s->max_line)
                s->max_line = n->line;
        if (n->kind == PK_UNIT_TMPFILES_WARNING)
                s->warnings++;
        else if (n->kind == PK_UNIT_TMPFILES_ERROR)
                s->errors++;
        else
                s->not_enforced++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        static const struct pk_unit_host host = {.hostname = "h.example",
                                                 .machine_id = "0123456789abcdef0123456789abcdef",
                                                 .boot_id = "fedcba9876543210fedcba9876543210",
                                                 .kernel = "6.1.0",
                                                 .arch = "x86-64",
                                                 .os_id = "debian"};
        struct seen s = {0};
        struct pk_unit_tmpfiles_opts o = {.flags = PK_UNIT_TMPFILES_DRY_RUN |
                                                   ((data[0] & 1) ? PK_UNIT_TMPFILES_STRICT : 0) |
                                                   ((data[0] & 2) ? PK_UNIT_TMPFILES_BOOT : 0) |
                                                   ((data[0] & 4) ? PK_UNIT_TMPFILES_REMOVE : 0),
                                          .host = (data[0] & 8) ? &host : NULL,
                                          .max_lines = (data[0] & 16) ? 4 : 0,
                                          .note = on_note,
                                          .ud = &s};
        struct pk_unit_tmpfiles_stats st;
        const char *text = (const char *)data + 1;
        int r = pk_unit_tmpfiles_apply_buf(text, size - 1, "/fuzz/x.conf", &o, &st);
        if (st.warnings != s.warnings || st.errors != s.errors)
                abort();
        if (st.applied + st.skipped > st.lines)
                abort();
        if (r == 0 && st.errors)
                abort();
        if (s.max_line > size)
                abort();
        if (strlen(st.not_enforced) >= sizeof(st.not_enforced))
                abort();
        return 0;
}
