/* SPDX-License-Identifier: MIT */
/* `portkit wrap`'s private pieces: control of the child's whole process tree
 * (its own cgroup v2 through the sup layer's pk_cgroup API when one can be
 * made, else its process group plus this process as child subreaper). */
#ifndef PORTKIT_WRAP_H
#define PORTKIT_WRAP_H

#include "portkit/spawn.h"
#include "portkit/sup.h"

#include <stddef.h>
#include <sys/types.h>

enum wrap_tree_mode {
        WRAP_TREE_PGROUP = 0, /* process group + PR_SET_CHILD_SUBREAPER */
        WRAP_TREE_CGROUP = 1, /* a cgroup v2 of its own */
};

struct wrap_tree {
        enum wrap_tree_mode mode;
        pid_t pgid;           /* the child's process group (both modes), 0 before adopt */
        pid_t main_pid;       /* the child itself: reaped by the loop, never here */
        struct pk_cgroup *cg; /* cgroup mode: the child's cgroup (owned) */
};

/* Creates the cgroup <own cgroup>/portkit-wrap.<pid> (pk_cgroup_create).
 * Returns 0 (cgroup mode), or a negative errno when no cgroup could be made:
 * the tree is then set up for process-group mode (subreaper set) and the
 * caller may go on with it.  `want` 0 skips the cgroup attempt. */
int wrap_tree_init(struct wrap_tree *t, int want);

/* Writes `value` to the control file `file` (memory.max, pids.max,
 * cpu.max) of the child's cgroup (pk_cgroup_set).  -EOPNOTSUPP when not in
 * cgroup mode or when the controller is not delegated to the cgroup, or the
 * errno of the write (-EINVAL for a value the kernel refuses). */
int wrap_tree_limit(struct wrap_tree *t, const char *file, const char *value);

/* Has `cmd` born in the child's cgroup (pk_cmd_cgroup: CLONE_INTO_CGROUP, so
 * there is no window in which it could fork outside).  No-op in process-group
 * mode.  The cgroup is never killed before this spawn, so the kernel quirk
 * the supervisor works around (a cgroup that had cgroup.kill written kills
 * children cloned into it later) cannot bite: wrap spawns once. */
int wrap_tree_place(struct wrap_tree *t, struct pk_cmd *cmd);

/* Records the child (it leads its own process group). */
void wrap_tree_adopt(struct wrap_tree *t, pid_t main_pid);

/* Sends `sig` to every live member of the tree, the child included while it
 * runs.  Process-group mode also reaps and signals orphans re-parented here. */
void wrap_tree_signal(struct wrap_tree *t, int sig);

/* SIGKILL to the whole tree (pk_cgroup_kill in cgroup mode). */
void wrap_tree_kill(struct wrap_tree *t);

/* 1 while a member other than a zombie remains, else 0.  The main child
 * counts only while it is not a zombie (the loop reaps it). */
int wrap_tree_alive(struct wrap_tree *t);

/* Reaps zombie children other than the main child (orphans re-parented to
 * this subreaper), so a long-lived tree that orphans many short-lived
 * processes does not fill the process table.  Call on SIGCHLD. */
void wrap_tree_reap_orphans(struct wrap_tree *t);

/* Frees the cgroup (removing it once empty).  Safe to call more than once. */
void wrap_tree_destroy(struct wrap_tree *t);

#endif
