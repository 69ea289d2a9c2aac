/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests/test_*.c programs (tests/testutil.c, linked
 * into every test): descriptor and child-process checks, reading files,
 * running the real portkit binary, and tests/helpers/spawn_probe's reports.
 * Every function asserts (Criterion) where it cannot do its job, so a
 * failure ends the test at the helper's line with a message. */
#ifndef PORTKIT_TESTUTIL_H
#define PORTKIT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct pk_cmd;
struct pk_proc;

/* ---- descriptors ---- */

/* Open descriptors of this process, as listed in /proc/self/fd (the
 * listing's own descriptor is excluded). */
int tu_count_fds(void);
/* Open descriptors of process pid, as listed in /proc/<pid>/fd. */
int tu_count_fds_of(pid_t pid);
bool tu_cloexec(int fd);
bool tu_nonblock(int fd);
bool tu_fd_open(int fd);

/* A fresh folder under /tmp, short enough for sun_path, into buf. */
void tu_tmpdir(char *buf, size_t size);
/* Removes dir and everything below it (warns on failure). */
void tu_rmrf(const char *dir);

/* ---- processes and signals ---- */

/* Asserts this process has no child left, zombie or running; the message
 * (printf-style) says which step left it. */
void tu_assert_no_children(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether sig is blocked in the calling thread's mask. */
bool tu_blocked(int sig);
/* A wait status as a shell shows it: the exit code, or 128 + the signal. */
int tu_status_of(int ws);
/* Whether pid is gone or a zombie (its /proc/<pid>/stat state is Z or X). */
bool tu_gone(pid_t pid);
/* Reaps any zombie children until pid is gone; asserts it went (bounded
 * only so that a failure ends the test: nothing is timed). */
void tu_wait_gone(pid_t pid);
/* Waits for path to hold n pids (written by a child); asserts they came. */
void tu_read_pids(const char *path, pid_t *pids, int n);

/* Runs the shell command fmt (printf-style); with ret_out, its stdout is
 * kept there (NUL-terminated, caller frees).  Returns tu_status_of(). */
int tu_sh(char **ret_out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- files ---- */

/* The whole file at path, NUL-terminated (caller frees); *len its length
 * when len is not NULL.  tu_slurp asserts the file opens; tu_slurp_if
 * returns NULL when it does not. */
char *tu_slurp(const char *path, size_t *len);
char *tu_slurp_if(const char *path, size_t *len);
/* The whole file at path, NUL-terminated (caller frees); "" (allocated)
 * when it does not open: for files a child may not have written yet. */
char *tu_slurp_or_empty(const char *path);
/* Writes the text fmt (printf-style) as the file dir/name, replacing it;
 * asserts it could. */
void tu_write_file(const char *dir, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The whole content of fd (a memfd or a file) from offset 0, NUL-terminated
 * (caller frees); closes fd. */
char *tu_slurp_fd(int fd);

/* ---- record files of the interop escripts (tests/interop/etf_*.escript) ---- */

/* A record: a 4-byte big-endian length, then that many bytes. */
struct tu_field {
        const uint8_t *p;
        uint32_t n;
};
/* Reads the record at p (asserts it fits before end); returns the next. */
const uint8_t *tu_next_field(const uint8_t *p, const uint8_t *end, struct tu_field *f);
/* Writes n bytes at p as a record. */
void tu_put_field(FILE *f, const void *p, size_t n);
/* Whether the n bytes at p are the record's bytes. */
bool tu_same(const void *p, size_t n, struct tu_field want);

/* A cross-check's count for one property: records checked, how many were
 * wrong and the index of the first. */
struct tu_tally {
        const char *what;
        unsigned bad, first, done;
};
void tu_count(struct tu_tally *t, bool ok, unsigned i);

/* ---- the portkit binary (PK_BUILD_DIR/portkit) ---- */

/* Starts portkit with argv (its arguments, NULL-terminated, at most 38).
 * stdin: a pipe whose write end is *ret_in when ret_in is given, else a
 * memfd holding input_len bytes of input when input is given, else
 * /dev/null.  stdout and stderr go to memfds *ret_out and *ret_err (the
 * caller reads them with tu_slurp_fd). */
pid_t tu_portkit_start(const char *const *argv, const char *input, size_t input_len, int *ret_in,
                       int *ret_out, int *ret_err);

/* Starts portkit with argv in a new session whose controlling terminal is
 * a new pty, as its stdin, stdout and stderr; *ret_master is the pty's
 * master side (the caller closes it). */
pid_t tu_portkit_start_pty(const char *const *argv, int *ret_master);

/* A finished portkit run: stdout, stderr (owned) and tu_status_of(). */
struct tu_res {
        char *out, *err;
        int status;
};
/* Runs portkit to its end, stdin as for tu_portkit_start (input is a
 * string, or NULL for /dev/null). */
void tu_portkit_run(const char *const *argv, const char *input, struct tu_res *r);
void tu_res_free(struct tu_res *r);

/* ---- tests/helpers/spawn_probe reports ---- */

/* A command running the probe in mode; in "report" mode the report goes to
 * tu_probe_report_path(), in a fresh world-writable folder (so a probe
 * running as another uid can create it) removed at exit. */
struct pk_cmd *tu_probe_cmd(const char *mode);
const char *tu_probe_report_path(void);
/* Reads and removes the probe's report; asserts it is complete. */
char *tu_probe_take_report(void);
/* The value of "key=" in a report, or NULL.  The value lives in one of 8
 * per-thread buffers used in turn, so two values may be compared. */
const char *tu_kv(const char *rep, const char *key);
/* Whether the report has exactly this line. */
bool tu_has_line(const char *rep, const char *line);
/* The fds a report lists, as a sorted comma list "0,1,2,3" (per-thread
 * buffer). */
const char *tu_fd_list(const char *rep);

#endif
