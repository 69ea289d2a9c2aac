/* SPDX-License-Identifier: MIT */
/* Descriptors a child inherits at every run: socket activation's listening
 * sockets (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID as sd_listen_fds(3) reads
 * them) and the fd store a service fills with sd_notify "FDSTORE=1", both
 * owned by the supervisor so they outlive the child's restarts. */
#include "sup-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* systemd's fdname_is_valid(): 1..255 printable ASCII bytes, no ':'. */
static bool fdname_ok(const char *s)
{
        size_t n = 0;
        for (; s[n]; n++)
                if ((unsigned char)s[n] < ' ' || (unsigned char)s[n] > '~' || s[n] == ':')
                        return false;
        return n > 0 && n <= 255;
}

/* Closes and frees the listen fds the child holds. */
static void listen_free(struct child_cold *x)
{
        for (size_t i = 0; i < x->nl; i++) {
                pk_fd_close(x->lfds[i]);
                free(x->lnames[i]);
        }
        free(x->lfds);
        free(x->lnames);
        x->lfds = NULL;
        x->lnames = NULL;
        x->nl = 0;
}

/* Duplicates fds[0..n) with their names into new arrays, then drops the old
 * ones: on failure the child keeps what it had. */
static int listen_set(struct child *c, const int *fds, size_t n, const char *const *names)
{
        if (n > PK_SUP_MAX_FDS || (n && !fds))
                return -EINVAL;
        for (size_t i = 0; names && i < n; i++)
                if (names[i] && !fdname_ok(names[i]))
                        return -EINVAL;
        if (!n && !c->x)
                return 0; /* nothing held, nothing to hold: no cold record */
        struct child_cold *x = pk__sup_child_cold(c);
        if (!x)
                return -ENOMEM;
        int *nf = NULL;
        char **nn = NULL;
        size_t k = 0;
        int r = 0;
        if (n) {
                nf = malloc(n * sizeof(int));
                nn = calloc(n, sizeof(char *));
                if (!nf || !nn)
                        r = -ENOMEM;
        }
        for (; r == 0 && k < n; k++) {
                const char *nm = names && names[k] ? names[k] : "unknown";
                int fd = pk_fd_dup(fds[k], 3);
                fd = fd < 0 ? fd : pk_fd_raise(fd); /* stored: out of what spawns copy */
                if (fd < 0) {
                        r = fd;
                        break;
                }
                if (!(nn[k] = strdup(nm))) {
                        pk_fd_close(fd);
                        r = -ENOMEM;
                        break;
                }
                nf[k] = fd;
        }
        if (r < 0) {
                for (size_t i = 0; i < k; i++) {
                        pk_fd_close(nf[i]);
                        free(nn[i]);
                }
                free(nf);
                free(nn);
                return r;
        }
        listen_free(x);
        x->lfds = nf;
        x->lnames = nn;
        x->nl = n;
        return 0;
}

/* Whether fds 3 .. 3 + nl + store_max - 1 would cover the readiness fd. */
static bool ready_collides(const struct child *c, size_t nl, size_t store_max)
{
        return c->ready == PK_SUP_READY_FD && c->ready_fd >= 3 &&
               (size_t)c->ready_fd < 3 + nl + store_max;
}

int pk__sup_fds_copy(struct child *c, const struct pk_sup_child_spec *sp)
{
        c->manual = sp->manual != 0;
        if (sp->n_listen_fds > PK_SUP_MAX_FDS || sp->fd_store_max > PK_SUP_MAX_FDS ||
            (sp->n_listen_fds && !sp->listen_fds) || sp->fd_store_preserve < PK_SUP_STORE_RESTART ||
            sp->fd_store_preserve > PK_SUP_STORE_YES)
                return -EINVAL;
        if ((sp->n_listen_fds || sp->fd_store_max) && c->type != PK_SUP_WORKER)
                return -EINVAL;
        if (sp->ready == PK_SUP_READY_FD && sp->ready_fd >= 3 &&
            (size_t)sp->ready_fd < 3 + sp->n_listen_fds + sp->fd_store_max)
                return -EINVAL; /* would collide with a passed descriptor */
        if (sp->fd_store_max || sp->fd_store_preserve != PK_SUP_STORE_RESTART) {
                struct child_cold *x = pk__sup_child_cold(c);
                if (!x)
                        return -ENOMEM;
                x->store_max = sp->fd_store_max;
                x->store_preserve = (uint8_t)sp->fd_store_preserve;
        }
        return listen_set(c, sp->listen_fds, sp->n_listen_fds, sp->listen_fd_names);
}

int pk__sup_fds_replace(struct child *c, const int *fds, size_t n, const char *const *names)
{
        if (c->type != PK_SUP_WORKER || ready_collides(c, n, child_store_max(c)))
                return -EINVAL;
        return listen_set(c, fds, n, names);
}

