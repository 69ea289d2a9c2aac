/* SPDX-License-Identifier: MIT */
/* Fuzzes the unit-file parser: the first byte picks the unit name, strict mode
 * and small limits; the rest is a unit file, optionally followed by a drop-in
 * after a line "--dropin--".  A parsed unit is finished and every string and
 * vector in it is walked (ASan finds stale or unterminated ones), each Exec
 * command is expanded, and an error must always carry a message. */
#include <portkit/unit.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t g_sink;

static void touch(const char *s)
{
        if (s)
                g_sink += strlen(s);
}

static void touch_strv(const struct pk_unit_strv *v)
{
        if (v->n && (!v->v || v->v[v->n]))
                abort();
        for (size_t i = 0; i < v->n; i++)
                touch(v->v[i]);
}

static void touch_exec(const struct pk_unit_exec_list *l)
{
        static const char *const env[] = {"A=1", "B=two words", "MAINPID=7", NULL};
        for (size_t i = 0; i < l->n; i++) {
                const struct pk_unit_exec *e = &l->v[i];
                if (!e->path || e->argc == 0 || e->argv[e->argc])
                        abort();
                touch(e->path);
                for (size_t k = 0; k < e->argc; k++)
                        touch(e->argv[k]);
                char **argv = NULL;
                if (pk_unit_exec_expand(e, env, &argv) == 0) {
                        for (char **a = argv; *a; a++)
                                touch(*a);
                        pk_unit_strv_free(argv);
                }
        }
}

static void walk(const struct pk_unit *u)
{
        touch(u->name);
        touch(u->description);
        touch_strv(&u->documentation);
        const struct pk_unit_strv *deps[] = {&u->deps.after,
                                             &u->deps.before,
                                             &u->deps.requires_units,
                                             &u->deps.wants,
                                             &u->deps.binds_to,
                                             &u->deps.part_of,
                                             &u->deps.requisite,
                                             &u->deps.conflicts,
                                             &u->deps.on_failure,
                                             &u->deps.on_success,
                                             &u->deps.upholds,
                                             &u->deps.propagates_reload_to,
                                             &u->deps.reload_propagated_from,
                                             &u->deps.requires_mounts_for,
                                             &u->install.wanted_by,
                                             &u->install.alias,
                                             &u->install.also,
                                             &u->exec.environment,
                                             &u->exec.supplementary_groups,
                                             &u->dropin_paths};
        for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++)
                touch_strv(deps[i]);
        const struct pk_unit_exec_list *ex[] = {
            &u->service.exec_condition,  &u->service.exec_start_pre, &u->service.exec_start,
            &u->service.exec_start_post, &u->service.exec_reload,    &u->service.exec_stop,
            &u->service.exec_stop_post,  &u->socket.exec_start_pre};
        for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
                touch_exec(ex[i]);
        for (size_t i = 0; i < u->conditions.n; i++)
                touch(u->conditions.v[i].param);
        for (size_t i = 0; i < u->socket.listen.n; i++)
                touch(u->socket.listen.v[i].path);
        for (size_t i = 0; i < u->warnings.n; i++) {
                touch(u->warnings.v[i].key);
                touch(u->warnings.v[i].message);
        }
        for (size_t i = 0; i < u->not_enforced.n; i++)
                touch(u->not_enforced.v[i].value);
        for (int i = 0; i < PK_UNIT_DIR_COUNT; i++)
                touch_strv(&u->exec.dirs[i].names);
        touch(u->exec.std_output.path);
        touch(u->service.pid_file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const names[] = {"a.service",         "foo-bar@in\\x2dst.service",
                                            "web.socket",        "x.timer",
                                            "multi-user.target", "t@.service",
                                            "s-a-b.socket",      "p.path"};
        if (size < 1)
                return 0;
        uint8_t ctl = data[0];
        const char *text = (const char *)data + 1;
        size_t len = size - 1;
        struct pk_unit_host host = {.hostname = "h.example", .machine_id = "0123", .kernel = "6"};
        struct pk_unit_opts o = {.flags = (ctl & 1) ? PK_UNIT_STRICT : 0,
                                 .max_line = (ctl & 2) ? 64 : 0,
                                 .max_keys = (ctl & 4) ? 16 : 0,
                                 .host = (ctl & 8) ? &host : NULL};
        const char *name = names[(ctl >> 4) & 7];
        size_t main_len = len;
        const char *drop = NULL;
        size_t drop_len = 0;
        static const char marker[] = "\n--dropin--\n";
        for (size_t i = 0; i + sizeof(marker) - 1 <= len; i++)
                if (memcmp(text + i, marker, sizeof(marker) - 1) == 0) {
                        main_len = i;
                        drop = text + i + sizeof(marker) - 1;
                        drop_len = len - i - (sizeof(marker) - 1);
                        break;
                }
        struct pk_unit *u = NULL;
        struct pk_unit_error e;
        memset(&e, 0, sizeof(e));
        int r = pk_unit_parse(name, "/fuzz/unit", text, main_len, &o, &u, &e);
        if (r < 0) {
                if (r != -ENOMEM && e.message[0] == 0)
                        abort();
                return 0;
        }
        if (drop) {
                memset(&e, 0, sizeof(e));
                r = pk_unit_parse_dropin(u, "/fuzz/drop.conf", drop, drop_len, &o, &e);
                if (r < 0 && r != -ENOMEM && e.message[0] == 0)
                        abort();
        }
        if (r == 0) {
                memset(&e, 0, sizeof(e));
                r = pk_unit_finish(u, &e);
                if (r < 0 && e.message[0] == 0)
                        abort();
        }
        walk(u);
        pk_unit_free(u);
        /* The same bytes as an environment file and as a time span. */
        char **env = NULL;
        if (pk_unit_env_parse(text, len, &env) == 0)
                pk_unit_strv_free(env);
        if (len < 256) {
                char buf[256];
                memcpy(buf, text, len);
                buf[len] = 0;
                uint64_t us;
                (void)pk_unit_timespan_parse(buf, &us);
                (void)pk_unit_signal_parse(buf);
        }
        return 0;
}
