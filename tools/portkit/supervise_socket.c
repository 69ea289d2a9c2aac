/* SPDX-License-Identifier: MIT */
/* Socket activation for `portkit supervise`, as systemd.socket(5) describes
 * it: each .socket unit's Listen*= descriptors are made with the fd layer when
 * the unit is loaded, before any service starts, and stay the daemon's until
 * it exits, so a restarted service gets the very same sockets and nothing
 * queued meanwhile is lost.  Accept=no: the loop watches the sockets while the
 * service is down and starts it at the first connection or datagram (the sup
 * layer passes the fds at 3.. with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID).
 * Accept=yes: the daemon accepts and runs one TEMPLATE@N.service instance per
 * connection with the connection on stdin, stdout and fd 3. */
#include "supervise_socket.h"
#include "common/dynbuf.h"
#include "common/htab.h"
#include "supervise.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Socket units loaded at once: as many as units (PK_SV_MAX_UNITS), each its
 * own descriptors (the daemon's RLIMIT_NOFILE bounds those); more is an error
 * naming the limit. */
#define SK_MAX_UNITS PK_SV_MAX_UNITS
#define SK_MAX_DIRS 80
/* systemd's TriggerLimitBurst= / TriggerLimitIntervalSec= defaults for Accept=no. */
#define SK_TRIGGER_BURST 20
#define SK_TRIGGER_NS (2ull * 1000000000ull)

struct sk_unit;

/* One Listen*= descriptor. */
struct sk_listen {
        struct sk_unit *su;
        int fd;
        struct pk_fd_unix_listener ul; /* Unix sockets made by pk_fd_unix_listen() */
        int is_fifo;
        char desc[160]; /* "stream /run/foo.sock", "stream 127.0.0.1:8080" */
        struct pk_loop_io io;
        int watched;
        /* daemon-reload: the same address in the unit being replaced, whose
         * descriptor this one holds until the reload is committed or dropped */
        struct sk_listen *from;
};

/* One running Accept=yes instance. */
struct sk_inst {
        char name[PK_SUP_ID_MAX + 1];
        int conn;  /* the connection: the cmd maps it, so it lives until removal */
        int added; /* pk_sup_add() returned: the supervisor knows it */
        struct sk_inst *next;
};

struct sk_unit {
        struct sk_set *set;
        struct pk_unit *u;
        struct sk_listen *l;
        size_t nl;
        char *service; /* Accept=no: the service it activates; Accept=yes: the template */
        char *dirs[SK_MAX_DIRS + 1];
        struct pk_unit_strv notes; /* what it asks for that is not enforced */
        int failed;  /* trigger limit hit, the service is missing, the sockets cannot be made */
        int stopped; /* `ctl stop`: not watched until `ctl start` */
        char why[128];
        uint64_t trig[SK_TRIGGER_BURST];
        size_t ntrig;
        unsigned long accepted; /* connections so far (instance numbers) */
        unsigned ninst;
        struct sk_inst *inst;
        uint64_t hash; /* of its files, for daemon-reload's diff */
        int open;      /* its descriptors are made (closed by `ctl stop`) */
        int kept;      /* daemon-reload: unchanged, staged as itself */
        size_t pos;    /* its index in set->v (or set->pend while staged) */
        unsigned mark; /* collect(): taken by the call numbered so */
};

/* A service sk_attach() gave descriptors to: what decides which it gets. */
struct sk_att {
        char *name;
        char **sockets; /* its Sockets= (NULL-terminated copy) */
};

/* Units by name and Accept=no units by the service they activate (several
 * may share one), so that loading and attaching stay linear in the units. */
struct sk_index {
        struct pk__htab by_name, by_service;
};

struct sk_set {
        struct sk_unit **v; /* n of cap, at most SK_MAX_UNITS */
        size_t n, cap;
        struct sk_index idx; /* of v */
        const char *self_exe, *log_dir;
        int strict;
        struct pk_loop *loop;
        struct pk_sup *sup;
        int subscribed;
        /* sk_attach()'s output, valid until the next call */
        int afds[PK_SUP_MAX_FDS];
        const char *anames[PK_SUP_MAX_FDS];
        struct sk_att **att; /* natt of attcap */
        size_t natt, attcap;
        struct pk__htab att_idx; /* att by name */
        unsigned collect_gen;    /* collect()'s call number */
        /* daemon-reload in progress (sk_reload_begin()): the units it loads */
        int staging;
        struct sk_unit **pend; /* npend of pendcap */
        size_t npend, pendcap;
        struct sk_index pend_idx; /* of pend */
};

static void arm(struct sk_unit *su, int on);

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- notes ------------------------------------------------------------------------- */

/* Appends one sentence (copied) to the unit's not-enforced list. */
static int note(struct sk_unit *su, const char *text)
{
        char **v = realloc(su->notes.v, (su->notes.n + 2) * sizeof(char *));
        if (!v)
                return -ENOMEM;
        su->notes.v = v;
        if (!(v[su->notes.n] = strdup(text)))
                return -ENOMEM;
        v[++su->notes.n] = NULL;
        return 0;
}

/* What the unit sets that this daemon does not do, each named. */
static int collect_notes(struct sk_unit *su)
{
        const struct pk_unit *u = su->u;
        const struct pk_unit_socket *so = &u->socket;
        int r = 0;
        char buf[512];
        for (size_t i = 0; i < u->not_enforced.n && r == 0; i++) {
                const struct pk_unit_note *n = &u->not_enforced.v[i];
                snprintf(buf, sizeof(buf), "%s:%u: %s= is not enforced", n->file ? n->file : "",
                         n->line, n->key);
                r = note(su, buf);
        }
        const struct {
                size_t n;
                const char *key;
        } lists[] = {{so->symlinks.n, "Symlinks"},
                     {so->exec_start_pre.n, "ExecStartPre"},
                     {so->exec_start_post.n, "ExecStartPost"},
                     {so->exec_stop_pre.n, "ExecStopPre"},
                     {so->exec_stop_post.n, "ExecStopPost"}};
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && r == 0; i++)
                if (lists[i].n) {
                        snprintf(buf, sizeof(buf), "%s= of a socket unit is not enforced",
                                 lists[i].key);
                        r = note(su, buf);
                }
        return r;
}

/* ---- making the descriptors ----------------------------------------------------------- */

static int resolve_ids(const struct pk_unit_socket *so, uid_t *uid, gid_t *gid)
{
        *uid = (uid_t)-1;
        *gid = (gid_t)-1;
        if (so->user) {
                struct passwd *pw = getpwnam(so->user);
                char *end;
                unsigned long v = strtoul(so->user, &end, 10);
                if (pw) {
                        *uid = pw->pw_uid;
                        if (!so->group)
                                *gid = pw->pw_gid;
                } else if (*end == 0 && end != so->user) {
                        *uid = (uid_t)v;
                } else {
                        return PK_ENOUSER;
                }
        }
        if (so->group) {
                struct group *gr = getgrnam(so->group);
                char *end;
                unsigned long v = strtoul(so->group, &end, 10);
                if (gr)
                        *gid = gr->gr_gid;
                else if (*end == 0 && end != so->group)
                        *gid = (gid_t)v;
                else
                        return PK_ENOGROUP;
        }
        return 0;
}

