/* SPDX-License-Identifier: MIT */
/* portkit's peer in bench/sup: one pk_sup (one_for_one, in reaper mode, so
 * it also reaps orphans as PID 1) over N permanent copies of PROG.  The
 * restart limit is lifted (the benchmark kills a child per round) and a
 * child counts as stable after 1 s of uptime (runit's and s6's rule), so a
 * killed child that ran that long restarts at once.  Prints the time to
 * start, the supervisor's RSS and its heap in use (glibc's mallinfo2) once
 * all N are running when --report.
 *   PKSUP_CGROUP=off|on   (default auto) a cgroup per service
 *   PKSUP_LOG_DIR=DIR     each service's stdout and stderr to DIR/s<i>.log
 *                         through the sup layer's log capture (pk_log,
 *                         rotated at its defaults: 1 MiB, 10 files)
 * Usage: pksup N PROG [--report] */
#include <portkit.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long n, running;
static int report;
static struct timespec t0;

static long rss_kib(void)
{
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        long v = -1;
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "VmRSS:", 6) == 0)
                        v = atol(line + 6);
        if (f)
                fclose(f);
        return v;
}

static void on_event(void *ud, const struct pk_sup_event *ev)
{
        (void)ud;
        if (ev->kind != PK_SUP_EV_READY || ++running != n || !report)
                return;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double s = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        struct mallinfo2 mi = mallinfo2();
        printf("pksup: %ld services running after %.3f s; supervisor RSS %ld KiB, heap in use %zu "
               "B (%zu B per service)\n",
               n, s, rss_kib(), mi.uordblks, mi.uordblks / (size_t)n);
        fflush(stdout);
}

int main(int argc, char **argv)
{
        if (argc < 3 || (n = atol(argv[1])) <= 0 || n > 1000000) {
                fprintf(stderr, "usage: pksup N PROG [--report]\n");
                return 100;
        }
        report = argc > 3 && strcmp(argv[3], "--report") == 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct pk_loop *loop = NULL;
        struct pk_sup *sup = NULL;
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.name = "bench";
        o.intensity = 1000; /* in 1 ms: never reached by one kill at a time */
        o.period_ms = 1;
        o.backoff_reset_ms = 1000;
        /* PKSUP_CGROUP=off|on (default auto): the cost of "stopped = cgroup empty" */
        const char *cg = getenv("PKSUP_CGROUP");
        if (cg && strcmp(cg, "off") == 0)
                o.cgroup = PK_SUP_CGROUP_OFF;
        else if (cg && strcmp(cg, "on") == 0)
                o.cgroup = PK_SUP_CGROUP_ON;
        const char *log_dir = getenv("PKSUP_LOG_DIR");
        if (log_dir && !log_dir[0])
                log_dir = NULL;
        int r = pk_loop_new(&loop);
        if (r == 0)
                r = pk_sup_new(loop, &o, &sup);
        if (r == 0)
                r = pk_sup_subscribe(sup, on_event, NULL);
        if (r == 0)
                r = pk_sup_reaper(sup, 0, NULL, NULL);
        for (long i = 0; r == 0 && i < n; i++) {
                char id[32];
                snprintf(id, sizeof(id), "s%ld", i);
                struct pk_cmd *cmd = NULL;
                r = pk_cmd_new(argv[2], &cmd);
                if (r < 0)
                        break;
                struct pk_sup_child_spec sp;
                memset(&sp, 0, sizeof(sp));
                sp.id = id;
                sp.restart = PK_SUP_PERMANENT;
                sp.log_dir = log_dir;
                r = pk_sup_add(sup, &sp, cmd);
        }
        if (r == 0)
                r = pk_sup_start(sup, NULL, 0);
        if (r == 0)
                r = pk_loop_run(loop);
        if (r < 0)
                fprintf(stderr, "pksup: %s\n", pk_strerror(r));
        struct pk_sup_status st;
        int status = r < 0 ? 111 : (pk_sup_state(sup, &st) == 0 ? st.exit_status : 111);
        pk_sup_free(sup);
        pk_loop_free(loop);
        return status;
}
