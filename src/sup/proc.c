/* SPDX-License-Identifier: MIT */
/* Process-tree inspection through /proc (parent links, a service's token in
 * an orphan's environment, this process's children) and reaper mode: PID 1 /
 * subreaper duty that reaps every orphan without stealing the status of a
 * supervised child, and an init's handling of TERM, INT and HUP. */
#include "sup-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* Bounds on what a (possibly hostile) process tree can make us read. */
#define ENVIRON_MAX ((size_t)256 * 1024)
#define ANCESTRY_MAX 256
#define CHILDREN_MAX 65536
/* One /proc/PID/task/TID/children read: 10,000 children of 7-digit pids
 * ("1234567 " each) need 80,000 bytes; the buffer starts at 64 KiB. */
#define CHILDREN_LIST_START ((size_t)64 * 1024)
#define CHILDREN_LIST_MAX ((size_t)1024 * 1024)
#define TREE_MAX 4096
/* Reaper mode's shutdown deadline when not given: the tree's stop budget plus
 * this, at most REAP_BUDGET_MAX_MS (systemd's poweroff.target JobTimeoutSec=). */
#define REAP_DEADLINE_MS 10000
#define REAP_BUDGET_MAX_MS (INT64_C(30) * 60 * 1000)

static ssize_t read_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t got = 0;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        close(fd);
        return (ssize_t)got;
}

pid_t pk__proc_ppid(pid_t pid)
{
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
        ssize_t n = read_file(path, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        char *p = strrchr(buf, ')'); /* comm may contain anything but ends at the last ')' */
        if (!p)
                return -1;
        char state;
        long ppid;
        if (sscanf(p + 1, " %c %ld", &state, &ppid) != 2)
                return -1;
        return (pid_t)ppid;
}

bool pk__proc_descends(pid_t pid, pid_t ancestor)
{
        if (pid <= 0 || ancestor <= 0)
                return false;
        for (int i = 0; i < ANCESTRY_MAX && pid > 1; i++) {
                pid = pk__proc_ppid(pid);
                if (pid == ancestor)
                        return true;
        }
        return false;
}

/* Whether the environment of pid holds PORTKIT_SUP_UNIT=<one of the n tokens>
 * (one read of /proc/PID/environ however many tokens). */
static bool token_in(pid_t pid, const char (*tokens)[PK__SUP_TOKEN], size_t n)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
        char *buf = malloc(ENVIRON_MAX + 1);
        if (!buf)
                return false;
        ssize_t got = read_file(path, buf, ENVIRON_MAX);
        static const char key[] = "PORTKIT_SUP_UNIT=";
        bool found = false;
        for (ssize_t off = 0; off < got && !found;) {
                size_t len = strnlen(buf + off, (size_t)(got - off));
                const char *e = buf + off;
                if (len > sizeof(key) - 1 && memcmp(e, key, sizeof(key) - 1) == 0) {
                        const char *v = e + sizeof(key) - 1;
                        size_t vl = len - (sizeof(key) - 1);
                        for (size_t i = 0; i < n && !found; i++)
                                found = tokens[i][0] && strlen(tokens[i]) == vl &&
                                        memcmp(tokens[i], v, vl) == 0;
                }
                off += (ssize_t)len + 1;
        }
        free(buf);
        return found;
}

bool pk__proc_has_token(pid_t pid, const char *token)
{
        char one[1][PK__SUP_TOKEN];
        snprintf(one[0], sizeof(one[0]), "%s", token);
        return token_in(pid, (const char(*)[PK__SUP_TOKEN])one, 1);
}

/* Reads a /proc/PID/task/TID/children list whole into *buf (grown from
 * CHILDREN_LIST_START, which holds ~8,000 pids and stays below malloc's mmap
 * threshold, up to CHILDREN_LIST_MAX): the file is read to its end before any
 * callback runs, since a callback that reaps a child shifts the positions the
 * kernel resumes a later read from.  Its length, or a negative errno. */
static ssize_t read_children(const char *path, char **buf, size_t *cap)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t got = 0;
        ssize_t r = 0;
        for (;;) {
                if (got == *cap) {
                        if (*cap >= CHILDREN_LIST_MAX)
                                break; /* the bound: what fits */
                        size_t ncap = *cap ? *cap * 2 : CHILDREN_LIST_START;
                        char *nb = realloc(*buf, ncap + 1);
                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        *buf = nb;
                        *cap = ncap;
                }
                ssize_t n = pk_fd_read_all(fd, *buf + got, *cap - got, NULL);
                if (n < 0) {
                        r = n;
                        break;
                }
                got += (size_t)n;
                if (got < *cap)
                        break; /* end of file */
        }
        close(fd);
        if (r < 0)
                return r;
        (*buf)[got] = 0;
        return (ssize_t)got;
}