static int setopt_int(int fd, int level, int name, int v)
{
        return setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

static const char *kind_key(int kind)
{
        switch (kind) {
        case PK_UNIT_LISTEN_STREAM:
                return "ListenStream";
        case PK_UNIT_LISTEN_DATAGRAM:
                return "ListenDatagram";
        case PK_UNIT_LISTEN_SEQPACKET:
                return "ListenSequentialPacket";
        default:
                return "ListenFIFO";
        }
}

/* Makes the descriptor of one Listen*= line; a negative errno with *what saying what failed. */
static int make_listen(struct sk_unit *su, const struct pk_unit_listen *li, struct sk_listen *l,
                       const char **what)
{
        const struct pk_unit_socket *so = &su->u->socket;
        static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
        static const char *const tnames[] = {"stream", "datagram", "seqpacket", "fifo"};
        uid_t uid;
        gid_t gid;
        int r = resolve_ids(so, &uid, &gid);
        *what = "SocketUser/SocketGroup";
        if (r < 0)
                return r;
        *what = "bind";
        l->fd = -1;
        l->ul = (struct pk_fd_unix_listener)PK_FD_UNIX_LISTENER_INIT;
        int backlog = so->backlog > 0x7fffffffu ? 0x7fffffff : (int)so->backlog;
        if (li->kind == PK_UNIT_LISTEN_FIFO) {
                snprintf(l->desc, sizeof(l->desc), "fifo %s", li->path);
                r = pk_fd_fifo_make(li->path, so->mode);
                if (r < 0)
                        return r;
                l->is_fifo = 1;
                /* read-write: the FIFO never reports EOF while we hold it */
                r = pk_fd_fifo_open(li->path, PK_FD_RDWR, PK_FD_NONBLOCK);
                r = r < 0 ? r : pk_fd_raise(r);
                if (r < 0)
                        return r;
                l->fd = r;
                if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(l->fd, uid, gid) < 0) {
                        *what = "chown";
                        return -errno;
                }
                return 0;
        }
        int type = types[li->kind];
        if (li->addr == PK_UNIT_ADDR_PATH || li->addr == PK_UNIT_ADDR_ABSTRACT) {
                char name[PK_FD_UNIX_PATH_MAX + 2];
                snprintf(name, sizeof(name), "%s%s", li->addr == PK_UNIT_ADDR_ABSTRACT ? "@" : "",
                         li->path);
                snprintf(l->desc, sizeof(l->desc), "%s %s", tnames[li->kind], name);
                struct pk_fd_unix_opts uo = {.flags = PK_FD_NONBLOCK,
                                             .backlog = backlog,
                                             .dir_mode = so->directory_mode,
                                             .socket_mode = so->mode};
                r = pk_fd_unix_listen(name, type, &uo, &l->ul);
                if (r < 0)
                        return r;
                l->fd = l->ul.fd = pk_fd_raise(r); /* held for long: see pk_fd_raise */
                if (li->addr == PK_UNIT_ADDR_PATH && (uid != (uid_t)-1 || gid != (gid_t)-1) &&
                    lchown(li->path, uid, gid) < 0) {
                        *what = "chown";
                        return -errno;
                }
                if (so->pass_credentials && (r = setopt_int(l->fd, SOL_SOCKET, SO_PASSCRED, 1)) < 0)
                        return r;
        } else {
                /* a sequential-packet socket on IP is SCTP's (as the kernel's default) */
                int proto = so->protocol                           ? so->protocol
                            : li->kind == PK_UNIT_LISTEN_SEQPACKET ? IPPROTO_SCTP
                                                                   : 0;
                struct pk_fd_inet_opts io = {.flags = PK_FD_NONBLOCK,
                                             .backlog = backlog,
                                             .reuse_port = so->reuse_port,
                                             .free_bind = so->free_bind,
                                             .scope = li->ifname,
                                             .device = so->bind_to_device,
                                             .protocol = proto};
                const char *host = li->path;
                if (li->addr == PK_UNIT_ADDR_PORT) {
                        /* all addresses: IPv6 and IPv4 unless BindIPv6Only=ipv6-only */
                        io.dual_stack = so->bind_ipv6_only != 2;
                        host = so->bind_ipv6_only == 2 ? "::" : NULL;
                        snprintf(l->desc, sizeof(l->desc), "%s *:%u", tnames[li->kind],
                                 (unsigned)li->port);
                } else if (li->addr == PK_UNIT_ADDR_INET6) {
                        io.dual_stack = so->bind_ipv6_only == 1;
                        snprintf(l->desc, sizeof(l->desc), "%s [%s]:%u", tnames[li->kind], host,
                                 (unsigned)li->port);
                } else {
                        snprintf(l->desc, sizeof(l->desc), "%s %s:%u", tnames[li->kind], host,
                                 (unsigned)li->port);
                }
                if ((proto == IPPROTO_SCTP && type == SOCK_DGRAM) ||
                    (proto == IPPROTO_UDPLITE && type != SOCK_DGRAM)) {
                        *what = proto == IPPROTO_SCTP
                                    ? "SocketProtocol=sctp makes stream and seqpacket sockets"
                                    : "SocketProtocol=udplite makes datagram sockets only";
                        return -EINVAL;
                }
                r = pk_fd_inet_listen(host, li->port, type, &io);
                if (r == -EAFNOSUPPORT && li->addr == PK_UNIT_ADDR_PORT) {
                        io.dual_stack = 0; /* no IPv6 in this kernel: IPv4 alone */
                        r = pk_fd_inet_listen(NULL, li->port, type, &io);
                }
                if ((r == -ESOCKTNOSUPPORT || r == -EPROTONOSUPPORT) && proto == IPPROTO_SCTP)
                        *what = "SCTP not available in this kernel (no sctp module)";
                else if ((r == -ESOCKTNOSUPPORT || r == -EPROTONOSUPPORT) &&
                         proto == IPPROTO_UDPLITE)
                        *what = "UDP-Lite not available in this kernel";
                if (r < 0)
                        return r;
                l->fd = pk_fd_raise(r);
                *what = "socket option";
                if (so->keep_alive && (r = setopt_int(l->fd, SOL_SOCKET, SO_KEEPALIVE, 1)) < 0)
                        return r;
                if (so->no_delay && type == SOCK_STREAM &&
                    (r = setopt_int(l->fd, IPPROTO_TCP, TCP_NODELAY, 1)) < 0)
                        return r;
        }
        *what = "socket option";
        if (so->receive_buffer &&
            (r = setopt_int(l->fd, SOL_SOCKET, SO_RCVBUF,
                            so->receive_buffer > 0x7fffffff ? 0x7fffffff
                                                            : (int)so->receive_buffer)) < 0)
                return r;
        if (so->send_buffer &&
            (r = setopt_int(l->fd, SOL_SOCKET, SO_SNDBUF,
                            so->send_buffer > 0x7fffffff ? 0x7fffffff : (int)so->send_buffer)) < 0)
                return r;
        return 0;
}

