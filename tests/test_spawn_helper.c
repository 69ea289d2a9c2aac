/* SPDX-License-Identifier: MIT */
/* The spawn helper process (pk_spawn_helper): a command spawned through it
 * arrives as the caller's child with every setting (checked from inside by
 * tests/helpers/spawn_probe), a failing step comes back named, start() never
 * waits on a stopped helper, and the helper's death is an error; nothing
 * leaks. */
#include <portkit.h>

#include "testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE PK_BUILD_DIR "/tests/helpers/spawn_probe"

Test(spawn_helper, process)
{
        struct pk_spawn_helper *h;
        cr_assert_eq(pk_spawn_helper_new(&h), 0);
        int before = tu_count_fds();
        struct pk_cmd *c = tu_probe_cmd("report");
        pk_cmd_fd_pipe(c, 3, 0);
        pk_cmd_env_set(c, "VIA", "helper");
        pk_cmd_cwd(c, "/usr");
        pk_cmd_umask(c, 0070);
        pk_cmd_setsid(c);
        struct pk_proc *p;
        struct pk_spawn_error e;
        cr_assert_eq(pk_spawn_helper_spawn(h, c, &p, &e), 0);
        struct pk_exit st;
        cr_assert_eq(pk_proc_wait(p, -1, &st), 0, "the child is ours to wait for");
        cr_assert_eq(st.code, 0);
        char *rep = tu_probe_take_report();
        cr_assert_eq(atoi(tu_kv(rep, "ppid")), getpid());
        cr_assert(tu_has_line(rep, "env.VIA=helper"));
        cr_assert_str_eq(tu_kv(rep, "cwd"), "/usr");
        cr_assert_str_eq(tu_kv(rep, "umask"), "0070");
        cr_assert_str_eq(tu_kv(rep, "sid"), tu_kv(rep, "pid"));
        cr_assert_str_eq(tu_fd_list(rep), "0,1,2,3");
        free(rep);
        pk_proc_free(p);

        /* A failing step comes back with its name; nothing leaks. */
        pk_cmd_cwd(c, "/nope");
        cr_assert_eq(pk_spawn_helper_spawn(h, c, &p, &e), -ENOENT);
        char m[700];
        pk_spawn_strerror(&e, m, sizeof(m));
        cr_assert_str_eq(m, "spawn failed: chdir \"/nope\": No such file or directory");
        cr_assert_eq(tu_count_fds(), before);
        pk_cmd_free(c);
        pk_spawn_helper_free(h);
        tu_assert_no_children("end of test");
}

Test(spawn_helper, async_never_waits)
{
        struct pk_spawn_helper *h;
        cr_assert_eq(pk_spawn_helper_new(&h), 0);
        /* Stop the helper: start() must still return at once (it only sends). */
        cr_assert_eq(kill(pk_spawn_helper_pid(h), SIGSTOP), 0);
        uint64_t ids[3];
        struct pk_cmd *c[3];
        for (int i = 0; i < 3; i++) {
                char code[8];
                snprintf(code, sizeof(code), "%d", 10 + i);
                pk_cmd_new(PROBE, &c[i]);
                pk_cmd_args(c[i], (const char *[]){"exit", code, NULL});
                pk_cmd_fd_pipe(c[i], 3, 0);
                cr_assert_eq(pk_spawn_helper_start(h, c[i], &ids[i], NULL), 0);
        }
        cr_assert_eq(ids[0], 1);
        cr_assert_eq(ids[2], 3);
        struct pollfd pf = {.fd = pk_spawn_helper_fd(h), .events = POLLIN};
        cr_assert_eq(poll(&pf, 1, 200), 0, "a reply came from a stopped helper");
        cr_assert_eq(kill(pk_spawn_helper_pid(h), SIGCONT), 0);
        for (int i = 0; i < 3; i++) {
                struct pk_proc *p;
                uint64_t id;
                cr_assert_eq(pk_spawn_helper_finish(h, &id, &p, NULL), 0);
                cr_assert_eq(id, ids[i]);
                cr_assert_geq(pk_proc_fd(p, 3), 0);
                struct pk_exit st;
                cr_assert_eq(pk_proc_wait(p, -1, &st), 0);
                cr_assert_eq(st.code, 10 + i);
                pk_proc_free(p);
                pk_cmd_free(c[i]);
        }
        struct pk_proc *p;
        cr_assert_eq(pk_spawn_helper_finish(h, NULL, &p, NULL), -ENOENT);
        pk_spawn_helper_free(h);
        tu_assert_no_children("end of test");
}

Test(spawn_helper, death_is_an_error)
{
        struct pk_spawn_helper *h;
        cr_assert_eq(pk_spawn_helper_new(&h), 0);
        int before = tu_count_fds();
        struct pk_cmd *c;
        pk_cmd_new("/bin/true", &c);
        pk_cmd_fd_pipe(c, 1, 0);
        pid_t hp = pk_spawn_helper_pid(h);
        cr_assert_eq(kill(hp, SIGKILL), 0);
        siginfo_t si;
        cr_assert_eq(waitid(P_PID, (id_t)hp, &si, WEXITED | WNOWAIT), 0);
        struct pk_proc *p;
        struct pk_spawn_error e;
        cr_assert_eq(pk_spawn_helper_spawn(h, c, &p, &e), PK_EHELPER);
        cr_assert_eq(tu_count_fds(), before);
        pk_cmd_free(c);
        pk_spawn_helper_free(h);
        tu_assert_no_children("end of test");
}