/* Calls fn for each child of process `pid` (all its threads), up to max. */
static int for_children(pid_t pid, int (*fn)(pid_t, void *), void *ud, size_t *budget)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        struct dirent *e;
        int r = 0;
        char *buf = NULL;
        size_t cap = 0;
        while (r == 0 && (e = readdir(d))) {
                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                char cp[128];
                snprintf(cp, sizeof(cp), "/proc/%ld/task/%.20s/children", (long)pid, e->d_name);
                ssize_t n = read_children(cp, &buf, &cap);
                if (n == -ENOMEM)
                        r = -ENOMEM;
                if (n <= 0 || !buf) /* buf: set whenever n > 0 (the analyzer cannot see it) */
                        continue;
                /* "pid pid ... ": digits by hand (strtol costs ~190
                 * instructions a pid, and this list has one per service) */
                for (const char *q = buf; r == 0 && *q;) {
                        if (*q < '0' || *q > '9') {
                                q++;
                                continue;
                        }
                        int64_t c = 0; /* once over INT_MAX it stays there */
                        while (*q >= '0' && *q <= '9') {
                                if (c <= INT_MAX)
                                        c = c * 10 + (*q - '0');
                                q++;
                        }
                        if (c <= 0 || c > INT_MAX)
                                continue;
                        if (*budget == 0) {
                                r = -E2BIG;
                                break;
                        }
                        (*budget)--;
                        r = fn((pid_t)c, ud);
                }
        }
        free(buf);
        closedir(d);
        return r;
}

static void signal_pid(pid_t pid, int sig)
{
        int fd = pk_fd_pidfd_open(pid, 0);
        if (fd >= 0) { /* a pidfd never signals a recycled pid */
                (void)pk_fd_pidfd_send_signal(fd, sig);
                pk_fd_close(fd);
        }
}

struct tree_kill {
        int sig;
        int depth;
        size_t *budget;
};

static int kill_tree_cb(pid_t pid, void *ud)
{
        struct tree_kill *k = ud;
        /* descendants first, so a SIGKILLed parent does not orphan them past us */
        if (k->depth < 64) {
                k->depth++;
                (void)for_children(pid, kill_tree_cb, k, k->budget);
                k->depth--;
        }
        signal_pid(pid, k->sig);
        return 0;
}

struct orphan_kill {
        struct pk_sup *root;
        const char (*tokens)[PK__SUP_TOKEN];
        size_t ntokens;
        int sig;
        int count;
        size_t budget;
};

static int orphan_cb(pid_t pid, void *ud)
{
        struct orphan_kill *o = ud;
        if (pk__sup_find_pid(o->root, pid) || !token_in(pid, o->tokens, o->ntokens))
                return 0;
        size_t budget = TREE_MAX;
        struct tree_kill k = {.sig = o->sig, .depth = 0, .budget = &budget};
        (void)kill_tree_cb(pid, &k);
        o->count++;
        return 0;
}

int pk__proc_kill_orphans(struct pk_sup *root, const char (*tokens)[PK__SUP_TOKEN], size_t n,
                          int sig)
{
        if (n == 0)
                return 0;
        struct orphan_kill o = {.root = root,
                                .tokens = tokens,
                                .ntokens = n,
                                .sig = sig,
                                .count = 0,
                                .budget = CHILDREN_MAX};
        (void)for_children(getpid(), orphan_cb, &o, &o.budget);
        return o.count;
}

/* ---- the leftovers of ended instances, batched ----------------------------------------
 * Each scan reads this process's whole children list (linear in the services):
 * at every exit that made a restart storm cost ~1 ms a restart at 1,000
 * services, on the path of the next exit.  Batched, one scan serves every
 * instance that ended in the window, and it comes after the group kill has
 * had time to reparent the group's own children to us. */

/* Bound on the tokens waiting: past it the batch is scanned at once. */
#define LEFTOVER_MAX 4096

void pk__sup_leftover_flush(struct pk_sup *root)
{
        pk_loop_timer_stop(&root->t_leftover);
        size_t n = root->nleftover;
        root->nleftover = 0;
        if (n && root->reaper)
                (void)pk__proc_kill_orphans(root, (const char(*)[PK__SUP_TOKEN])root->leftover, n,
                                            SIGKILL);
}

static void on_leftover(struct pk_loop_timer *t)
{
        pk__sup_leftover_flush(t->w.ctx);
}