void pk__sup_fds_flush_store(struct child *c)
{
        struct child_cold *x = c->x;
        if (!x)
                return;
        for (size_t i = 0; i < x->ns; i++) {
                pk_fd_close(x->sfds[i]);
                free(x->snames[i]);
        }
        free(x->sfds);
        free(x->snames);
        x->sfds = NULL;
        x->snames = NULL;
        x->ns = 0;
}

void pk__sup_fds_free(struct child *c)
{
        if (c->x)
                listen_free(c->x);
        pk__sup_fds_flush_store(c);
}

int pk__sup_fds_apply(struct child *c)
{
        const struct child_cold *x = c->x;
        if (!x)
                return 0; /* never a socket-activated child (nothing mapped): env left alone */
        size_t n = x->nl + x->ns;
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++)
                r = pk_cmd_fd(c->cmd, 3 + (int)i, i < x->nl ? x->lfds[i] : x->sfds[i - x->nl]);
        /* Descriptors mapped for the last run that the store no longer holds. */
        for (size_t i = n; i < c->mapped && r == 0; i++)
                r = pk_cmd_fd_close(c->cmd, 3 + (int)i);
        if (r < 0)
                return r;
        size_t prev = c->mapped;
        c->mapped = n;
        if (n == 0) {
                /* never given any (pk_sup_set_listen_fds() may take them all away
                 * after a run that had them): leave its env alone */
                if (prev == 0 && x->store_max == 0)
                        return 0;
                r = pk_cmd_env_unset(c->cmd, "LISTEN_FDS");
                if (r == 0)
                        r = pk_cmd_env_unset(c->cmd, "LISTEN_FDNAMES");
                if (r == 0)
                        r = pk_cmd_env_pid(c->cmd, NULL);
                if (r == 0)
                        r = pk_cmd_env_unset(c->cmd, "LISTEN_PID");
                return r;
        }
        size_t len = 1;
        for (size_t i = 0; i < n; i++)
                len += strlen(i < x->nl ? x->lnames[i] : x->snames[i - x->nl]) + 1;
        char *names = malloc(len);
        if (!names)
                return -ENOMEM;
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
                const char *nm = i < x->nl ? x->lnames[i] : x->snames[i - x->nl];
                size_t l = strlen(nm);
                if (i)
                        names[off++] = ':';
                memcpy(names + off, nm, l);
                off += l;
        }
        names[off] = '\0';
        char count[24];
        snprintf(count, sizeof(count), "%zu", n);
        r = pk_cmd_env_set(c->cmd, "LISTEN_FDS", count);
        if (r == 0)
                r = pk_cmd_env_set(c->cmd, "LISTEN_FDNAMES", names);
        if (r == 0)
                r = pk_cmd_env_pid(c->cmd, "LISTEN_PID");
        free(names);
        return r;
}

/* Drops stored descriptors named `name`. */
static void store_remove(struct child_cold *x, const char *name)
{
        size_t k = 0;
        for (size_t i = 0; i < x->ns; i++) {
                if (strcmp(x->snames[i], name) == 0) {
                        pk_fd_close(x->sfds[i]);
                        free(x->snames[i]);
                        continue;
                }
                x->sfds[k] = x->sfds[i];
                x->snames[k++] = x->snames[i];
        }
        x->ns = k;
}

void pk__sup_fds_notify(struct child *c, bool store, bool remove, const char *name, int *fds,
                        size_t n)
{
        const char *nm = name ? name : "stored";
        bool name_ok = fdname_ok(nm);
        struct child_cold *x = c->x; /* NULL: a store of 0 (FileDescriptorStoreMax= unset) */
        if (remove && name && name_ok && x)
                store_remove(x, name);
        size_t i = 0;
        if (store && name_ok && x && x->store_max > 0) {
                if (!x->sfds) {
                        x->sfds = calloc(x->store_max, sizeof(int));
                        x->snames = calloc(x->store_max, sizeof(char *));
                        if (!x->sfds || !x->snames) {
                                free(x->sfds);
                                free(x->snames);
                                x->sfds = NULL;
                                x->snames = NULL;
                        }
                }
                for (; x->sfds && i < n && x->ns < x->store_max; i++) {
                        char *dup = strdup(nm);
                        if (!dup)
                                break;
                        x->sfds[x->ns] = fds[i];
                        x->snames[x->ns++] = dup;
                }
        }
        size_t refused = n - i;
        for (; i < n; i++)
                pk_fd_close(fds[i]); /* over FileDescriptorStoreMax= (or 0): refused, as systemd */
        if (store && n) {
                char text[PK_SUP_TEXT_MAX + 1];
                snprintf(text, sizeof(text), "FDSTORE=1 FDNAME=%s: %zu stored, %zu refused", nm,
                         n - refused, refused);
                pk__sup_emit(c, PK_SUP_EV_STATUS, PK_SUP_R_NONE, refused ? -ENOSPC : 0, text);
        }
}