/* Closes one descriptor; the file goes only with RemoveOnStop=yes (systemd's default
 * leaves it, and the next bind replaces a stale socket file). */
static void close_listen(struct sk_listen *l, int remove)
{
        if (l->watched)
                pk_loop_io_stop(&l->io);
        l->watched = 0;
        if (l->ul.fd >= 0) {
                if (remove)
                        pk_fd_unix_listener_close(&l->ul);
                else
                        l->ul.fd = pk_fd_close(l->ul.fd);
                l->fd = -1;
        }
        if (l->fd >= 0)
                l->fd = pk_fd_close(l->fd);
        if (l->is_fifo && remove) {
                const char *p = strchr(l->desc, ' ');
                if (p)
                        (void)unlink(p + 1);
        }
        l->is_fifo = 0;
}

/* Closes every descriptor of the unit (`ctl stop`, removal). */
static void close_listens(struct sk_unit *su)
{
        for (size_t i = 0; i < su->nl; i++)
                close_listen(&su->l[i], su->u->socket.remove_on_stop);
        su->open = 0;
}

/* daemon-reload: borrowed descriptors go back to the unit that lends them
 * (commit == 0, the reload is dropped) or become this unit's (commit == 1). */
static void settle_borrowed(struct sk_unit *su, int commit)
{
        const struct pk_fd_unix_listener none = PK_FD_UNIX_LISTENER_INIT;
        for (size_t i = 0; i < su->nl; i++) {
                struct sk_listen *l = &su->l[i];
                if (!l->from)
                        continue;
                struct sk_listen *gone = commit ? l->from : l;
                gone->fd = -1;
                gone->ul = none;
                gone->is_fifo = 0;
                l->from = NULL;
        }
}

static void inst_free(struct sk_unit *su, struct sk_inst *in)
{
        for (struct sk_inst **pp = &su->inst; *pp; pp = &(*pp)->next)
                if (*pp == in) {
                        *pp = in->next;
                        break;
                }
        su->ninst--;
        pk_fd_close(in->conn);
        free(in);
}

static struct sk_unit *unit_free(struct sk_unit *su)
{
        if (!su)
                return NULL;
        settle_borrowed(su, 0); /* a dropped reload's unit: what it borrowed is not its own */
        close_listens(su);
        while (su->inst) {
                struct sk_inst *in = su->inst;
                if (su->set->sup)
                        (void)pk_sup_remove_child(su->set->sup, in->name);
                inst_free(su, in);
        }
        free(su->l);
        free(su->service);
        for (size_t i = 0; su->dirs[i]; i++)
                free(su->dirs[i]);
        for (size_t i = 0; i < su->notes.n; i++)
                free(su->notes.v[i]);
        free(su->notes.v);
        pk_unit_free(su->u);
        free(su);
        return NULL;
}

int sk_set_new(const char *self_exe, const char *log_dir, int strict, struct sk_set **ret)
{
        struct sk_set *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->self_exe = self_exe;
        s->log_dir = log_dir;
        s->strict = strict;
        *ret = s;
        return 0;
}

static void on_sup_event(void *ud, const struct pk_sup_event *ev);

void sk_reload_abort(struct sk_set *set);

static void index_free(struct sk_index *x)
{
        pk__htab_free(&x->by_name);
        pk__htab_free(&x->by_service);
}

static bool unit_name_match(const void *v, const void *key)
{
        return strcmp(((const struct sk_unit *)v)->u->name, key) == 0;
}

/* The socket unit called @name in @x, or NULL. */
static struct sk_unit *find_unit(const struct sk_index *x, const char *name)
{
        return pk__htab_get(&x->by_name, pk__hash_str(name), unit_name_match, name);
}

struct sk_set *sk_set_free(struct sk_set *set)
{
        if (!set)
                return NULL;
        if (set->subscribed)
                (void)pk_sup_unsubscribe(set->sup, on_sup_event, set);
        if (set->staging)
                sk_reload_abort(set);
        for (size_t i = 0; i < set->n; i++)
                unit_free(set->v[i]);
        free(set->v);
        index_free(&set->idx);
        free(set->pend);
        index_free(&set->pend_idx);
        for (size_t i = 0; i < set->natt; i++) {
                free(set->att[i]->name);
                for (size_t k = 0; set->att[i]->sockets && set->att[i]->sockets[k]; k++)
                        free(set->att[i]->sockets[k]);
                free(set->att[i]->sockets);
                free(set->att[i]);
        }
        free(set->att);
        pk__htab_free(&set->att_idx);
        free(set);
        return NULL;
}

static int same_listen(const struct pk_unit_listen *a, const struct pk_unit_listen *b)
{
        return a->kind == b->kind && a->addr == b->addr && a->port == b->port &&
               strcmp(a->path ? a->path : "", b->path ? b->path : "") == 0 &&
               strcmp(a->ifname ? a->ifname : "", b->ifname ? b->ifname : "") == 0;
}

/* Makes the descriptor of every Listen*= line.  old: the same-named unit a
 * daemon-reload replaces (or NULL); a line with the same address as one of
 * its lines borrows that descriptor instead (settle_borrowed()), so the
 * socket is never closed and a client connecting meanwhile is served. */
static int open_listens(struct sk_unit *su, struct sk_unit *old, char *err, size_t errsz)
{
        const struct pk_unit_socket *so = &su->u->socket;
        const char *file = su->u->fragment_path ? su->u->fragment_path : su->u->name;
        const struct pk_fd_unix_listener none = PK_FD_UNIX_LISTENER_INIT;
        su->nl = 0;
        for (size_t i = 0; i < so->listen.n; i++) {
                const struct pk_unit_listen *li = &so->listen.v[i];
                struct sk_listen *l = &su->l[su->nl];
                memset(l, 0, sizeof(*l));
                l->su = su;
                l->fd = -1;
                l->ul = none;
                for (size_t k = 0; old && old->open && k < old->nl; k++) {
                        struct sk_listen *o = &old->l[k];
                        if (o->fd < 0 || !same_listen(li, &old->u->socket.listen.v[k]))
                                continue;
                        l->fd = o->fd;
                        l->ul = o->ul;
                        l->is_fifo = o->is_fifo;
                        memcpy(l->desc, o->desc, sizeof(l->desc));
                        l->from = o;
                        break;
                }
                su->nl++; /* closed by close_listens() whatever happens */
                if (l->from)
                        continue;
                const char *what = "";
                int r = make_listen(su, li, l, &what);
                if (r < 0) {
                        /* l->desc names the address as given ("stream 127.0.0.1:80");
                         * file:line is the Listen*= line */
                        char where[32] = "";
                        if (li->line)
                                snprintf(where, sizeof(where), ":%u", li->line);
                        snprintf(err, errsz, "%s%s: %s= %s: %s: %s", li->file ? li->file : file,
                                 where, kind_key(li->kind), l->desc, what, pk_strerror(r));
                        return r;
                }
        }
        su->open = 1;
        return 0;
}