void pk__sup_leftover_add(struct pk_sup *root, const char *token)
{
        if (root->nleftover == root->capleftover) {
                size_t ncap = root->capleftover ? root->capleftover * 2 : 16;
                void *nl = ncap <= LEFTOVER_MAX
                               ? realloc(root->leftover, ncap * sizeof(*root->leftover))
                               : NULL;
                if (!nl) { /* full, or no memory: scan now, as one exit alone would */
                        pk__sup_leftover_flush(root);
                        char one[1][PK__SUP_TOKEN];
                        snprintf(one[0], sizeof(one[0]), "%s", token);
                        (void)pk__proc_kill_orphans(root, (const char(*)[PK__SUP_TOKEN])one, 1,
                                                    SIGKILL);
                        return;
                }
                root->leftover = nl;
                root->capleftover = ncap;
        }
        snprintf(root->leftover[root->nleftover++], PK__SUP_TOKEN, "%s", token);
        if (!pk_loop_timer_due(&root->t_leftover) &&
            pk_loop_timer_start(&root->t_leftover, PK__SUP_LEFTOVER_MS, 0, on_leftover) < 0)
                pk__sup_leftover_flush(root);
}

/* ---- reaper mode ---------------------------------------------------------------------- */

static void reaped(struct pk_sup *root, pid_t pid, const siginfo_t *si)
{
        struct pk_exit ex = pk_exit_from_siginfo(si);
        pk__sup_emit_sup(root, PK_SUP_EV_ORPHAN, PK_SUP_R_NONE, pid, &ex);
}

/* Reaps every exited child that no supervisor runs.  A supervised zombie is
 * left for its pidfd watcher: waitid(P_ALL, WNOWAIT) only peeks, and when the
 * first waitable child is a supervised one the sweep stops there; that
 * watcher's callback sweeps again once it has reaped it (pk__sup_after_reap),
 * so the orphans behind it are reaped in the same loop turn.  The kernel walks
 * the children at each call (O(services)), so that second sweep runs only
 * when a sweep did stop: when the pidfd is served before SIGCHLD (the kernel
 * wakes it first), the one SIGCHLD sweep is all an exit costs.  (A service
 * cannot be made invisible to it: clone3's exit_signal 0 would hide it from
 * waits without __WALL, but every execve resets it to SIGCHLD.) */
void pk__sup_reap_sweep(struct pk_sup *root)
{
        root->sweep_blocked = false;
        for (int i = 0; i < CHILDREN_MAX; i++) {
                siginfo_t si;
                memset(&si, 0, sizeof(si));
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                        if (errno == EINTR)
                                continue;
                        break; /* ECHILD: no children at all */
                }
                if (si.si_pid == 0)
                        break;
                pid_t pid = si.si_pid;
                if (pk__sup_find_pid(root, pid)) {
                        root->sweep_blocked = true; /* its watcher reaps it, then sweeps again */
                        break;
                }
                memset(&si, 0, sizeof(si));
                if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == pid)
                        reaped(root, pid, &si);
        }
}

void pk__sup_after_reap(struct pk_sup *s)
{
        struct pk_sup *root = pk__sup_root(s);
        if (root->reaper && root->sweep_blocked)
                pk__sup_reap_sweep(root);
}

/* Waits for a SIGKILLed orphan (never a supervised child) and reports it. */
static int reap_dead_cb(pid_t pid, void *ud)
{
        struct pk_sup *root = ud;
        if (pk__sup_find_pid(root, pid))
                return 0;
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int r;
        do
                r = waitid(P_PID, (id_t)pid, &si, WEXITED);
        while (r < 0 && errno == EINTR);
        if (r == 0 && si.si_pid == pid)
                reaped(root, pid, &si);
        return 0;
}

static void on_sigchld(struct pk_loop_signal *sig, const struct pk_loop_siginfo *info)
{
        struct pk_sup *root = sig->w.ctx;
        (void)info;
        pk__sup_reap_sweep(root);
        pk__sup_flush(root);
}

static void kill_everything(struct pk_sup *root)
{
        root->killed_all = true;
        if (getpid() == 1) {
                (void)kill(-1, SIGKILL); /* everything in our pid namespace but us */
                return;
        }
        size_t budget = CHILDREN_MAX;
        struct tree_kill k = {.sig = SIGKILL, .depth = 0, .budget = &budget};
        (void)for_children(getpid(), kill_tree_cb, &k, &budget);
}

static void on_deadline(struct pk_loop_timer *t)
{
        struct pk_sup *root = t->w.ctx;
        kill_everything(root);
        root->exit_status = 2;
        pk__sup_flush(root);
}

/* The longest an ordered stop of s may take: its children stop one at a
 * time, each within its shutdown_ms (once more for a stop hook's STOPPED
 * phase), a nested supervisor within its own children's; -1: no bound (a
 * worker's `infinity`, as systemd's TimeoutStopSec=infinity). */
