/* SPDX-License-Identifier: MIT */
/* Test helper for the sup layer's PID 1 duty: run under
 * `unshare -fp --mount-proc sup_init PROBE DIR [SERVICES [ORPHANS]]`, it is
 * PID 1 of a new pid namespace with a supervisor in reaper mode over
 * SERVICES (default 0) `sleep` services plus two: one that makes ORPHANS
 * (default 200) orphans (reparented to us, each reaped at once), started
 * once every sleep service is ready, and one that setsid + double-forks a
 * daemon.  When every orphan is reaped it sends itself SIGHUP (the hook
 * runs) and SIGTERM (orderly shutdown), then prints what happened as
 * key=value lines and exits with the supervisor's status. */
#include <portkit.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int norphans = 200, nservices, orphans, hups, orph_exit_signal = -1, orph_exit_unknown;
static int services_ready, add_err;
static struct pk_sup *sup;
static struct pk_cmd *orph_cmd; /* added once the sleep services are ready */

static void add_orph(void)
{
        const char *need[] = {"daemon", NULL};
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "orph";
        sp.requires_ids = need; /* starts once the daemon is in place */
        add_err = pk_sup_add(sup, &sp, orph_cmd);
        orph_cmd = NULL;
}

static void on_hup(void *ud)
{
        (void)ud;
        hups++;
}

static void on_event(void *ud, const struct pk_sup_event *ev)
{
        (void)ud;
        if (ev->kind == PK_SUP_EV_READY && strncmp(ev->id, "s", 1) == 0 &&
            ++services_ready == nservices)
                add_orph();
        if (ev->kind == PK_SUP_EV_ORPHAN && ++orphans == norphans) {
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
        if (argc < 3 || argc > 5) {
                fprintf(stderr, "usage: sup_init PROBE DIR [SERVICES [ORPHANS]]\n");
                return 100;
        }
        if (argc > 3)
                nservices = atoi(argv[3]);
        if (argc > 4)
                norphans = atoi(argv[4]);
        char pidfile[4096], orph_arg[32], daemon_arg[4200];
        snprintf(pidfile, sizeof(pidfile), "%s/daemon.pid", argv[2]);
        snprintf(orph_arg, sizeof(orph_arg), "orphans:%d", norphans);
        snprintf(daemon_arg, sizeof(daemon_arg), "daemon:%s", pidfile);
        struct pk_loop *loop;
        if (pk_loop_new(&loop) < 0 || pk_sup_new(loop, NULL, &sup) < 0)
                return 111;
        pk_sup_subscribe(sup, on_event, NULL);
        /* The orderly stop of SERVICES, one at a time, must fit the deadline:
         * a few ms each normally, but ASan on a loaded 2-core machine was seen
         * taking over 20 ms each; the deadline is a hang guard, not a timing check. */
        if (pk_sup_reaper(sup, 10000 + 200 * (int64_t)nservices, on_hup, NULL) < 0)
                return 111;
        struct pk_sup_child_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.id = "daemon";
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        if (pk_sup_add(sup, &sp,
                       probe(argv[1], (const char *[]){daemon_arg, "fd:3", "pause", NULL})) < 0)
                return 111;
        for (int i = 0; i < nservices; i++) {
                char id[32];
                snprintf(id, sizeof(id), "s%d", i);
                memset(&sp, 0, sizeof(sp));
                sp.id = id;
                if (pk_sup_add(sup, &sp, probe("sleep", (const char *[]){"100000", NULL})) < 0)
                        return 111;
        }
        orph_cmd = probe(argv[1], (const char *[]){orph_arg, "pause", NULL});
        if (nservices == 0)
                add_orph();
        if (add_err < 0)
                return 111;
        if (pk_sup_start(sup, NULL, 0) < 0)
                return 111;
        int r = pk_loop_run_timeout(loop, 60000);
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
        printf("pid=%ld\nrun=%d\nservices_ready=%d\nadd=%d\norphans=%d\nhups=%d\nfinished=%d\n"
               "reason=%s\nstatus=%d\norph_signal=%d\norph_unknown=%d\ndaemon=%ld\n"
               "daemon_gone=%d\n",
               (long)getpid(), r, services_ready, add_err, orphans, hups, st.finished,
               pk_sup_reason_name(st.reason), st.exit_status, orph_exit_signal, orph_exit_unknown,
               dpid, daemon_gone);
        fflush(stdout);
        pk_cmd_free(orph_cmd);
        pk_sup_free(sup);
        pk_loop_free(loop);
        return st.exit_status;
}
