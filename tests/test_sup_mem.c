/* SPDX-License-Identifier: MIT */
/* Tests for the sup layer's memory per service (docs/sup.md "Memory per
 * service"): a service with no optional configuration holds no side record
 * and costs the same allocations whatever its id's length; each optional
 * setting allocates its side record once; the ready record is made at add for
 * every readiness but "at exec", a watchdog and a forking service; a child's log is made at add
 * without keeping its directory, while a template keeps it for its dynamic children.  Counts come
 * from the library's allocator (pk__alloc_fail_after's countdown), never
 * from timing. */
#include <portkit.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long pk__alloc_fail_after(long n);                         /* src/common/alloc.c */
int pk__sup_child_sides(struct pk_sup *s, const char *id); /* src/sup/sup.c */

#define BOUND_MS 20000 /* a hang becomes a failure after this; never a pass condition */
#define SIDE_COLD 1
#define SIDE_READY 2

static struct pk_loop *loop;
static int stop_kind;
static int seen;

static void on_event(void *ud, const struct pk_sup_event *ev)
{
        (void)ud;
        if (stop_kind && ev->kind == stop_kind) {
                seen = 1;
                pk_loop_stop(loop);
        }
}

static void run_until(int kind)
{
        stop_kind = kind;
        seen = 0;
        (void)pk_loop_run_timeout(loop, BOUND_MS);
        cr_assert(seen, "no %s event within the bound", pk_sup_event_name(kind));
}

static struct pk_sup *new_sup(const struct pk_sup_child_spec *tmpl)
{
        cr_assert_eq(pk_loop_new(&loop), 0);
        struct pk_sup_opts o;
        memset(&o, 0, sizeof(o));
        o.name = "mem";
        o.cgroup = PK_SUP_CGROUP_OFF;
        if (tmpl) {
                o.strategy = PK_SUP_SIMPLE_ONE_FOR_ONE;
                o.template_spec = tmpl;
        }
        struct pk_sup *s = NULL;
        cr_assert_eq(pk_sup_new(loop, &o, &s), 0);
        cr_assert_eq(pk_sup_subscribe(s, on_event, NULL), 0);
        return s;
}

static struct pk_cmd *sh(const char *script)
{
        struct pk_cmd *c = NULL;
        cr_assert_eq(pk_cmd_new("/bin/sh", &c), 0);
        cr_assert_eq(pk_cmd_arg(c, "-c"), 0);
        cr_assert_eq(pk_cmd_arg(c, script), 0);
        return c;
}

static void spec_init(struct pk_sup_child_spec *sp, const char *id)
{
        memset(sp, 0, sizeof(*sp));
        sp->id = id;
        sp->restart = PK_SUP_PERMANENT;
}

/* Adds sp running `sleep 1000` and checks the side records the add made
 * (0, SIDE_COLD, SIDE_READY or both). */
static void add_with_sides(struct pk_sup *s, const struct pk_sup_child_spec *sp, int sides)
{
        int r = pk_sup_add(s, sp, sh("exec sleep 1000"));
        cr_assert_eq(r, 0, "add %s: %s", sp->id, pk_strerror(r));
        cr_assert_eq(pk__sup_child_sides(s, sp->id), sides, "%s: side records", sp->id);
}

/* Frees the supervisor new_sup made and its loop. */
static void free_sup(struct pk_sup *s)
{
        pk_sup_free(s);
        pk_loop_free(loop);
        loop = NULL;
}

/* Adds a child and returns how many allocations the add made (the command
 * is made before counting). */
static long counted_add(struct pk_sup *s, const struct pk_sup_child_spec *sp)
{
        struct pk_cmd *cmd = sh("exec sleep 1000");
        const long big = 1000000000L;
        pk__alloc_fail_after(big);
        int r = pk_sup_add(s, sp, cmd);
        long left = pk__alloc_fail_after(0);
        cr_assert_eq(r, 0, "add %s: %s", sp->id, pk_strerror(r));
        return big - left;
}

static char tmpdir[64];

static void mk_tmpdir(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/pk-supmem.XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
        if (!tmpdir[0])
                return;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                cr_log_warn("%s failed", cmd);
        tmpdir[0] = '\0';
}

static void teardown(void)
{
        rm_tmpdir();
}

/* Whether dir/name holds `text`. */
static bool file_has(const char *name, const char *text)
{
        char path[128], buf[512];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        return strstr(buf, text) != NULL;
}

/* Runs the loop until the file has the text (bounded by BOUND_MS). */
static void wait_file(const char *name, const char *text)
{
        for (int i = 0; i < BOUND_MS / 10 && !file_has(name, text); i++)
                (void)pk_loop_run_timeout(loop, 10);
        cr_assert(file_has(name, text), "%s never held \"%s\"", name, text);
}

Test(sup_mem, plain_service_has_no_side_record)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec sp;
        spec_init(&sp, "plain");
        add_with_sides(s, &sp, 0);

        const char *none[] = {NULL};
        spec_init(&sp, "empty-lists");
        sp.wants = none; /* an empty list is no list */
        sp.after = none;
        add_with_sides(s, &sp, 0);

        spec_init(&sp, "exec-timeout");
        sp.start_timeout_ms = 5000; /* ready at exec: the timeout never runs, no record */
        add_with_sides(s, &sp, 0);
        cr_assert_eq(pk__sup_child_sides(s, "nosuch"), -ENOENT);
        free_sup(s);
}