static int64_t stop_budget_ms(const struct pk_sup *s, int depth)
{
        int64_t sum = 0;
        for (size_t i = 0; i < s->n; i++) {
                const struct child *c = s->kids[i];
                int64_t b = 0;
                if (c->type == PK_SUP_SUPERVISOR && c->nested && depth < 64)
                        b = stop_budget_ms(c->nested, depth + 1);
                else if (c->shutdown == PK_SUP_SHUTDOWN_INFINITY)
                        b = -1;
                else if (c->shutdown == PK_SUP_SHUTDOWN_TIMEOUT)
                        b = c->shutdown_ms * (c->x && c->x->stop_hook ? 2 : 1);
                if (b < 0)
                        return -1;
                sum += b;
                if (sum > REAP_BUDGET_MAX_MS)
                        return REAP_BUDGET_MAX_MS;
        }
        return sum;
}

static void on_term(struct pk_loop_signal *sig, const struct pk_loop_siginfo *info)
{
        struct pk_sup *root = sig->w.ctx;
        (void)info;
        if (root->phase == PHASE_RUNNING || root->phase == PHASE_GROUP) {
                /* the deadline, when not given: every stop's own bound, plus 10 s */
                int64_t d = root->reap_deadline_ms;
                if (d == 0) {
                        d = stop_budget_ms(root, 0);
                        d = d < 0 ? 0 : d + REAP_DEADLINE_MS;
                }
                pk__sup_shutdown(root, PK_SUP_R_SIGNAL);
                if (!root->finished && d > 0)
                        (void)pk_loop_timer_start(&root->t_deadline, d, 0, on_deadline);
        }
        pk__sup_flush(root);
}

static void on_hup(struct pk_loop_signal *sig, const struct pk_loop_siginfo *info)
{
        struct pk_sup *root = sig->w.ctx;
        (void)info;
        if (root->on_hup)
                root->on_hup(root->hup_ud);
        pk__sup_flush(root);
}

void pk__sup_reaper_off(struct pk_sup *root)
{
        if (!root->reaper)
                return;
        pk__sup_leftover_flush(root);
        free(root->leftover);
        root->leftover = NULL;
        root->capleftover = 0;
        pk_loop_timer_stop(&root->t_deadline);
        pk_loop_signal_stop(&root->s_term);
        pk_loop_signal_stop(&root->s_int);
        pk_loop_signal_stop(&root->s_hup);
        /* what the tree left behind dies with it: SIGKILL cannot be ignored, so
         * waiting for those deaths here is short */
        if (root->finished) {
                kill_everything(root);
                size_t budget = CHILDREN_MAX;
                (void)for_children(getpid(), reap_dead_cb, root, &budget);
        }
        pk_loop_signal_stop(&root->s_chld);
        root->reaper = false;
}

int pk_sup_reaper(struct pk_sup *s, int64_t deadline_ms, void (*hup)(void *), void *ud)
{
        if (!s || s->parent || deadline_ms < 0)
                return -EINVAL;
        if (s->reaper)
                return -EALREADY;
        if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                return -errno;
        s->reap_deadline_ms = deadline_ms; /* 0: stop_budget_ms() at the signal */
        s->on_hup = hup;
        s->hup_ud = ud;
        pk_loop_signal_init(s->loop, &s->s_chld);
        pk_loop_signal_init(s->loop, &s->s_term);
        pk_loop_signal_init(s->loop, &s->s_int);
        pk_loop_signal_init(s->loop, &s->s_hup);
        pk_loop_timer_init(s->loop, &s->t_deadline);
        pk_loop_timer_init(s->loop, &s->t_leftover);
        s->s_chld.w.ctx = s->s_term.w.ctx = s->s_int.w.ctx = s->s_hup.w.ctx = s;
        s->t_deadline.w.ctx = s->t_leftover.w.ctx = s;
        int r = pk_loop_signal_start(&s->s_chld, SIGCHLD, on_sigchld);
        if (r == 0)
                r = pk_loop_signal_start(&s->s_term, SIGTERM, on_term);
        if (r == 0)
                r = pk_loop_signal_start(&s->s_int, SIGINT, on_term);
        if (r == 0)
                r = pk_loop_signal_start(&s->s_hup, SIGHUP, on_hup);
        if (r < 0) {
                pk_loop_signal_stop(&s->s_chld);
                pk_loop_signal_stop(&s->s_term);
                pk_loop_signal_stop(&s->s_int);
                pk_loop_signal_stop(&s->s_hup);
                return r;
        }
        pk_loop_unref(&s->s_chld.w);
        pk_loop_unref(&s->s_term.w);
        pk_loop_unref(&s->s_int.w);
        pk_loop_unref(&s->s_hup.w);
        s->reaper = true;
        pk__sup_reap_sweep(s); /* orphans that exited before we watched */
        pk__sup_flush(s);
        return 0;
}
