/* SPDX-License-Identifier: MIT */
/* Spawn benchmark: portkit against fork+exec, vfork+exec, posix_spawn, libuv,
 * GLib (in this process) and Python / Rust (peer programs that measure
 * themselves), in one run, methods interleaved in a random order each round.
 * Every spawn gets the same layout: stdout and fds 3 and 4 are pipes to the
 * parent; stdin and stderr are inherited; the parent waits for each child.
 *
 * usage: bench N ROUNDS BIG_MB TINY PY_PEER RUST_PEER
 *   N spawns per method per round; BIG_MB of memory touched for the big-parent
 *   phase (0 skips it); TINY the static child; PY_PEER/RUST_PEER "-" to skip. */
#include <portkit.h>

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

static const char *child_path;
static char *child_argv[2];

static void die(const char *what, int err)
{
        fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
        exit(111);
}

/* The three pipes every method gives the child: [0] stdout, [1] fd 3, [2] fd 4. */
struct pipes {
        int r[3], w[3];
};

static void make_pipes(struct pipes *p)
{
        for (int i = 0; i < 3; i++) {
                int fd[2];
                if (pipe2(fd, O_CLOEXEC) < 0)
                        die("pipe2", errno);
                p->r[i] = fd[0];
                p->w[i] = fd[1];
        }
}

static void close_w(struct pipes *p)
{
        for (int i = 0; i < 3; i++)
                close(p->w[i]);
}

static void close_r(struct pipes *p)
{
        for (int i = 0; i < 3; i++)
                close(p->r[i]);
}

static void wait_ok(pid_t pid)
{
        int ws;
        while (waitpid(pid, &ws, 0) < 0)
                if (errno != EINTR)
                        die("waitpid", errno);
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                fprintf(stderr, "bench: child failed (status %d)\n", ws);
                exit(111);
        }
}

static const int targets[3] = {1, 3, 4};

/* ---- portkit ---- */

static struct pk_cmd *pk_plain, *pk_full;

static struct pk_cmd *pk_make(bool full)
{
        struct pk_cmd *c;
        int r = pk_cmd_new(child_path, &c);
        if (r < 0)
                die("pk_cmd_new", r);
        pk_cmd_fd_pipe(c, 1, PK_PIPE_CHILD_WRITES);
        pk_cmd_fd_pipe(c, 3, PK_PIPE_CHILD_WRITES);
        pk_cmd_fd_pipe(c, 4, PK_PIPE_CHILD_WRITES);
        if (full) {
                pk_cmd_cwd(c, "/tmp");
                pk_cmd_env_set(c, "BENCH", "1");
                pk_cmd_umask(c, 027);
                pk_cmd_rlimit(c, RLIMIT_CORE, 0, 0);
                pk_cmd_setsid(c);
        }
        return c;
}

static void run_pk(struct pk_cmd *c)
{
        struct pk_proc *p;
        struct pk_spawn_error e;
        int r = pk_spawn(c, &p, &e);
        if (r < 0) {
                char m[700];
                pk_spawn_strerror(&e, m, sizeof(m));
                fprintf(stderr, "bench: %s\n", m);
                exit(111);
        }
        struct pk_exit st;
        pk_proc_wait(p, -1, &st);
        if (!st.exited || st.code != 0)
                die("portkit child failed", EIO);
        pk_proc_free(p);
}

/* The child's ways to find the dispositions to reset (src/spawn/child.c):
 * portkit's default asks each signal (62 queries); the two other exact ways
 * (reading /proc/self/status, 62 unconditional resets) are measured beside
 * it.  Each method sets the way before it spawns. */
void pk__spawn_bench_sigreset(int mode);
enum { SIGRESET_QUERY, SIGRESET_STATUS, SIGRESET_ALL }; /* as src/spawn: 0 is the default */

static void m_portkit(void)
{
        pk__spawn_bench_sigreset(SIGRESET_QUERY);
        run_pk(pk_plain);
}

static void m_portkit_reset_all(void)
{
        pk__spawn_bench_sigreset(SIGRESET_ALL);
        run_pk(pk_plain);
}

static void m_portkit_status(void)
{
        pk__spawn_bench_sigreset(SIGRESET_STATUS);
        run_pk(pk_plain);
}

static void m_portkit_full(void)
{
        pk__spawn_bench_sigreset(SIGRESET_QUERY);
        run_pk(pk_full);
}

/* ---- fork / vfork + exec ---- */

static void child_dups(const struct pipes *p)
{
        for (int i = 0; i < 3; i++)
                if (dup2(p->w[i], targets[i]) < 0)
                        _exit(127);
        execve(child_path, child_argv, environ);
        _exit(127);
}

