/* SPDX-License-Identifier: MIT */
/* unit_show: loads a systemd unit the way a supervisor would and prints the
 * child spec it describes: each command's argv after $VAR expansion, the
 * environment, credentials, limits, timeouts, restart policy, dependencies,
 * and what is not enforced.
 *
 *   unit_show [--strict] [--dir DIR]... NAME
 *
 * Exit status: 0 loaded, 1 refused (the message names file:line), 2 usage. */
#include <portkit/unit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void ms(const char *what, uint64_t v)
{
        if (v == PK_UNIT_INFINITY)
                printf("%s: infinity\n", what);
        else
                printf("%s: %llu ms\n", what, (unsigned long long)v);
}

static void names(const char *what, const struct pk_unit_strv *v)
{
        if (!v->n)
                return;
        printf("%s:", what);
        for (size_t i = 0; i < v->n; i++)
                printf(" %s", v->v[i]);
        printf("\n");
}

static void cmds(const char *what, const struct pk_unit_exec_list *l, char **env)
{
        for (size_t i = 0; i < l->n; i++) {
                char **argv = NULL;
                if (pk_unit_exec_expand(&l->v[i], (const char *const *)env, &argv) < 0)
                        continue;
                printf("%s: %s%s [", what, l->v[i].path,
                       (l->v[i].flags & PK_UNIT_EXEC_IGNORE_FAILURE) ? " (failure ignored)" : "");
                for (char **a = argv; *a; a++)
                        printf("%s\"%s\"", a == argv ? "" : ", ", *a);
                printf("]\n");
                pk_unit_strv_free(argv);
        }
}

int main(int argc, char **argv)
{
        const char *dirs[16];
        int nd = 0;
        struct pk_unit_opts o = {0};
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--strict") == 0)
                        o.flags |= PK_UNIT_STRICT;
                else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc && nd < 15)
                        dirs[nd++] = argv[++i];
                else
                        break;
        }
        if (i != argc - 1) {
                fprintf(stderr, "usage: unit_show [--strict] [--dir DIR]... NAME\n");
                return 2;
        }
        dirs[nd] = NULL;
        if (nd)
                o.dirs = dirs;
        struct pk_unit_host host;
        char hostbuf[4096];
        if (pk_unit_host_probe(&host, hostbuf, sizeof(hostbuf)) == 0)
                o.host = &host;

        struct pk_unit *u;
        struct pk_unit_error e;
        int r = pk_unit_load(argv[i], &o, &u, &e);
        if (r < 0) {
                fprintf(stderr, "unit_show: %s:%u: %s%s%s (%s)\n", e.file, e.line, e.key,
                        e.key[0] ? ": " : "", e.message, pk_strerror(r));
                return 1;
        }
        for (size_t k = 0; k < u->warnings.n; k++)
                fprintf(stderr, "unit_show: %s:%u: warning: %s: %s\n", u->warnings.v[k].file,
                        u->warnings.v[k].line, u->warnings.v[k].key, u->warnings.v[k].message);

        static const char *const types[] = {"simple", "exec", "forking", "oneshot",
                                            "notify", "dbus", "idle"};
        static const char *const restarts[] = {
            "no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"};
        printf("unit: %s\n", u->name);
        if (u->fragment_path)
                printf("file: %s\n", u->fragment_path);
        names("drop-ins", &u->dropin_paths);
        if (u->kind == PK_UNIT_KIND_SERVICE) {
                char **env = NULL;
                const char *base[] = {"MAINPID=0", NULL};
                r = pk_unit_environment(u, base, (const char *const *)environ, &env, &e);
                if (r < 0) {
                        /* As systemd would: the start fails on a missing file. */
                        fprintf(stderr, "unit_show: %s: %s\n", e.file, e.message);
                        env = NULL;
                }
                printf("type: %s\n", types[u->service.type]);
                cmds("start-pre", &u->service.exec_start_pre, env);
                cmds("start", &u->service.exec_start, env);
                cmds("reload", &u->service.exec_reload, env);
                cmds("stop", &u->service.exec_stop, env);
                if (u->service.pid_file)
                        printf("pid file: %s\n", u->service.pid_file);
                printf("restart: %s after %llu ms\n", restarts[u->service.restart],
                       (unsigned long long)u->service.restart_ms);
                ms("start timeout", u->service.timeout_start_ms);
                ms("stop timeout", u->service.timeout_stop_ms);
                pk_unit_strv_free(env);
        }
        if (u->exec.user)
                printf("user: %s\n", u->exec.user);
        if (u->exec.group)
                printf("group: %s\n", u->exec.group);
        for (int k = 0; k < PK_UNIT_NLIMITS; k++)
                if (u->exec.limits[k].set)
                        printf("rlimit %d: %llu:%llu\n", k,
                               (unsigned long long)u->exec.limits[k].soft,
                               (unsigned long long)u->exec.limits[k].hard);
        for (size_t k = 0; k < u->socket.listen.n; k++)
                printf("listen: %s port %u\n",
                       u->socket.listen.v[k].path ? u->socket.listen.v[k].path : "*",
                       u->socket.listen.v[k].port);
        names("after", &u->deps.after);
        names("wants", &u->deps.wants);
        names("requires", &u->deps.requires_units);
        names("wanted by", &u->install.wanted_by);
        for (size_t k = 0; k < u->not_enforced.n; k++)
                printf("not enforced: %s=%s\n", u->not_enforced.v[k].key,
                       u->not_enforced.v[k].value);
        pk_unit_free(u);
        return 0;
}