/* An Accept=no unit of the service @key not yet taken (marked) by the current
 * collect_gen, for walking every unit of one service in set->idx.by_service. */
static bool service_match(const void *v, const void *key)
{
        const struct sk_unit *su = v;
        return su->mark != su->set->collect_gen && strcmp(su->service, key) == 0;
}

/* A new collect_gen, for a walk of set->idx.by_service.  Marks start at 0,
 * never a current number; once the counter wraps, every mark is reset so that
 * an old one cannot equal a new number. */
static void next_gen(struct sk_set *set)
{
        if (++set->collect_gen != 0)
                return;
        set->collect_gen = 1;
        for (size_t i = 0; i < set->n; i++)
                set->v[i]->mark = 0;
        for (size_t i = 0; i < set->npend; i++)
                set->pend[i]->mark = 0;
}

/* Appends @su to the set's units (the staged ones while a reload stages) and
 * indexes it: 0, -E2BIG past SK_MAX_UNITS, -ENOMEM (nothing changed). */
static int put_unit(struct sk_set *set, struct sk_unit *su, char *err, size_t errsz)
{
        struct sk_unit ***v = set->staging ? &set->pend : &set->v;
        size_t *n = set->staging ? &set->npend : &set->n;
        size_t *cap = set->staging ? &set->pendcap : &set->cap;
        struct sk_index *x = set->staging ? &set->pend_idx : &set->idx;
        if (*n >= SK_MAX_UNITS) {
                snprintf(err, errsz, "%s: more than %d socket units (the limit)",
                         su->u->fragment_path ? su->u->fragment_path : su->u->name, SK_MAX_UNITS);
                return -E2BIG;
        }
        if (pk__array_grow((void **)v, cap, *n + 1, sizeof(struct sk_unit *), 16) < 0 ||
            pk__htab_reserve(&x->by_name, 1) < 0 || pk__htab_reserve(&x->by_service, 1) < 0) {
                snprintf(err, errsz, "%s: %s", su->u->name, pk_strerror(-ENOMEM));
                return -ENOMEM;
        }
        su->pos = *n;
        (*v)[(*n)++] = su;
        (void)pk__htab_put(&x->by_name, pk__hash_str(su->u->name), su); /* reserved */
        if (!su->u->socket.accept)
                (void)pk__htab_put(&x->by_service, pk__hash_str(su->service), su);
        return 0;
}

static uint64_t unit_hash(const struct pk_unit *u)
{
        uint64_t h = hash_file(0xcbf29ce484222325ull, u->fragment_path);
        for (size_t i = 0; i < u->dropin_paths.n; i++)
                h = hash_file(h, u->dropin_paths.v[i]);
        return h;
}

int sk_add(struct sk_set *set, struct pk_unit *u, const char *const *dirs, const char **ret_service,
           char *err, size_t errsz)
{
        *ret_service = NULL;
        struct sk_unit *have = find_unit(set->staging ? &set->pend_idx : &set->idx, u->name);
        if (have) { /* loaded twice by one load */
                *ret_service = have->u->socket.accept ? NULL : have->service;
                pk_unit_free(u);
                return 0;
        }
        uint64_t hash = unit_hash(u);
        struct sk_unit *old = set->staging ? find_unit(&set->idx, u->name) : NULL;
        const char *file = u->fragment_path ? u->fragment_path : u->name;
        if (old && old->hash == hash) {
                /* daemon-reload, files unchanged: the unit stays as it is (its
                 * pos changes only once the reload is committed) */
                size_t pos = old->pos;
                int r = put_unit(set, old, err, errsz);
                old->pos = pos;
                pk_unit_free(u);
                if (r < 0)
                        return r;
                old->kept = 1;
                *ret_service = old->u->socket.accept ? NULL : old->service;
                return 0;
        }
        struct sk_unit *su = calloc(1, sizeof(*su));
        if (!su) {
                pk_unit_free(u);
                return -ENOMEM;
        }
        su->set = set;
        su->u = u;
        su->hash = hash;
        const struct pk_unit_socket *so = &u->socket;
        int r = -ENOMEM;
        su->l = calloc(so->listen.n ? so->listen.n : 1, sizeof(*su->l));
        su->service = strdup(so->service);
        if (!su->l || !su->service)
                goto fail;
        for (size_t i = 0; dirs && dirs[i] && i < SK_MAX_DIRS; i++)
                if (!(su->dirs[i] = strdup(dirs[i])))
                        goto fail;
        if ((r = collect_notes(su)) < 0)
                goto fail;
        if (so->listen.n == 0) {
                /* only ListenNetlink= and the like, all of them not enforced */
                snprintf(err, errsz, "%s: no Listen*= this daemon can make (see the notes)", file);
                r = -EOPNOTSUPP;
                goto fail;
        }
        for (size_t i = 0; i < so->listen.n; i++) {
                const struct pk_unit_listen *li = &so->listen.v[i];
                if (so->accept && li->kind != PK_UNIT_LISTEN_STREAM &&
                    li->kind != PK_UNIT_LISTEN_SEQPACKET) {
                        snprintf(err, errsz,
                                 "%s: %s=%s: Accept=yes is only for stream and seqpacket sockets",
                                 file, kind_key(li->kind), li->path ? li->path : "");
                        r = PK_EUNITVALUE;
                        goto fail;
                }
        }
        if (old && old->stopped)
                su->stopped = 1; /* a reload does not start a stopped socket unit */
        else if ((r = open_listens(su, old, err, errsz)) < 0)
                goto fail;
        /* staged: made now, in place at sk_reload_commit() */
        if ((r = put_unit(set, su, err, errsz)) < 0)
                goto fail;
        for (size_t i = 0; i < su->notes.n; i++)
                logf_("%s: %s", u->name, su->notes.v[i]);
        /* loaded on demand after sk_start() (`ctl start NAME.socket`): watch it
         * now; for Accept=no a service that already runs makes the first
         * trigger a no-op */
        if (!set->staging && set->loop)
                arm(su, 1);
        *ret_service = so->accept ? NULL : su->service;
        return 0;
fail:
        unit_free(su);
        return r;
}

/* Hands every attached service the descriptors of the socket units that
 * activate it now (after a socket unit is stopped, started or reloaded): its
 * next run gets them. */
static void reattach_all(struct sk_set *set);

