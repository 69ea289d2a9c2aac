/* SPDX-License-Identifier: MIT */
/* Test helper for the sup layer's PID 1 duty: run under
 * `unshare -fp --mount-proc sup_init PROBE DIR`, it is PID 1 of a new pid
 * namespace with a supervisor in reaper mode over two services: one that
 * makes 200 orphans (reparented to us, each reaped at once) and one that
 * setsid + double-forks a daemon.  When every orphan is reaped it sends
 * itself SIGHUP (the hook runs) and SIGTERM (orderly shutdown), then prints
 * what happened as key=value lines and exits with the supervisor's status. */
#include <portkit.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ORPHANS 200

static int orphans, hups, orph_exit_signal = -1, orph_exit_unknown;
static struct pk_sup *sup;

static void on_hup(void *ud)
{
        (void)ud;
        hups++;
}

static void on_event(void *ud, const struct pk_sup_event *ev)
{
        (void)ud;
        if (ev->kind == PK_SUP_EV_ORPHAN && ++orphans == ORPHANS) {
                kill(getpid(), SIGHUP);
                kill(getpid(), SIGTERM);
        }
        if (ev->kind == PK_SUP_EV_EXITED && strcmp(ev->id, "orph") == 0) {
                orph_exit_signal = ev->exit.signal;
                orph_exit_unknown = !ev->exit.exited && ev->exit.signal == 0;
        }
}

static struct pk_cmd *probe(const char *path, const char *const *steps)
{
        struct pk_cmd *c = NULL;
        if (pk_cmd_new(path, &c) < 0)
                exit(111);
        for (size_t i = 0; steps[i]; i++)
                pk_cmd_arg(c, steps[i]);
        return c;
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: sup_init PROBE DIR\n");
                return 100;
        }
        char pidfile[4096], orph_arg[32], daemon_arg[4200];
        snprintf(pidfile, sizeof(pidfile), "%s/daemon.pid", argv[2]);
        snprintf(orph_arg, sizeof(orph_arg), "orphans:%d", ORPHANS);
        snprintf(daemon_arg, sizeof(daemon_arg), "daemon:%s", pidfile);
        struct pk_loop *loop;
        if (pk_loop_new(&loop) < 0 || pk_sup_new(loop, NULL, &sup) < 0)
                return 111;
        pk_sup_subscribe(sup, on_event, NULL);
        if (pk_sup_reaper(sup, 3000, on_hup, NULL) < 0)
                return 111;
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "daemon";
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        if (pk_sup_add(sup, &sp,
                       probe(argv[1], (const char *[]){daemon_arg, "fd:3", "pause", NULL})) < 0)
                return 111;
        const char *need[] = {"daemon", NULL};
        memset(&sp, 0, sizeof(sp));
        sp.id = "orph";
        sp.requires = need; /* starts once the daemon is in place */
        if (pk_sup_add(sup, &sp, probe(argv[1], (const char *[]){orph_arg, "pause", NULL})) < 0)
                return 111;
        if (pk_sup_start(sup, NULL, 0) < 0)
                return 111;
        int r = pk_loop_run_timeout(loop, 30000);
        struct pk_sup_status st;
        pk_sup_state(sup, &st);
        long dpid = 0;
        FILE *f = fopen(pidfile, "r");
        if (f) {
                if (fscanf(f, "%ld", &dpid) != 1)
                        dpid = 0;
                fclose(f);
        }
        int daemon_gone = dpid > 0 && kill((pid_t)dpid, 0) < 0 && errno == ESRCH;
        printf("pid=%ld\nrun=%d\norphans=%d\nhups=%d\nfinished=%d\nreason=%s\nstatus=%d\n"
               "orph_signal=%d\norph_unknown=%d\ndaemon=%ld\ndaemon_gone=%d\n",
               (long)getpid(), r, orphans, hups, st.finished, pk_sup_reason_name(st.reason),
               st.exit_status, orph_exit_signal, orph_exit_unknown, dpid, daemon_gone);
        fflush(stdout);
        pk_sup_free(sup);
        pk_loop_free(loop);
        return st.exit_status;
}
