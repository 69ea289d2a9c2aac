/* SPDX-License-Identifier: MIT */
/* Private entry points of the cgroup and log pieces of the sup layer, for
 * tests: the mountinfo parser on any file (a host without cgroup v2 is a fake
 * mountinfo away) and the cgroup.kill fallback on its own. */
#ifndef PORTKIT_SUP_CGLOG_INTERNAL_H
#define PORTKIT_SUP_CGLOG_INTERNAL_H

#include "internal.h"
#include "portkit/sup.h"

/* pk_cgroup_v2_mount() reading @mountinfo instead of /proc/self/mountinfo. */
int pk__cgroup_v2_mount_from(const char *mountinfo, char *buf, size_t size);

/* pk_cgroup_self() reading these two files instead of /proc/self/{mountinfo,cgroup}. */
int pk__cgroup_self_from(const char *mountinfo, const char *proc_cgroup, char *buf, size_t size);

/* pk_cgroup_kill()'s fallback for kernels without cgroup.kill: SIGKILL to
 * every pid of cgroup.procs in the tree, pass after pass until none is left. */
int pk__cgroup_kill_procs(struct pk_cgroup *cg);

/* The directory of a cgroup v2 parent, checked to be one (-EOPNOTSUPP if not):
 * the caller owns it.  With pk__cgroup_make_at(), a supervisor makes its
 * services' cgroups without a path walk and a check each. */
int pk__cgroup_parent_open(const char *parent);
/* pk_cgroup_create()/_open() under the held parent directory pfd (at path
 * parent): *ret_existed (may be NULL) says whether the directory was there. */
int pk__cgroup_make_at(int pfd, const char *parent, const char *name, bool create,
                       bool *ret_existed, struct pk_cgroup **ret);

/* Closes the cgroup's two held descriptors; the next call that needs one
 * opens it again from the path.  The sup layer parks a service's cgroup
 * while it runs: each held descriptor is one more file every spawn copies
 * and every exec closes (do_close_on_exec), so 2,000 of them at 1,000
 * services doubled the cold start (perf: 37% of the busy time). */
void pk__cgroup_park(struct pk_cgroup *cg);

/* How many of the log's timers (age rotation, write retry) are armed now:
 * 0 while idle, so an idle service costs no wake-ups. */
int pk__log_timers_active(const struct pk_log *log);

#endif