void sk_reload_begin(struct sk_set *set)
{
        set->staging = 1;
        set->npend = 0;
        index_free(&set->pend_idx);
}

void sk_reload_abort(struct sk_set *set)
{
        for (size_t i = 0; i < set->npend; i++) {
                if (set->pend[i]->kept)
                        set->pend[i]->kept = 0;
                else
                        unit_free(set->pend[i]); /* its own sockets closed, borrowed ones not */
        }
        set->npend = 0;
        set->staging = 0;
        index_free(&set->pend_idx);
}

void sk_reload_commit(struct sk_set *set)
{
        unsigned kept = 0, changed = 0, added = 0, removed = 0;
        for (size_t i = 0; i < set->npend; i++)
                if (!find_unit(&set->idx, set->pend[i]->u->name)) {
                        added++;
                        logf_("daemon-reload: %s added", set->pend[i]->u->name);
                }
        for (size_t i = 0; i < set->n; i++) {
                struct sk_unit *old = set->v[i];
                if (old->kept) {
                        old->kept = 0;
                        kept++;
                        continue;
                }
                struct sk_unit *rep = find_unit(&set->pend_idx, old->u->name);
                arm(old, 0);
                if (rep) {
                        /* Accept=yes instances still running go on under the new unit */
                        settle_borrowed(rep, 1);
                        while (old->inst) {
                                struct sk_inst *in = old->inst;
                                old->inst = in->next;
                                old->ninst--;
                                in->next = rep->inst;
                                rep->inst = in;
                                rep->ninst++;
                        }
                        rep->accepted = old->accepted;
                        changed++;
                        logf_("daemon-reload: %s changed: sockets made again", old->u->name);
                } else {
                        removed++;
                        logf_("daemon-reload: %s removed: sockets closed", old->u->name);
                }
                unit_free(old); /* closes what was not handed on */
        }
        /* the staged array and its index become the set's */
        struct sk_unit **v = set->v;
        size_t cap = set->cap;
        set->v = set->pend;
        set->cap = set->pendcap;
        set->n = set->npend;
        set->pend = v;
        set->pendcap = cap;
        set->npend = 0;
        index_free(&set->idx);
        set->idx = set->pend_idx;
        set->pend_idx = (struct sk_index){0};
        for (size_t i = 0; i < set->n; i++)
                set->v[i]->pos = i;
        set->staging = 0;
        if (set->sup)
                reattach_all(set);
        /* watched unless the service runs (one not added yet is down) */
        for (size_t i = 0; set->loop && i < set->n; i++) {
                struct sk_unit *su = set->v[i];
                struct pk_sup_child_info ci;
                arm(su, su->u->socket.accept || pk_sup_child_info(set->sup, su->service, &ci) < 0 ||
                            ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED);
        }
        logf_("daemon-reload: sockets: %u unchanged, %u changed, %u added, %u removed", kept,
              changed, added, removed);
}

/* ---- Accept=no ------------------------------------------------------------------------ */

static void on_listen_ready(struct pk_loop_io *io, unsigned revents);

static void arm(struct sk_unit *su, int on)
{
        struct sk_set *set = su->set;
        for (size_t i = 0; i < su->nl; i++) {
                struct sk_listen *l = &su->l[i];
                if (on && !l->watched && !su->failed && !su->stopped && set->loop) {
                        pk_loop_io_init(set->loop, &l->io, l->fd);
                        l->io.w.ctx = l;
                        if (pk_loop_io_start(&l->io, PK_LOOP_READ, on_listen_ready) == 0) {
                                /* the sockets alone do not keep the daemon alive */
                                pk_loop_unref(&l->io.w);
                                l->watched = 1;
                        }
                } else if (!on && l->watched) {
                        pk_loop_io_stop(&l->io);
                        l->watched = 0;
                }
        }
}

/* TriggerLimitBurst=20 in TriggerLimitIntervalSec=2s: a service that exits
 * without taking what is pending would otherwise be started forever. */
static int trigger_limited(struct sk_unit *su)
{
        uint64_t t = now_ns();
        size_t k = 0;
        for (size_t i = 0; i < su->ntrig; i++)
                if (t - su->trig[i] < SK_TRIGGER_NS)
                        su->trig[k++] = su->trig[i];
        su->ntrig = k;
        if (k >= SK_TRIGGER_BURST)
                return 1;
        su->trig[su->ntrig++] = t;
        return 0;
}

static void spawn_instance(struct sk_unit *su, int conn);
static void sweep_instances(struct sk_set *set);

static void on_listen_ready(struct pk_loop_io *io, unsigned revents)
{
        struct sk_listen *l = io->w.ctx;
        struct sk_unit *su = l->su;
        (void)revents;
        if (su->u->socket.accept) {
                for (int i = 0; i < 16; i++) {
                        int conn = pk_fd_accept(l->fd, 0);
                        if (conn < 0) {
                                if (conn != -EAGAIN)
                                        logf_("%s: accept: %s", su->u->name, pk_strerror(conn));
                                return;
                        }
                        spawn_instance(su, conn);
                }
                return;
        }
        arm(su, 0);
        if (trigger_limited(su)) {
                su->failed = 1;
                snprintf(su->why, sizeof(su->why), "trigger-limit-hit");
                logf_("%s: started %s %d times in 2 s without it taking the connection: "
                      "socket failed (trigger-limit-hit)",
                      su->u->name, su->service, SK_TRIGGER_BURST);
                return;
        }
        logf_("%s: %s activity: starting %s", su->u->name, l->desc, su->service);
        int r = pk_sup_start_child(su->set->sup, su->service);
        if (r == -ESHUTDOWN)
                return; /* the daemon is stopping: nothing starts any more */
        if (r < 0 && r != -EALREADY) {
                su->failed = 1;
                snprintf(su->why, sizeof(su->why), "%s: %s", su->service, pk_strerror(r));
                logf_("%s: cannot start %s: %s", su->u->name, su->service, pk_strerror(r));
        }
}

/* ---- Accept=yes ------------------------------------------------------------------------- */

/* REMOTE_ADDR / REMOTE_PORT, as systemd sets them for IP connections. */
static void remote_env(struct pk_cmd *cmd, int conn)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        if (getpeername(conn, (struct sockaddr *)&ss, &len) < 0)
                return;
        char a[INET6_ADDRSTRLEN] = "";
        unsigned port;
        if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
                inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
                port = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
                inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
                port = ntohs(s6->sin6_port);
        } else {
                return;
        }
        char p[16];
        snprintf(p, sizeof(p), "%u", port);
        (void)pk_cmd_env_set(cmd, "REMOTE_ADDR", a);
        (void)pk_cmd_env_set(cmd, "REMOTE_PORT", p);
}

