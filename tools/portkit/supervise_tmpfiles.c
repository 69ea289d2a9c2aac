/* SPDX-License-Identifier: MIT */
/* `portkit supervise --tmpfiles=`: applies tmpfiles.d before any unit starts,
 * as systemd-tmpfiles-setup.service does at boot (without --remove: a
 * supervisor started by hand on a live system must not empty /tmp), so that
 * packages whose /run directories come from tmpfiles.d find them on a fresh
 * /run.  The library does the work (pk_unit_tmpfiles_apply()); this file
 * decides when, logs its notes and removes /run/nologin the way
 * systemd-user-sessions.service does once the system is up. */
#include "supervise_tmpfiles.h"
#include "cli.h"
#include "supervise_socket.h" /* logf_ */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pk_sv_tmpfiles_mode(const char *s, int *ret)
{
        static const char *const names[] = {"auto", "on", "off"};
        for (int i = 0; i < 3; i++) {
                if (strcmp(s, names[i]) == 0) {
                        *ret = i;
                        return 0;
                }
        }
        return -1;
}

static void on_note(void *ud, const struct pk_unit_tmpfiles_note *n)
{
        (void)ud;
        if (n->kind == PK_UNIT_TMPFILES_NOT_ENFORCED)
                return; /* listed by type in the summary */
        logf_("tmpfiles.d: %s: %s:%u: %s%s%s",
              n->kind == PK_UNIT_TMPFILES_ERROR ? "error" : "warning", n->file, n->line, n->type,
              n->type[0] ? ": " : "", n->message);
}

static const char *type_name(char c)
{
        switch (c) {
        case 'a':
        case 'A':
                return "ACLs";
        case 'h':
        case 'H':
                return "file attributes";
        case 't':
        case 'T':
                return "extended attributes";
        case 'C':
                return "directory copies";
        default:
                return "?";
        }
}

int pk_sv_tmpfiles(int mode, const char *root_dir, int strict, const struct pk_unit_host *host)
{
        if (mode == SV_TMPFILES_OFF)
                return 0;
        if (mode == SV_TMPFILES_AUTO && !root_dir) {
                if (geteuid() != 0) {
                        logf_("tmpfiles.d: not applied: not running as root (--tmpfiles=on to "
                              "try anyway)");
                        return 0;
                }
                /* Only a container's init owns the files it would touch: run
                 * by hand (or by tests) on a live host, the host's tmpfiles.d
                 * would rewrite the host's /etc, /var and /tmp. */
                if (getpid() != 1) {
                        logf_("tmpfiles.d: not applied: not PID 1 (--tmpfiles=on to apply "
                              "under another init)");
                        return 0;
                }
                /* booted by systemd (sd_booted(3)): systemd-tmpfiles-setup has
                 * done it, and `!` lines again would break the running system */
                struct stat st;
                if (lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode)) {
                        logf_("tmpfiles.d: not applied: the system runs systemd, which has "
                              "(--tmpfiles=on to force)");
                        return 0;
                }
        }
        char nologin[4096];
        snprintf(nologin, sizeof(nologin), "%s/run/nologin", root_dir ? root_dir : "");
        struct stat st;
        int had_nologin = lstat(nologin, &st) == 0;
        struct pk_unit_tmpfiles_opts o = {.flags = PK_UNIT_TMPFILES_BOOT |
                                                   (strict ? PK_UNIT_TMPFILES_STRICT : 0),
                                          .root = root_dir,
                                          .host = host,
                                          .note = on_note};
        struct pk_unit_tmpfiles_stats s;
        int r = pk_unit_tmpfiles_apply(&o, &s);
        char ne[256] = "";
        size_t off = 0;
        for (const char *c = s.not_enforced; *c && off < sizeof(ne); c++) {
                int n = snprintf(ne + off, sizeof(ne) - off, "%s%c (%s)", off ? ", " : "", *c,
                                 type_name(*c));
                if (n > 0)
                        off += (size_t)n;
        }
        logf_("tmpfiles.d: %u lines in %u files: %u applied, %u skipped (boot-only, removal, "
              "cleaning, credentials, duplicates), %u warnings, %u errors; not enforced: %s; "
              "ages of %u lines not applied (no periodic cleaning)",
              s.lines, s.files, s.applied, s.skipped, s.warnings, s.errors, ne[0] ? ne : "none",
              s.aged);
        /* systemd-user-sessions.service removes it once the system is up: here,
         * before the first unit starts */
        if (!had_nologin && lstat(nologin, &st) == 0 && unlink(nologin) == 0)
                logf_("tmpfiles.d: removed %s (as systemd-user-sessions does once booted)",
                      nologin);
        if (r == -ENOMEM || r == PK_EUNITLIMIT) {
                pk_cli_error("supervise", "tmpfiles.d: %s", pk_strerror(r));
                return strict ? -1 : 0;
        }
        if (strict && (s.errors || s.warnings)) {
                pk_cli_error("supervise", "tmpfiles.d: %u errors and %u warnings (--strict)",
                             s.errors, s.warnings);
                return -1;
        }
        return 0;
}
