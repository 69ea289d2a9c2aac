/* SPDX-License-Identifier: MIT */
/* Socket activation for `portkit supervise` (supervise_socket.c): the .socket
 * units' listening descriptors, held by the daemon across service restarts,
 * handed to Accept=no services at fds 3.. and turned into one instance per
 * connection for Accept=yes. */
#ifndef PORTKIT_SUPERVISE_SOCKET_H
#define PORTKIT_SUPERVISE_SOCKET_H

#include <portkit.h>

#include <stddef.h>
#include <stdint.h>

/* The daemon's log line (cmd_supervise.c): UTC time, "portkit supervise: ", text. */
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* FNV-1a of h, the path and the file's bytes (cmd_supervise.c), for daemon-reload's diff. */
uint64_t hash_file(uint64_t h, const char *path);

/* Every loaded socket unit; one per daemon. */
struct sk_set;

/* self_exe: the unit-exec helper; log_dir may be NULL; both borrowed for the set's life. */
int sk_set_new(const char *self_exe, const char *log_dir, int strict, struct sk_set **ret);
struct sk_set *sk_set_free(struct sk_set *set);

/* Takes a loaded socket unit (ownership passes, even on failure) and creates its
 * listening descriptors now.  dirs: the unit search path (copied), for the
 * Accept=yes instances.  Between sk_reload_begin() and its commit or abort the
 * unit is staged (below).  On failure err says which file, key and address.
 * *ret_service: the service name it activates (borrowed from the set), for
 * the caller to load; NULL for Accept=yes (templates load per connection). */
int sk_add(struct sk_set *set, struct pk_unit *u, const char *const *dirs, const char **ret_service,
           char *err, size_t errsz);

/* daemon-reload: sk_reload_begin() before loading the units again; each
 * sk_add() then stages the unit (unchanged files: the unit as it is, with its
 * descriptors; changed: new descriptors, except that an address it had
 * already keeps its descriptor; new: made).  sk_reload_abort() drops what was
 * staged and leaves every socket as it was (a load error refuses the reload);
 * sk_reload_commit() puts the staged set in place: units not staged again are
 * removed and their sockets closed, a changed unit's old sockets are closed,
 * services get the descriptors of the new set for their next run. */
void sk_reload_begin(struct sk_set *set);
void sk_reload_abort(struct sk_set *set);
void sk_reload_commit(struct sk_set *set);

/* What a service (not an Accept=yes instance) asks of socket activation that
 * is refused at load: StandardInput=socket (only Accept=yes instances get a
 * socket, their connection, as stdin).  0, or PK_EUNITVALUE with err
 * naming the file and the key. */
int sk_check_service(const struct pk_unit *u, char *err, size_t errsz);

/* Before pk_sup_add() of a service: gives the spec the descriptors of every
 * Accept=no socket unit that activates it (or that its Sockets= names), and
 * makes it manual (started on the first connection) unless `started` (the
 * service was named on the command line itself).  The spec's pointers stay
 * valid until the next call. */
void sk_attach(struct sk_set *set, const struct pk_unit *service, int started,
               struct pk_sup_child_spec *spec);

/* Once the supervisor runs: watch the sockets.  Subscribes to sup's events. */
int sk_start(struct sk_set *set, struct pk_loop *loop, struct pk_sup *sup);

/* The number of socket units, the name of one, and its status map for `ctl status`. */
size_t sk_count(const struct sk_set *set);
const char *sk_name(const struct sk_set *set, size_t i);
/* Index of the socket unit (or of the Accept=yes instance's socket) called name[0..len), or -1. */
long sk_find(const struct sk_set *set, const char *name, size_t len);
void sk_put_status(const struct sk_set *set, struct pk_etf_buf *b, size_t i);
/* `ctl start|stop|restart|try_restart NAME.socket`, as systemd: stop closes
 * the listening sockets (connections are refused; a running service keeps its
 * copies) until a start makes them again and watches them, which also clears
 * a failure.  0, the reason the sockets cannot be made (then the unit has
 * failed, `result` says why), or -EOPNOTSUPP for another verb. */
int sk_control(struct sk_set *set, size_t i, const char *verb);

#endif