/* systemd's instance name for connection number nr: "N-LOCAL:PORT-REMOTE:PORT"
 * for IP (an IPv4-mapped IPv6 pair written as IPv4), "N-PID-UID" for a Unix
 * peer ("N-unknown" when its pid is not visible here).  -errno when the
 * connection cannot be read. */
static int instance_of(int conn, unsigned long nr, char *buf, size_t size)
{
        struct sockaddr_storage ls, rs;
        socklen_t ll = sizeof(ls), rl = sizeof(rs);
        memset(&ls, 0, sizeof(ls));
        memset(&rs, 0, sizeof(rs));
        if (getsockname(conn, (struct sockaddr *)&ls, &ll) < 0 ||
            getpeername(conn, (struct sockaddr *)&rs, &rl) < 0)
                return -errno;
        if (ls.ss_family == AF_UNIX) {
                struct pk_fd_cred cr;
                if (pk_fd_peercred(conn, &cr) == 0 && cr.pid > 0)
                        snprintf(buf, size, "%lu-%ld-%lu", nr, (long)cr.pid, (unsigned long)cr.uid);
                else
                        snprintf(buf, size, "%lu-unknown", nr);
                return 0;
        }
        char la[INET6_ADDRSTRLEN] = "", ra[INET6_ADDRSTRLEN] = "";
        unsigned lp, rp;
        if (ls.ss_family == AF_INET) {
                const struct sockaddr_in *l4 = (const void *)&ls, *r4 = (const void *)&rs;
                inet_ntop(AF_INET, &l4->sin_addr, la, sizeof(la));
                inet_ntop(AF_INET, &r4->sin_addr, ra, sizeof(ra));
                lp = ntohs(l4->sin_port);
                rp = ntohs(r4->sin_port);
        } else if (ls.ss_family == AF_INET6) {
                const struct sockaddr_in6 *l6 = (const void *)&ls, *r6 = (const void *)&rs;
                if (IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr) && IN6_IS_ADDR_V4MAPPED(&r6->sin6_addr)) {
                        inet_ntop(AF_INET, &l6->sin6_addr.s6_addr[12], la, sizeof(la));
                        inet_ntop(AF_INET, &r6->sin6_addr.s6_addr[12], ra, sizeof(ra));
                } else {
                        inet_ntop(AF_INET6, &l6->sin6_addr, la, sizeof(la));
                        inet_ntop(AF_INET6, &r6->sin6_addr, ra, sizeof(ra));
                }
                lp = ntohs(l6->sin6_port);
                rp = ntohs(r6->sin6_port);
        } else {
                return -EAFNOSUPPORT;
        }
        snprintf(buf, size, "%lu-%s:%u-%s:%u", nr, la, lp, ra, rp);
        return 0;
}

static void spawn_instance(struct sk_unit *su, int conn)
{
        struct sk_set *set = su->set;
        const struct pk_unit_socket *so = &su->u->socket;
        if (su->ninst >= so->max_connections) {
                logf_("%s: MaxConnections=%u reached: connection refused", su->u->name,
                      so->max_connections);
                pk_fd_close(conn);
                return;
        }
        /* "echo@.service" -> "echo@7-127.0.0.1:7-127.0.0.1:41234.service", as systemd */
        const char *at = strchr(su->service, '@');
        unsigned long nr = su->accepted++;
        char inst[2 * INET6_ADDRSTRLEN + 64];
        int r = instance_of(conn, nr, inst, sizeof(inst));
        if (r < 0) {
                logf_("%s: connection %lu: %s: closed", su->u->name, nr, pk_strerror(r));
                pk_fd_close(conn);
                return;
        }
        char name[PK_SUP_ID_MAX + 1];
        int nl = snprintf(name, sizeof(name), "%.*s@%s.service", (int)(at - su->service),
                          su->service, inst);
        if (nl < 0 || (size_t)nl >= sizeof(name)) {
                /* over the supervisor's id limit (long IPv6 addresses): the number alone */
                nl = snprintf(name, sizeof(name), "%.*s@%lu.service", (int)(at - su->service),
                              su->service, nr);
                if (nl < 0 || (size_t)nl >= sizeof(name)) {
                        logf_("%s: instance name too long", su->u->name);
                        pk_fd_close(conn);
                        return;
                }
                logf_("%s: %.*s@%s.service is longer than %d bytes: named %s", su->u->name,
                      (int)(at - su->service), su->service, inst, PK_SUP_ID_MAX, name);
        }
        struct pk_unit_opts uo = {.flags = set->strict ? PK_UNIT_STRICT : 0,
                                  .dirs = (const char *const *)su->dirs};
        struct pk_unit_error ue = {0};
        struct pk_unit *u = NULL;
        struct pk_unit_child *ch = NULL;
        struct sk_inst *in = NULL;
        r = pk_unit_load(name, &uo, &u, &ue);
        if (r == 0) {
                pk_sv_unit_defaults(u);
                const char *helper[] = {set->self_exe, "unit-exec", NULL};
                extern char **environ;
                struct pk_unit_child_opts co = {.helper = helper,
                                                .manager_env = (const char *const *)environ,
                                                .dir_root = getenv("PORTKIT_DIR_ROOT"),
                                                .create_dirs = 1};
                r = pk_unit_to_child(u, &co, &ch, &ue);
        }
        if (r == 0)
                r = (in = calloc(1, sizeof(*in))) ? 0 : -ENOMEM;
        /* The connection on stdin and stdout (and fd 3, LISTEN_FDS=1); stderr as the unit says. */
        if (r == 0)
                r = pk_cmd_fd(ch->cmd, 0, conn);
        if (r == 0)
                r = pk_cmd_fd(ch->cmd, 1, conn);
        if (r != 0 || !ch || !in) {
                logf_("%s: %s: %s%s%s", su->u->name, name, ue.file[0] ? ue.file : "",
                      ue.file[0] ? ": " : "",
                      ue.message[0] ? ue.message : pk_strerror(r ? r : -ENOMEM));
                free(in);
                pk_unit_child_free(ch);
                pk_unit_free(u);
                pk_fd_close(conn);
                return;
        }
        remote_env(ch->cmd, conn);
        struct pk_sup_child_spec spec = ch->spec;
        const char *cname = "connection";
        spec.restart = PK_SUP_TEMPORARY; /* one run per connection */
        spec.log_dir = NULL;             /* stdout is the connection */
        spec.requires_ids = spec.wants = spec.after = spec.binds_to = spec.conflicts = NULL;
        spec.listen_fds = &conn;
        spec.n_listen_fds = 1;
        spec.listen_fd_names = &cname;
        spec.manual = 0;
        struct pk_cmd *cmd = ch->cmd;
        ch->cmd = NULL;
        snprintf(in->name, sizeof(in->name), "%s", name);
        in->conn = conn;
        in->next = su->inst;
        su->inst = in;
        su->ninst++;
        for (size_t i = 0; i < ch->notes.n; i++)
                logf_("%s: %s", name, ch->notes.v[i]);
        r = pk_sup_add(set->sup, &spec, cmd);
        pk_unit_child_free(ch);
        pk_unit_free(u);
        if (r < 0) {
                logf_("%s: cannot start %s: %s", su->u->name, name, pk_strerror(r));
                inst_free(su, in);
                return;
        }
        in->added = 1;
        sweep_instances(set); /* it may have ended already, while being added */
}