static void m_fork(void)
{
        struct pipes p;
        make_pipes(&p);
        pid_t pid = fork();
        if (pid == 0)
                child_dups(&p);
        if (pid < 0)
                die("fork", errno);
        close_w(&p);
        wait_ok(pid);
        close_r(&p);
}

static void m_vfork(void)
{
        struct pipes p;
        make_pipes(&p);
        pid_t pid = vfork();
        if (pid == 0)
                child_dups(&p);
        if (pid < 0)
                die("vfork", errno);
        close_w(&p);
        wait_ok(pid);
        close_r(&p);
}

/* ---- posix_spawn ---- */

static char **full_env;

static void do_posix_spawn(bool full)
{
        struct pipes p;
        make_pipes(&p);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        for (int i = 0; i < 3; i++)
                posix_spawn_file_actions_adddup2(&fa, p.w[i], targets[i]);
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        if (full) {
                /* What posix_spawn can do of cwd, env, umask, rlimit, setsid:
                 * cwd (glibc extension), env, setsid.  No umask, no rlimit. */
                posix_spawn_file_actions_addchdir_np(&fa, "/tmp");
                posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
        }
        pid_t pid;
        int r = posix_spawn(&pid, child_path, &fa, &at, child_argv, full ? full_env : environ);
        if (r)
                die("posix_spawn", r);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        close_w(&p);
        wait_ok(pid);
        close_r(&p);
}

static void m_posix_spawn(void)
{
        do_posix_spawn(false);
}

static void m_posix_spawn_full(void)
{
        do_posix_spawn(true);
}

/* ---- libuv ---- */

static uv_loop_t *uvloop;
static int uv_done;

static void on_uv_exit(uv_process_t *h, int64_t status, int sig)
{
        if (status != 0 || sig != 0)
                die("libuv child failed", EIO);
        uv_done = 1;
        uv_close((uv_handle_t *)h, NULL);
}

static void m_libuv(void)
{
        struct pipes p;
        make_pipes(&p);
        uv_stdio_container_t st[5] = {
            {.flags = UV_INHERIT_FD, .data.fd = 0},
            {.flags = UV_INHERIT_FD, .data.fd = p.w[0]},
            {.flags = UV_INHERIT_FD, .data.fd = 2},
            {.flags = UV_INHERIT_FD, .data.fd = p.w[1]},
            {.flags = UV_INHERIT_FD, .data.fd = p.w[2]},
        };
        uv_process_options_t o = {.exit_cb = on_uv_exit,
                                  .file = child_path,
                                  .args = child_argv,
                                  .stdio_count = 5,
                                  .stdio = st};
        uv_process_t h;
        uv_done = 0;
        int r = uv_spawn(uvloop, &h, &o);
        if (r)
                die("uv_spawn", -r);
        close_w(&p);
        while (!uv_done)
                uv_run(uvloop, UV_RUN_ONCE);
        uv_run(uvloop, UV_RUN_NOWAIT); /* let the close callback run */
        close_r(&p);
}

/* ---- GLib ---- */

static void m_glib(void)
{
        struct pipes p;
        make_pipes(&p);
        gint src[2] = {p.w[1], p.w[2]}, dst[2] = {3, 4};
        GPid pid;
        GError *err = NULL;
        if (!g_spawn_async_with_pipes_and_fds(NULL, (const gchar *const *)child_argv, NULL,
                                              G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, -1, p.w[0], -1,
                                              src, dst, 2, &pid, NULL, NULL, NULL, &err)) {
                fprintf(stderr, "bench: glib: %s\n", err->message);
                exit(111);
        }
        close_w(&p);
        wait_ok(pid);
        g_spawn_close_pid(pid);
        close_r(&p);
}

/* ---- external peers: run the peer program, which measures itself ---- */

static const char *py_peer, *rust_peer;
static long big_mb_now;
static long n_spawns;

static double run_peer(const char *argv0, const char *script)
{
        char nbuf[32], bbuf[32];
        snprintf(nbuf, sizeof(nbuf), "%ld", n_spawns);
        snprintf(bbuf, sizeof(bbuf), "%ld", big_mb_now);
        struct pk_cmd *c;
        pk_cmd_new(argv0, &c);
        if (script)
                pk_cmd_arg(c, script);
        pk_cmd_args(c, (const char *[]){child_path, nbuf, bbuf, NULL});
        struct pk_run_result res;
        struct pk_spawn_error e;
        int r = pk_run(c, &(struct pk_run_opts){.stderr_mode = PK_RUN_INHERIT}, &res, &e);
        pk_cmd_free(c);
        if (r < 0 || !res.status.exited || res.status.code != 0) {
                fprintf(stderr, "bench: peer %s failed\n", script ? script : argv0);
                exit(111);
        }
        double rate = strtod(res.out, NULL);
        pk_run_result_free(&res);
        return rate;
}