Test(sup_mem, each_optional_setting_makes_its_side_record)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec sp;
        cr_assert_eq(pk_sup_add(s, &(struct pk_sup_child_spec){.id = "base"}, sh("exec sleep 1")),
                     0);

        static const int codes[] = {3};
        spec_init(&sp, "codes");
        sp.success_codes = codes;
        sp.n_success_codes = 1;
        add_with_sides(s, &sp, SIDE_COLD);

        spec_init(&sp, "nosig");
        sp.no_restart_signals = 1u << (15 - 1);
        add_with_sides(s, &sp, SIDE_COLD);

        const char *deps[] = {"base", NULL};
        spec_init(&sp, "deps");
        sp.wants = deps;
        add_with_sides(s, &sp, SIDE_COLD);

        spec_init(&sp, "limit");
        sp.start_limit_burst = 3;
        add_with_sides(s, &sp, SIDE_COLD);

        spec_init(&sp, "backoff");
        sp.backoff_base_ms = 10;
        add_with_sides(s, &sp, SIDE_COLD);

        spec_init(&sp, "store");
        sp.fd_store_max = 2;
        add_with_sides(s, &sp, SIDE_COLD);

        spec_init(&sp, "rfd");
        sp.ready = PK_SUP_READY_FD;
        sp.ready_fd = 3;
        add_with_sides(s, &sp, SIDE_READY);

        spec_init(&sp, "wd");
        sp.ready = PK_SUP_READY_NOTIFY;
        sp.watchdog_ms = 60000;
        add_with_sides(s, &sp, SIDE_READY);

        spec_init(&sp, "notify"); /* its start timeout's timer */
        sp.ready = PK_SUP_READY_NOTIFY;
        add_with_sides(s, &sp, SIDE_READY);

        spec_init(&sp, "delay");
        sp.ready = PK_SUP_READY_DELAY;
        sp.ready_delay_ms = 50;
        add_with_sides(s, &sp, SIDE_READY);

        spec_init(&sp, "forking"); /* its pid file (cold) and the main pid's watchers (ready) */
        sp.forking = 1;
        sp.pid_file = "/run/pk-supmem-none.pid";
        add_with_sides(s, &sp, SIDE_COLD | SIDE_READY);
        free_sup(s);
}

Test(sup_mem, side_record_is_one_allocation_and_the_id_none)
{
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec sp;
        /* warm-up: the kids array and id index are sized for more than the three below */
        spec_init(&sp, "warm");
        (void)counted_add(s, &sp);

        spec_init(&sp, "a");
        long plain = counted_add(s, &sp);
        char longid[PK_SUP_ID_MAX + 1];
        memset(longid, 'x', PK_SUP_ID_MAX);
        longid[PK_SUP_ID_MAX] = '\0';
        spec_init(&sp, longid);
        cr_assert_eq(counted_add(s, &sp), plain, "the id is stored in the record");

        static const int codes[] = {3, 4};
        spec_init(&sp, "b");
        sp.success_codes = codes;
        sp.n_success_codes = 2;
        sp.no_restart_signals = 1;
        sp.backoff_cap_ms = 100;
        cr_assert_eq(counted_add(s, &sp), plain + 1, "one cold record for all of these");
        free_sup(s);
}

Test(sup_mem, success_codes_in_the_side_record_still_decide, .timeout = 60)
{
        struct pk_sup *s = new_sup(NULL);
        static const int codes[] = {7};
        struct pk_sup_child_spec sp;
        spec_init(&sp, "ok7");
        sp.restart = PK_SUP_TRANSIENT;
        sp.success_codes = codes;
        sp.n_success_codes = 1;
        cr_assert_eq(pk_sup_add(s, &sp, sh("exit 7")), 0);
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        run_until(PK_SUP_EV_EXITED);
        struct pk_sup_child_info ci;
        cr_assert_eq(pk_sup_child_info(s, "ok7", &ci), 0);
        cr_assert_eq(ci.state, PK_SUP_DOWN, "a success code is a normal exit: no restart");
        cr_assert_eq(ci.restarts, 0u);
        free_sup(s);
}

Test(sup_mem, log_is_made_at_add_without_keeping_its_dir, .fini = teardown, .timeout = 60)
{
        mk_tmpdir();
        struct pk_sup *s = new_sup(NULL);
        struct pk_sup_child_spec sp;
        spec_init(&sp, "talk");
        sp.log_dir = tmpdir;
        cr_assert_eq(pk_sup_add(s, &sp, sh("echo hello-log; exec sleep 1000")), 0);
        cr_assert_eq(pk__sup_child_sides(s, "talk"), 0, "no copy of the log dir is kept");
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        wait_file("talk.log", "hello-log");
        free_sup(s);
}

Test(sup_mem, template_keeps_log_config_for_dynamic_children, .fini = teardown, .timeout = 60)
{
        mk_tmpdir();
        struct pk_sup_child_spec t;
        memset(&t, 0, sizeof(t));
        t.restart = PK_SUP_TEMPORARY;
        t.log_dir = tmpdir;
        struct pk_log_opts lo;
        memset(&lo, 0, sizeof(lo));
        lo.timestamps = PK_LOG_TIME_NONE;
        t.log_opts = &lo;
        struct pk_sup *s = new_sup(&t);
        cr_assert_eq(pk__sup_child_sides(s, NULL), SIDE_COLD, "the template keeps its log dir");
        cr_assert_eq(pk_sup_start(s, NULL, 0), 0);
        cr_assert_eq(pk_sup_start_dynamic(s, "dyn", sh("echo from-dyn; exec sleep 1000")), 0);
        cr_assert_eq(pk__sup_child_sides(s, "dyn"), 0);
        wait_file("dyn.log", "from-dyn");
        free_sup(s);
}