/* ---- events --------------------------------------------------------------------------- */

/* Removes every Accept=yes instance that has ended, and closes the daemon's
 * copy of its connection.  Run at each event, not only at the instance's
 * own: an instance whose removal was refused at its last event (still
 * stopping) is not left behind holding its connection. */
static void sweep_instances(struct sk_set *set)
{
        for (size_t i = 0; i < set->n; i++) {
                struct sk_unit *su = set->v[i];
                struct sk_inst *next;
                for (struct sk_inst *in = su->inst; in; in = next) {
                        next = in->next;
                        if (!in->added)
                                continue; /* being added (an event delivered meanwhile) */
                        /* the current state: an event's is the one at emission */
                        struct pk_sup_child_info ci;
                        int r = pk_sup_child_info(set->sup, in->name, &ci);
                        if (r == -ENOENT ||
                            (r == 0 && (ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED) &&
                             pk_sup_remove_child(set->sup, in->name) == 0))
                                inst_free(su, in);
                }
        }
}

static void on_sup_event(void *ud, const struct pk_sup_event *ev)
{
        struct sk_set *set = ud;
        if (!ev->id[0] || ev->kind == PK_SUP_EV_ORPHAN)
                return;
        if (ev->kind == PK_SUP_EV_EXITED || ev->kind == PK_SUP_EV_GAVE_UP ||
            ev->kind == PK_SUP_EV_SPAWN_ERROR)
                sweep_instances(set);
        next_gen(set);
        struct sk_unit *su;
        while ((
            su = pk__htab_get(&set->idx.by_service, pk__hash_str(ev->id), service_match, ev->id))) {
                su->mark = set->collect_gen; /* each Accept=no unit of the service once */
                /* The service runs: it owns the sockets.  Down: watch them again, so a
                 * connection that arrives (or waits already) starts it anew. */
                struct pk_sup_child_info ci;
                int now_down = pk_sup_child_info(set->sup, su->service, &ci) == 0 &&
                               (ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED);
                arm(su, now_down);
        }
}

int sk_start(struct sk_set *set, struct pk_loop *loop, struct pk_sup *sup)
{
        set->loop = loop;
        set->sup = sup;
        if (!set->subscribed) {
                int r = pk_sup_subscribe(sup, on_sup_event, set);
                if (r < 0)
                        return r;
                set->subscribed = 1;
        }
        for (size_t i = 0; i < set->n; i++) {
                struct sk_unit *su = set->v[i];
                struct pk_sup_child_info ci;
                if (su->u->socket.accept)
                        arm(su, 1);
                else if (pk_sup_child_info(sup, su->service, &ci) == 0)
                        arm(su, ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED);
                else {
                        su->failed = 1;
                        snprintf(su->why, sizeof(su->why), "%s: not loaded", su->service);
                        logf_("%s: its service %s is not loaded: socket failed", su->u->name,
                              su->service);
                }
        }
        return 0;
}

/* Whether the Accept=no service is down (so its sockets are the daemon's to watch). */
static int service_down(const struct sk_unit *su)
{
        struct pk_sup_child_info ci;
        return su->u->socket.accept || (pk_sup_child_info(su->set->sup, su->service, &ci) == 0 &&
                                        (ci.state == PK_SUP_DOWN || ci.state == PK_SUP_FAILED));
}

int sk_control(struct sk_set *set, size_t i, const char *verb)
{
        struct sk_unit *su = set->v[i];
        int stop = strcmp(verb, "stop") == 0;
        int start = strcmp(verb, "start") == 0;
        int restart = strcmp(verb, "restart") == 0 ||
                      (strcmp(verb, "try_restart") == 0 && !su->stopped && !su->failed);
        if (strcmp(verb, "try_restart") == 0 && !restart)
                return 0;
        if (!stop && !start && !restart)
                return -EOPNOTSUPP;
        if (stop || restart) {
                /* systemd closes a stopped socket unit's sockets */
                arm(su, 0);
                su->stopped = 1;
                if (su->open) {
                        close_listens(su);
                        reattach_all(set);
                }
                logf_("%s: stopped: sockets closed", su->u->name);
        }
        if (start || restart) {
                su->stopped = 0;
                su->failed = 0;
                su->ntrig = 0;
                su->why[0] = 0;
                if (!su->open) {
                        char err[sizeof(su->why)];
                        int r = open_listens(su, NULL, err, sizeof(err));
                        if (r < 0) {
                                close_listens(su);
                                su->failed = 1;
                                snprintf(su->why, sizeof(su->why), "%s", err);
                                logf_("%s: cannot start: %s", su->u->name, err);
                                return r;
                        }
                        reattach_all(set);
                }
                if (set->sup)
                        arm(su, service_down(su));
                logf_("%s: started", su->u->name);
        }
        return 0;
}

int sk_check_service(const struct pk_unit *u, char *err, size_t errsz)
{
        if (u->exec.std_input.kind != PK_UNIT_STDIO_SOCKET)
                return 0;
        /* systemd passes the one listening socket of an Accept=no service as
         * stdin (inetd's "wait" mode); here the sockets are at fds 3.. only */
        snprintf(err, errsz,
                 "%s: StandardInput=socket: only Accept=yes instances get a socket (their "
                 "connection) as stdin here; use the LISTEN_FDS descriptors (fd 3)",
                 u->fragment_path ? u->fragment_path : u->name);
        return PK_EUNITVALUE;
}

/* ---- attaching to services ---------------------------------------------------------------- */

static int cmp_pos(const void *a, const void *b)
{
        size_t x = (*(struct sk_unit *const *)a)->pos, y = (*(struct sk_unit *const *)b)->pos;
        return x < y ? -1 : x > y;
}

/* The socket units that activate the service, in the set's order: *ret
 * (caller frees; NULL when none) and how many.  -ENOMEM. */
static long activators(struct sk_set *set, const struct sk_att *a, struct sk_unit ***ret)
{
        *ret = NULL;
        next_gen(set);
        struct sk_unit **v = NULL;
        size_t n = 0, cap = 0;
        for (;;) {
                /* the Accept=no units whose Service= it is (each taken once: marked), then those
                 * its Sockets= names */
                struct sk_unit *su = pk__htab_get(&set->idx.by_service, pk__hash_str(a->name),
                                                  service_match, a->name);
                for (size_t i = 0; !su && a->sockets && a->sockets[i]; i++) {
                        struct sk_unit *x = find_unit(&set->idx, a->sockets[i]);
                        if (x && x->mark != set->collect_gen && !x->u->socket.accept)
                                su = x;
                }
                if (!su)
                        break;
                su->mark = set->collect_gen;
                if (pk__array_grow((void **)&v, &cap, n + 1, sizeof(struct sk_unit *), 4) < 0) {
                        free(v);
                        return -ENOMEM;
                }
                v[n++] = su;
        }
        if (n > 1)
                qsort(v, n, sizeof(struct sk_unit *), cmp_pos);
        *ret = v;
        return (long)n;
}