static double m_python(void)
{
        return run_peer("python3", py_peer);
}

static double m_rust(void)
{
        return run_peer(rust_peer, NULL);
}

/* ---- the driver ---- */

enum {
        M_PORTKIT,
        M_FORK,
        M_VFORK,
        M_POSIX,
        M_UV,
        M_GLIB,
        M_PY,
        M_RUST,
        M_PKFULL,
        M_PSFULL,
        M_PKALL,
        M_PKSTATUS,
        M_N
};

static const char *const mnames[M_N] = {
    "portkit",
    "fork+exec",
    "vfork+exec",
    "posix_spawn",
    "libuv",
    "glib",
    "python",
    "rust",
    "portkit (cwd,env,umask,rlimit,setsid)",
    "posix_spawn (cwd,env,setsid)",
    "portkit, 62 SIG_DFL resets",
    "portkit, /proc/self/status",
};

static void (*const inproc[M_N])(void) = {
    [M_PORTKIT] = m_portkit,
    [M_FORK] = m_fork,
    [M_VFORK] = m_vfork,
    [M_POSIX] = m_posix_spawn,
    [M_UV] = m_libuv,
    [M_GLIB] = m_glib,
    [M_PKFULL] = m_portkit_full,
    [M_PSFULL] = m_posix_spawn_full,
    [M_PKALL] = m_portkit_reset_all,
    [M_PKSTATUS] = m_portkit_status,
};

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

#define MAX_ROUNDS 64

/* rates[child][size][method][round] */
static double rates[2][2][M_N][MAX_ROUNDS];
static double med[2][2][M_N];
/* median over the rounds of portkit's rate / the method's rate in the same round */
static double med_ratio[2][2][M_N];

