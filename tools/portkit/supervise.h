/* SPDX-License-Identifier: MIT */
/* What `portkit supervise` and `portkit ctl` share: the control socket's
 * default path and limits (the protocol is in docs/supervise.md). */
#ifndef PORTKIT_SUPERVISE_H
#define PORTKIT_SUPERVISE_H

#include "common/htab.h"

#include <portkit/sup.h>

#include <stddef.h>

#define PK_SV_DEFAULT_CONTROL "/run/portkit/control"
/* Largest request a client may send; a bigger header drops the client. */
#define PK_SV_MAX_REQUEST ((size_t)64 << 10)
/* Largest reply a client accepts (a status of many units, a long log). */
#define PK_SV_MAX_REPLY ((size_t)16 << 20)
/* Bytes queued for one client before it is dropped (a client that never reads). */
#define PK_SV_MAX_QUEUE ((size_t)1 << 20)
/* Clients at once; more are closed at accept (each holds one descriptor and
 * at most PK_SV_MAX_QUEUE queued bytes). */
#define PK_SV_MAX_CLIENTS 4096
/* Units loaded at once (services, and the names a target pulls in); more is an
 * error naming this limit, never a silent drop. */
#define PK_SV_MAX_UNITS 65536

int pk_sv_ctl_main(int argc, char **argv, int as_systemctl);

/* A growable list of unit names; the list owns v and every string in it.
 * idx indexes the strings by name, so that pk_sv_names_has() stays O(1) at
 * tens of thousands of names (reordering v keeps it valid). */
struct pk_sv_names {
        char **v;
        size_t n, cap;
        struct pk__htab idx;
};
/* Appends a copy of @name: 0, -E2BIG past PK_SV_MAX_UNITS names, -ENOMEM. */
int pk_sv_names_add(struct pk_sv_names *l, const char *name);
/* 1 if @name is in the list, else 0. */
int pk_sv_names_has(const struct pk_sv_names *l, const char *name);
/* Frees the names and the array; *l is empty again. */
void pk_sv_names_free(struct pk_sv_names *l);

/* What every unit gets unless it says otherwise: the soft RLIMIT_NOFILE
 * supervise started with (it raises its own to the hard limit at start, as
 * systemd's DefaultLimitNOFILE=): sets u->exec.limits[RLIMIT_NOFILE] when the
 * unit has no LimitNOFILE=.  Call it on every unit loaded to be run, before
 * pk_unit_to_child() or pk_unit_exec_cmd(). */
struct pk_unit;
void pk_sv_unit_defaults(struct pk_unit *u);

/* Targets and the enabled set (supervise_enable.c). */
struct pk_unit_opts;
/* Appends to @names (copies it owns; names already there are not repeated)
 * the services @target pulls in: its Wants=/Requires= and the links in
 * <dir>/<target>.wants/ and .requires/ of each search directory (uo->dirs),
 * targets expanded in turn; "default.target" follows its symlink (else
 * multi-user.target).  0, -E2BIG (past PK_SV_MAX_UNITS), -ENOMEM. */
int pk_sv_target_services(const char *target, const struct pk_unit_opts *uo,
                          struct pk_sv_names *names);
/* 1 if @dir holds an enabled set: default.target or a *.target.wants/ directory. */
int pk_sv_is_config_dir(const char *dir);
/* systemctl enable (1) / disable (0): links in @config_dir from the unit's
 * [Install] section; what was done is appended to @msg, one line each. */
int pk_sv_enable(const char *config_dir, const char *unit, const struct pk_unit_opts *uo,
                 int enable, char *msg, size_t msgsz);