/* Fills afds/anames with the open descriptors of every socket unit that
 * activates the service; returns how many, *any: whether a unit names it. */
static size_t collect(struct sk_set *set, const struct sk_att *a, int *any)
{
        size_t n = 0, all = 0;
        *any = 0;
        struct sk_unit **act = NULL;
        long nact = activators(set, a, &act);
        if (nact < 0) {
                logf_("%s: out of memory: not socket-activated", a->name);
                return 0;
        }
        for (long i = 0; i < nact; i++) {
                struct sk_unit *su = act[i];
                *any = 1;
                for (size_t k = 0; su->open && k < su->nl; k++, all++) {
                        if (n == PK_SUP_MAX_FDS)
                                continue; /* counted in all, reported below */
                        set->afds[n] = su->l[k].fd;
                        set->anames[n++] = su->u->socket.fd_name;
                }
        }
        free(act);
        if (all > n)
                logf_(
                    "%s: its socket units listen on %zu descriptors; only the first %d are passed "
                    "(the limit)",
                    a->name, all, PK_SUP_MAX_FDS);
        return n;
}

static void reattach_all(struct sk_set *set)
{
        for (size_t i = 0; set->sup && i < set->natt; i++) {
                int any;
                size_t n = collect(set, set->att[i], &any);
                int r =
                    pk_sup_set_listen_fds(set->sup, set->att[i]->name, set->afds, n, set->anames);
                if (r < 0 && r != -ENOENT)
                        logf_("%s: cannot pass it the sockets: %s", set->att[i]->name,
                              pk_strerror(r));
        }
}

static bool att_match(const void *v, const void *key)
{
        return strcmp(((const struct sk_att *)v)->name, key) == 0;
}

/* The service's entry in set->att (made, or updated with its Sockets=). */
static struct sk_att *remember(struct sk_set *set, const struct pk_unit *service)
{
        struct sk_att *a =
            pk__htab_get(&set->att_idx, pk__hash_str(service->name), att_match, service->name);
        if (!a) {
                if (pk__array_grow((void **)&set->att, &set->attcap, set->natt + 1,
                                   sizeof(struct sk_att *), 16) < 0 ||
                    pk__htab_reserve(&set->att_idx, 1) < 0 || !(a = calloc(1, sizeof(*a))))
                        return NULL;
                if (!(a->name = strdup(service->name))) {
                        free(a);
                        return NULL;
                }
                set->att[set->natt++] = a;
                (void)pk__htab_put(&set->att_idx, pk__hash_str(a->name), a); /* reserved */
        }
        const struct pk_unit_strv *sk = &service->service.sockets;
        char **nv = calloc(sk->n + 1, sizeof(char *));
        for (size_t i = 0; nv && i < sk->n; i++)
                if (!(nv[i] = strdup(sk->v[i]))) {
                        for (size_t k = 0; k < i; k++)
                                free(nv[k]);
                        free(nv);
                        nv = NULL;
                }
        if (!nv)
                return NULL;
        for (size_t k = 0; a->sockets && a->sockets[k]; k++)
                free(a->sockets[k]);
        free(a->sockets);
        a->sockets = nv;
        return a;
}

void sk_attach(struct sk_set *set, const struct pk_unit *service, int started,
               struct pk_sup_child_spec *spec)
{
        for (size_t k = 0; k < service->service.sockets.n; k++) {
                const char *want = service->service.sockets.v[k];
                if (sk_find(set, want, strlen(want)) < 0)
                        logf_("%s: Sockets=%s: no such socket unit is loaded", service->name, want);
        }
        struct sk_att *a = remember(set, service);
        if (!a) {
                logf_("%s: out of memory: not socket-activated", service->name);
                return;
        }
        int any;
        size_t n = collect(set, a, &any);
        if (!any)
                return;
        spec->manual = !started;
        spec->listen_fds = set->afds;
        spec->n_listen_fds = n;
        spec->listen_fd_names = set->anames;
}

/* ---- status ------------------------------------------------------------------------------ */

size_t sk_count(const struct sk_set *set)
{
        return set ? set->n : 0;
}

const char *sk_name(const struct sk_set *set, size_t i)
{
        return set->v[i]->u->name;
}

long sk_find(const struct sk_set *set, const char *name, size_t len)
{
        char key[256];
        if (!set || len >= sizeof(key) || memchr(name, '\0', len))
                return -1; /* no unit name is that long */
        memcpy(key, name, len);
        key[len] = '\0';
        const struct sk_unit *su = find_unit(&set->idx, key);
        return su ? (long)su->pos : -1;
}

static void put_str(struct pk_etf_buf *b, const char *s)
{
        pk_etf_put_binary(b, s, strlen(s));
}

static void put_atom(struct pk_etf_buf *b, const char *s)
{
        pk_etf_put_atom(b, s, strlen(s));
}

void sk_put_status(const struct sk_set *set, struct pk_etf_buf *b, size_t i)
{
        const struct sk_unit *su = set->v[i];
        int watching = su->nl && su->l[0].watched;
        pk_etf_put_map(b, 10);
        put_atom(b, "name");
        put_str(b, su->u->name);
        put_atom(b, "description");
        put_str(b, su->u->description ? su->u->description : "");
        /* systemd's socket sub-states: listening (waiting), running (the service has them) */
        put_atom(b, "state");
        put_atom(b, su->failed    ? "failed"
                    : su->stopped ? "dead"
                    : watching    ? "listening"
                                  : "running");
        put_atom(b, "active");
        put_atom(b, su->failed ? "failed" : su->stopped ? "inactive" : "active");
        put_atom(b, "service");
        put_str(b, su->service);
        put_atom(b, "accept");
        put_atom(b, su->u->socket.accept ? "true" : "false");
        put_atom(b, "listen");
        if (su->nl)
                pk_etf_put_list(b, (uint32_t)su->nl);
        for (size_t k = 0; k < su->nl; k++)
                put_str(b, su->l[k].desc);
        pk_etf_put_nil(b);
        put_atom(b, "connections");
        pk_etf_put_int(b, su->ninst);
        put_atom(b, "result");
        put_str(b, su->failed ? su->why : "success");
        put_atom(b, "not_enforced");
        if (su->notes.n)
                pk_etf_put_list(b, (uint32_t)su->notes.n);
        for (size_t k = 0; k < su->notes.n; k++)
                put_str(b, su->notes.v[k]);
        pk_etf_put_nil(b);
}