static double median(double *v, long n)
{
        qsort(v, (size_t)n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void phase(int size, long rounds, const char *const *children)
{
        for (int ch = 0; ch < 2; ch++) {
                child_path = children[ch];
                child_argv[0] = (char *)(uintptr_t)children[ch];
                pk_plain = pk_make(false);
                pk_full = pk_make(true);
                for (long round = 0; round < rounds; round++) {
                        int order[M_N];
                        for (int i = 0; i < M_N; i++)
                                order[i] = i;
                        for (int i = M_N - 1; i > 0; i--) {
                                int j = rand() % (i + 1), t = order[i];
                                order[i] = order[j];
                                order[j] = t;
                        }
                        for (int k = 0; k < M_N; k++) {
                                int m = order[k];
                                double rate = 0;
                                if (m == M_PY) {
                                        rate = py_peer ? m_python() : 0;
                                } else if (m == M_RUST) {
                                        rate = rust_peer ? m_rust() : 0;
                                } else {
                                        inproc[m](); /* warm-up */
                                        double t0 = now_s();
                                        for (long i = 0; i < n_spawns; i++)
                                                inproc[m]();
                                        rate = (double)n_spawns / (now_s() - t0);
                                }
                                rates[ch][size][m][round] = rate;
                        }
                }
                for (int m = 0; m < M_N; m++) {
                        int ref = m == M_PSFULL ? M_PKFULL : M_PORTKIT;
                        double v[MAX_ROUNDS] = {0}, q[MAX_ROUNDS] = {0};
                        for (long k = 0; k < rounds; k++) {
                                v[k] = rates[ch][size][m][k];
                                q[k] = v[k] > 0 ? rates[ch][size][ref][k] / v[k] : 0;
                        }
                        med[ch][size][m] = median(v, rounds);
                        med_ratio[ch][size][m] = median(q, rounds);
                }
                pk_cmd_free(pk_plain);
                pk_cmd_free(pk_full);
        }
}

/* How long the calling thread is held per spawn: pk_spawn() returns only once
 * the child has called execve (CLONE_VFORK); pk_spawn_helper_start() only
 * sends a request to the helper process. */
static struct pk_spawn_helper *helper;

static void stall(const char *label)
{
        struct pk_cmd *c = pk_make(false);
        long n = n_spawns;
        pk__spawn_bench_sigreset(SIGRESET_QUERY);
        double in_spawn = 0, in_start = 0, total_helper = 0;
        for (long i = 0; i < n; i++) {
                struct pk_proc *p;
                double t0 = now_s();
                if (pk_spawn(c, &p, NULL) < 0)
                        die("pk_spawn", EIO);
                in_spawn += now_s() - t0;
                pk_proc_wait(p, -1, NULL);
                pk_proc_free(p);

                t0 = now_s();
                if (pk_spawn_helper_start(helper, c, NULL, NULL) < 0)
                        die("pk_spawn_helper_start", EIO);
                double t1 = now_s();
                in_start += t1 - t0;
                if (pk_spawn_helper_finish(helper, NULL, &p, NULL) < 0)
                        die("pk_spawn_helper_finish", EIO);
                total_helper += now_s() - t0;
                pk_proc_wait(p, -1, NULL);
                pk_proc_free(p);
        }
        printf("%-11s calling thread held per spawn: pk_spawn %.1f us | helper start %.1f us "
               "(start+finish %.1f us)\n",
               label, in_spawn / (double)n * 1e6, in_start / (double)n * 1e6,
               total_helper / (double)n * 1e6);
        pk_cmd_free(c);
}

static void print_table(int size, const char *const *labels)
{
        printf("\n%s parent — median spawns/s over the rounds; ratio = median over the rounds of "
               "portkit / method in the same round\n",
               size ? "BIG" : "small");
        printf("%-40s %12s %8s %12s %8s\n", "method", labels[0], "ratio", labels[1], "ratio");
        for (int m = 0; m < M_N; m++) {
                if ((m == M_PY && !py_peer) || (m == M_RUST && !rust_peer))
                        continue;
                printf("%-40s", mnames[m]);
                for (int ch = 0; ch < 2; ch++)
                        printf(" %12.0f %7.2fx", med[ch][size][m], med_ratio[ch][size][m]);
                printf("\n");
        }
}

int main(int argc, char **argv)
{
        if (argc != 7) {
                fprintf(stderr, "usage: bench N ROUNDS BIG_MB TINY PY_PEER|- RUST_PEER|-\n");
                return 100;
        }
        n_spawns = atol(argv[1]);
        long rounds = atol(argv[2]);
        long big_mb = atol(argv[3]);
        if (n_spawns < 1 || rounds < 1 || rounds > MAX_ROUNDS || big_mb < 0)
                return 100;
        const char *children[2] = {argv[4], "/bin/true"};
        py_peer = strcmp(argv[5], "-") ? argv[5] : NULL;
        rust_peer = strcmp(argv[6], "-") ? argv[6] : NULL;
        static const char *const labels[2] = {"tiny-static", "/bin/true"};
        setvbuf(stdout, NULL, _IOLBF, 0);
        srand((unsigned)time(NULL));
        uvloop = uv_default_loop();
        static char envb[] = "BENCH=1";
        size_t ne = 0;
        while (environ[ne])
                ne++;
        full_env = calloc(ne + 2, sizeof(char *));
        memcpy(full_env, environ, ne * sizeof(char *));
        full_env[ne] = envb;

        printf("spawn benchmark: N=%ld spawns per method per round, %ld rounds, big parent %ld "
               "MiB\n",
               n_spawns, rounds, big_mb);
        /* The helper is forked now, while this process is small. */
        int hr = pk_spawn_helper_new(&helper);
        if (hr < 0)
                die("pk_spawn_helper_new", hr);
        big_mb_now = 0;
        phase(0, rounds, children);
        print_table(0, labels);
        printf("\nVFORK stall (small parent):\n");
        for (int ch = 0; ch < 2; ch++) {
                child_path = children[ch];
                child_argv[0] = (char *)(uintptr_t)children[ch];
                stall(labels[ch]);
        }
        if (big_mb > 0) {
                size_t len = (size_t)big_mb << 20;
                char *mem =
                    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (mem == MAP_FAILED)
                        die("mmap", errno);
                for (size_t i = 0; i < len; i += 4096)
                        mem[i] = 1;
                big_mb_now = big_mb;
                phase(1, rounds, children);
                print_table(1, labels);
                printf("\nportkit big/small: %.2fx (tiny) %.2fx (/bin/true)\n",
                       med[0][1][M_PORTKIT] / med[0][0][M_PORTKIT],
                       med[1][1][M_PORTKIT] / med[1][0][M_PORTKIT]);
                printf("\nVFORK stall (big parent):\n");
                for (int ch = 0; ch < 2; ch++) {
                        child_path = children[ch];
                        child_argv[0] = (char *)(uintptr_t)children[ch];
                        stall(labels[ch]);
                }
                munmap(mem, len);
        }
        pk_spawn_helper_free(helper);
        return 0;
}