/* Tree files (supervise_tree.c): OTP-style supervisors in Erlang terms. */
struct pk_loop;
struct pk_sup;
struct pk_sv_tree_env {
        struct pk_loop *loop;
        const char *log_dir;       /* workers' logs, or NULL */
        int cgroup;                /* enum pk_sup_cgroup_mode of the nested supervisors */
        const char *cgroup_parent; /* their cgroup parent, or NULL */
        /* Loads unit @name as a child of @parent; a message in @err on failure. */
        int (*add_unit)(void *ud, struct pk_sup *parent, const char *name, char *err, size_t errsz);
        void *ud;
};
/* What a tree file says, node by node in file order (for daemon-reload's diff). */
#define PK_SV_TREE_PATH 256
enum { PK_SV_TREE_SUP, PK_SV_TREE_WORKER, PK_SV_TREE_UNIT };
struct pk_sv_tree_node {
        int kind;                     /* PK_SV_TREE_* */
        char parent[PK_SV_TREE_PATH]; /* its supervisor's path "app/web"; "" for a top one */
        char id[PK_SUP_ID_MAX + 1];
        char *sig; /* its definition (a supervisor's flags, a worker's map) as text, owned */
        /* Workers: what pk_sup_add() takes; supervisors: their spec as a child
         * of their parent.  spec.id and opts.name are not kept (the array
         * moves): set them to the node's id at each use. */
        struct pk_sup_child_spec spec;
        struct pk_sup_opts opts; /* supervisors: their options (cgroup ones from the env) */
        struct pk_cmd *cmd;      /* pk_sv_tree_read() only, workers: owned until taken */
};
struct pk_sv_tree {
        struct pk_sv_tree_node *v;
        size_t n, cap;
};
/* Reads @file and adds each {supervisor, Name, #{...}, [Children]} in it to
 * @parent as a nested supervisor; what it says in *ret (caller frees with
 * pk_sv_tree_free()) if ret.  0, or a negative error with "file:line:
 * message" or "file: what: message" in @err. */
int pk_sv_tree_load(const char *file, const struct pk_sv_tree_env *env, struct pk_sup *parent,
                    struct pk_sv_tree **ret, char *err, size_t errsz);
/* Reads and checks @file as pk_sv_tree_load() does, running nothing (the tree
 * is built unstarted under a scratch supervisor for pk_sup_new() and
 * pk_sup_add() to check it, without cgroups, logs or units, then freed):
 * workers' specs and commands are in the nodes.  Caller frees *ret. */
int pk_sv_tree_read(const char *file, const struct pk_sv_tree_env *env, struct pk_sv_tree **ret,
                    char *err, size_t errsz);
/* The node of @rec with this kind, supervisor path and id, or NULL (borrowed). */
const struct pk_sv_tree_node *pk_sv_tree_find(const struct pk_sv_tree *rec, int kind,
                                              const char *parent, const char *id);
/* Checks what pk_sup_add() would refuse later: two children of one
 * supervisor (units included), or two top supervisors of @recs[0..n) (NULL
 * entries skipped), with the same name.  0, or -EINVAL with "file: unit
 * app/x: the name is taken (by a worker)" in @err. */
int pk_sv_tree_check_names(const char *const *files, struct pk_sv_tree *const *recs, size_t n,
                           char *err, size_t errsz);
/* Builds supervisor node @k of @rec (pk_sv_tree_read()) with every node below
 * it, in file order, and adds it to @parent (which starts it if it runs):
 * workers take their node's command, units go through env->add_unit.  0, or
 * a negative error with "supervisor app/web: message" in @err. */
int pk_sv_tree_build(struct pk_sv_tree *rec, size_t k, const struct pk_sv_tree_env *env,
                     struct pk_sup *parent, char *err, size_t errsz);
/* The path "app/web" of supervisor node @nd into buf. */
void pk_sv_tree_path(const struct pk_sv_tree_node *nd, char *buf, size_t size);
struct pk_sv_tree *pk_sv_tree_free(struct pk_sv_tree *rec);

/* systemctl is-enabled: "enabled", "disabled", "static", "masked" or "not-found". */
const char *pk_sv_enabled_state(const char *unit, const struct pk_unit_opts *uo);

/* The cgroup each instance makes in its own cgroup, PK_SV_INSTANCE_PREFIX
 * followed by its pid; the services' cgroups go under it. */
#define PK_SV_INSTANCE_PREFIX "portkit-supervise."
/* --reclaim=auto (supervise_reclaim.c): empties and removes each
 * portkit-supervise.<pid> cgroup beside ours (in our own cgroup) that is
 * stale: nobody holds its lock (pk_sv_instance_lock()) and its pid is not
 * listed in our cgroup's cgroup.procs (or is our own pid); logs one line per
 * reclaimed instance.  0 (also when
 * there is no cgroup v2), or a negative error already printed: the start must
 * not go on (those services would run twice). */
int pk_sv_reclaim(void);
/* Takes the lock (flock, held until the process ends) on this instance's
 * cgroup directory that tells a reclaim it is live: 0, or -EWOULDBLOCK when
 * a live supervise holds it (one with the same pid in another pid namespace). */
int pk_sv_instance_lock(const struct pk_cgroup *cg);

#endif
