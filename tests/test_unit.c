/* SPDX-License-Identifier: MIT */
/* unit layer: every rule of systemd.syntax(7) portkit implements, each key
 * family on small units, the loader's search/template/drop-in/alias/mask
 * rules on a real directory tree, exec-time expansion and conditions, and the
 * real unmodified unit files of Debian packages (fetched by
 * scripts/unit-fixtures, a CTest fixture). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <portkit/unit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct pk_unit *parse_opts(const char *name, const char *text, const struct pk_unit_opts *o)
{
        struct pk_unit *u = NULL;
        struct pk_unit_error e = {0};
        int r = pk_unit_parse(name, "/test/unit", text, strlen(text), o, &u, &e);
        cr_assert_eq(r, 0, "parse %s: %s (%s:%u %s: %s)", name, pk_strerror(r), e.file, e.line,
                     e.key, e.message);
        r = pk_unit_finish(u, &e);
        cr_assert_eq(r, 0, "finish %s: %s (%s)", name, pk_strerror(r), e.message);
        return u;
}

static struct pk_unit *parse(const char *name, const char *text)
{
        return parse_opts(name, text, NULL);
}

/* Expects a parse (or finish) error; returns it with e filled. */
static int parse_err(const char *name, const char *text, unsigned flags, struct pk_unit_error *e)
{
        struct pk_unit *u = NULL;
        struct pk_unit_opts o = {.flags = flags};
        memset(e, 0, sizeof(*e));
        int r = pk_unit_parse(name, "/test/bad", text, strlen(text), &o, &u, e);
        if (r == 0) {
                r = pk_unit_finish(u, e);
                pk_unit_free(u);
        }
        cr_assert_lt(r, 0, "expected an error for:\n%s", text);
        return r;
}

static const char *warning_keys(const struct pk_unit *u, char *buf, size_t n)
{
        buf[0] = 0;
        for (size_t i = 0; i < u->warnings.n; i++) {
                size_t l = strlen(buf);
                snprintf(buf + l, n - l, "%s%s", l ? "," : "", u->warnings.v[i].key);
        }
        return buf;
}

/* ---- syntax ---------------------------------------------------------------- */

Test(syntax, comments_sections_whitespace)
{
        struct pk_unit *u = parse("a.service", "# comment\n"
                                               "; also a comment\n"
                                               "\n"
                                               "[Unit]\n"
                                               "   Description  =   spaced out value   \n"
                                               "[Service]\r\n"
                                               "ExecStart=/bin/true # not a comment\r\n");
        cr_assert_str_eq(u->description, "spaced out value");
        cr_assert_eq(u->service.exec_start.n, 1);
        cr_assert_eq(u->service.exec_start.v[0].argc, 5);
        cr_assert_str_eq(u->service.exec_start.v[0].argv[1], "#");
        cr_assert_eq(u->warnings.n, 0);
        pk_unit_free(u);
}

Test(syntax, continuation_with_comment_lines)
{
        struct pk_unit *u = parse("a.service", "[Service]\n"
                                               "ExecStart=/bin/echo one \\\n"
                                               "# a comment inside the continuation\n"
                                               "  two\\\n"
                                               "three\n"
                                               "Environment=A=1\\\\\n");
        const struct pk_unit_exec *e = &u->service.exec_start.v[0];
        cr_assert_eq(e->argc, 4);
        cr_assert_str_eq(e->argv[1], "one");
        cr_assert_str_eq(e->argv[2], "two");
        cr_assert_str_eq(e->argv[3], "three");
        /* An escaped backslash at the end does not continue. */
        cr_assert_str_eq(u->exec.environment.v[0], "A=1\\");
        cr_assert_eq(e->line, 2);
        pk_unit_free(u);
}

Test(syntax, continuation_at_eof)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/echo x \\");
        cr_assert_eq(u->service.exec_start.v[0].argc, 2);
        pk_unit_free(u);
}

Test(syntax, repeated_keys_accumulate_and_empty_resets)
{
        struct pk_unit *u = parse("a.service", "[Unit]\n"
                                               "After=a.service b.service\n"
                                               "After=c.service\n"
                                               "Wants=x.service\n"
                                               "Wants=\n"
                                               "Wants=y.service\n"
                                               "Description=first\n"
                                               "Description=second\n"
                                               "[Service]\n"
                                               "ExecStartPre=/bin/a\n"
                                               "ExecStartPre=/bin/b\n"
                                               "ExecStartPre=\n"
                                               "ExecStartPre=/bin/c\n"
                                               "ExecStart=/bin/true\n");
        cr_assert_eq(u->deps.after.n, 3);
        cr_assert_str_eq(u->deps.after.v[2], "c.service");
        cr_assert_null(u->deps.after.v[3]);
        cr_assert_eq(u->deps.wants.n, 1);
        cr_assert_str_eq(u->deps.wants.v[0], "y.service");
        cr_assert_str_eq(u->description, "second");
        cr_assert_eq(u->service.exec_start_pre.n, 1);
        cr_assert_str_eq(u->service.exec_start_pre.v[0].path, "/bin/c");
        pk_unit_free(u);
}

Test(syntax, many_values_grow)
{
        char *text = malloc(200000);
        strcpy(text, "[Unit]\n");
        for (int i = 0; i < 3000; i++)
                sprintf(text + strlen(text), "After=u%d.service\n", i);
        strcat(text, "[Service]\nExecStart=/bin/true\n");
        struct pk_unit *u = parse("a.service", text);
        cr_assert_eq(u->deps.after.n, 3000);
        cr_assert_str_eq(u->deps.after.v[2999], "u2999.service");
        cr_assert_null(u->deps.after.v[3000]);
        pk_unit_free(u);
        free(text);
}

Test(syntax, quoting_and_escapes)
{
        struct pk_unit *u = parse(
            "a.service", "[Service]\n"
                         "Environment=\"A=b c\" 'D=e \"f\"' G=h\\x20i J=k\\tl M=\"n\"o\\u00e9\n"
                         "ExecStart=/bin/echo \"a b\" 'c d' e\\ f \"\\\"q\\\"\" x\"y z\"w\n");
        const struct pk_unit_strv *env = &u->exec.environment;
        cr_assert_eq(env->n, 5);
        cr_assert_str_eq(env->v[0], "A=b c");
        cr_assert_str_eq(env->v[1], "D=e \"f\"");
        cr_assert_str_eq(env->v[2], "G=h i");
        cr_assert_str_eq(env->v[3], "J=k\tl");
        cr_assert_str_eq(env->v[4], "M=no\xc3\xa9");
        const struct pk_unit_exec *e = &u->service.exec_start.v[0];
        cr_assert_eq(e->argc, 6);
        cr_assert_str_eq(e->argv[1], "a b");
        cr_assert_str_eq(e->argv[2], "c d");
        cr_assert_str_eq(e->argv[3], "e f");
        cr_assert_str_eq(e->argv[4], "\"q\"");
        cr_assert_str_eq(e->argv[5], "xy zw");
        pk_unit_free(u);
}

Test(syntax, bad_quoting_is_an_error_with_line)
{
        struct pk_unit_error e;
        int r = parse_err("a.service", "[Service]\n\nExecStart=/bin/echo \"open\n", 0, &e);
        cr_assert_eq(r, PK_EUNITVALUE);
        cr_assert_eq(e.line, 3);
        cr_assert_str_eq(e.key, "ExecStart");
        cr_assert_str_eq(e.file, "/test/bad");
        cr_assert(strstr(e.message, "unbalanced quoting"), "%s", e.message);
        r = parse_err("a.service", "[Service]\nExecStart=/bin/echo \\q\n", 0, &e);
        cr_assert_eq(r, PK_EUNITVALUE);
        cr_assert(strstr(e.message, "escape"), "%s", e.message);
}

Test(syntax, unknown_key_is_a_warning_naming_file_line_and_key)
{
        struct pk_unit *u = parse("a.service", "[Unit]\n"
                                               "Frobnicate=yes\n"
                                               "[Service]\n"
                                               "ExecStart=/bin/true\n"
                                               "Typo=1\n"
                                               "[Bogus]\n"
                                               "Key=v\n"
                                               "[X-Vendor]\n"
                                               "Anything=ok\n"
                                               "[Service]\n"
                                               "X-Custom=ok\n");
        cr_assert_eq(u->warnings.n, 3);
        cr_assert_str_eq(u->warnings.v[0].key, "Frobnicate");
        cr_assert_eq(u->warnings.v[0].line, 2);
        cr_assert_str_eq(u->warnings.v[0].file, "/test/unit");
        cr_assert_str_eq(u->warnings.v[0].section, "Unit");
        cr_assert_str_eq(u->warnings.v[1].key, "Typo");
        cr_assert_eq(u->warnings.v[1].line, 5);
        cr_assert_str_eq(u->warnings.v[2].key, "Key");
        cr_assert_str_eq(u->warnings.v[2].section, "Bogus");
        /* X- extensions are recorded, not warned about. */
        cr_assert_eq(u->not_enforced.n, 2);
        cr_assert_str_eq(u->not_enforced.v[0].key, "Anything");
        cr_assert_str_eq(u->not_enforced.v[1].key, "X-Custom");
        pk_unit_free(u);
}

Test(syntax, strict_mode_makes_unknown_keys_errors)
{
        struct pk_unit_error e;
        int r =
            parse_err("a.service", "[Service]\nExecStart=/bin/true\nTypo=1\n", PK_UNIT_STRICT, &e);
        cr_assert_eq(r, PK_EUNITKEY);
        cr_assert_eq(e.line, 3);
        cr_assert_str_eq(e.key, "Typo");
        r = parse_err("a.service", "[Nope]\nA=b\n", PK_UNIT_STRICT, &e);
        cr_assert_eq(r, PK_EUNITKEY);
        r = parse_err("a.service", "[Service]\nno equals sign\n", PK_UNIT_STRICT, &e);
        cr_assert_eq(r, PK_EUNITSYNTAX);
        r = parse_err("a.service", "A=b\n[Service]\n", PK_UNIT_STRICT, &e);
        cr_assert_eq(r, PK_EUNITSYNTAX);
        cr_assert_eq(e.line, 1);
}

Test(syntax, lenient_mode_warns_for_malformed_lines)
{
        struct pk_unit *u = parse("a.service", "Early=1\n[Service]\nno equals\n=v\n"
                                               "ExecStart=/bin/true\n");
        cr_assert_eq(u->warnings.n, 3);
        cr_assert_eq(u->warnings.v[0].line, 1);
        cr_assert_eq(u->warnings.v[1].line, 3);
        cr_assert_eq(u->warnings.v[2].line, 4);
        pk_unit_free(u);
}

Test(syntax, section_header_and_nul_and_include)
{
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service\nA=b\n", 0, &e), PK_EUNITSYNTAX);
        cr_assert_eq(e.line, 1);
        cr_assert_eq(parse_err("a.service", "[]\n", 0, &e), PK_EUNITSYNTAX);
        const char nul[] = "[Service]\nExecStart=/bin/true\0\n";
        struct pk_unit *u = NULL;
        cr_assert_eq(pk_unit_parse("a.service", NULL, nul, sizeof(nul) - 1, NULL, &u, &e),
                     PK_EUNITSYNTAX);
        cr_assert_eq(parse_err("a.service", ".include /etc/foo\n", 0, &e), PK_EUNITSYNTAX);
}

Test(syntax, limits)
{
        struct pk_unit_error e;
        struct pk_unit *u = NULL;
        struct pk_unit_opts o = {.max_line = 64};
        char line[200];
        snprintf(line, sizeof(line), "[Unit]\nDescription=%0100d\n", 0);
        cr_assert_eq(pk_unit_parse("a.service", "f", line, strlen(line), &o, &u, &e),
                     PK_EUNITLIMIT);
        cr_assert_eq(e.line, 2);
        /* A continuation cannot get around the limit. */
        const char *cont = "[Unit]\nDescription=aaaaaaaaaaaaaaaaaaaaaaaaa\\\n"
                           "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\\\ncccccccccccccccccccccccc\n";
        cr_assert_eq(pk_unit_parse("a.service", "f", cont, strlen(cont), &o, &u, &e),
                     PK_EUNITLIMIT);
        /* Specifiers cannot blow a value up past it either. */
        const char *spec = "[Unit]\nDescription=%n%n%n%n%n%n%n%n%n\n";
        cr_assert_eq(pk_unit_parse("aaaaaaaaaaaaaaaa.service", "f", spec, strlen(spec), &o, &u, &e),
                     PK_EUNITLIMIT);
        struct pk_unit_opts o2 = {.max_file = 10};
        cr_assert_eq(pk_unit_parse("a.service", "f", line, strlen(line), &o2, &u, &e),
                     PK_EUNITLIMIT);
        struct pk_unit_opts o3 = {.max_keys = 3};
        const char *keys = "[Unit]\nAfter=a.service\nAfter=b.service\nAfter=c.service\n"
                           "After=d.service\n";
        cr_assert_eq(pk_unit_parse("a.service", "f", keys, strlen(keys), &o3, &u, &e),
                     PK_EUNITLIMIT);
        cr_assert_eq(e.line, 5);
        /* Drop-ins count against the key limit and have their own. */
        struct pk_unit_opts o4 = {.max_keys = 3, .max_dropins = 1};
        const char *two = "[Unit]\nAfter=a.service\nAfter=b.service\n";
        cr_assert_eq(pk_unit_parse("a.service", "f", two, strlen(two), &o4, &u, &e), 0);
        cr_assert_eq(pk_unit_parse_dropin(u, "d1", "[Unit]\nAfter=c.service\n", 23, &o4, &e), 0);
        cr_assert_eq(pk_unit_parse_dropin(u, "d2", "", 0, &o4, &e), PK_EUNITLIMIT);
        pk_unit_free(u);
}

Test(syntax, invalid_names)
{
        struct pk_unit *u = NULL;
        cr_assert_eq(pk_unit_parse("noext", NULL, "", 0, NULL, &u, NULL), -EINVAL);
        cr_assert_eq(pk_unit_parse("a.target.wants", NULL, "", 0, NULL, &u, NULL), -EINVAL);
        cr_assert_eq(pk_unit_parse("a.Service", NULL, "", 0, NULL, &u, NULL), -EINVAL);
        cr_assert_eq(pk_unit_parse("a b.service", NULL, "", 0, NULL, &u, NULL), -EINVAL);
        cr_assert_eq(pk_unit_parse("a@b@c.service", NULL, "", 0, NULL, &u, NULL), -EINVAL);
        cr_assert_eq(pk_unit_parse("@x.service", NULL, "", 0, NULL, &u, NULL), -EINVAL);
        cr_assert_eq(pk_unit_parse(NULL, NULL, "", 0, NULL, &u, NULL), -EINVAL);
        cr_assert_null(pk_unit_free(NULL));
}

/* ---- Exec lines ------------------------------------------------------------ */

Test(exec, prefixes)
{
        struct pk_unit *u = parse("a.service", "[Service]\n"
                                               "Type=oneshot\n"
                                               "ExecStart=-/bin/a x\n"
                                               "ExecStart=+/bin/b\n"
                                               "ExecStart=!/bin/c\n"
                                               "ExecStart=!!/bin/d\n"
                                               "ExecStart=@/bin/e argv0 arg\n"
                                               "ExecStart=:/bin/f $X\n"
                                               "ExecStart=-@:/bin/g zero\n"
                                               "ExecStart=true\n");
        const struct pk_unit_exec_list *l = &u->service.exec_start;
        cr_assert_eq(l->n, 8);
        cr_assert_eq(l->v[0].flags, PK_UNIT_EXEC_IGNORE_FAILURE);
        cr_assert_str_eq(l->v[0].path, "/bin/a");
        cr_assert_str_eq(l->v[0].argv[0], "/bin/a");
        cr_assert_eq(l->v[1].flags, PK_UNIT_EXEC_PRIVILEGED);
        cr_assert_eq(l->v[2].flags, PK_UNIT_EXEC_NO_SETUID);
        cr_assert_eq(l->v[3].flags, PK_UNIT_EXEC_AMBIENT);
        cr_assert_eq(l->v[4].flags, PK_UNIT_EXEC_ARGV0);
        cr_assert_str_eq(l->v[4].path, "/bin/e");
        cr_assert_eq(l->v[4].argc, 2);
        cr_assert_str_eq(l->v[4].argv[0], "argv0");
        cr_assert_str_eq(l->v[4].argv[1], "arg");
        cr_assert_eq(l->v[5].flags, PK_UNIT_EXEC_NO_EXPAND);
        cr_assert_eq(l->v[6].flags,
                     PK_UNIT_EXEC_IGNORE_FAILURE | PK_UNIT_EXEC_ARGV0 | PK_UNIT_EXEC_NO_EXPAND);
        cr_assert_str_eq(l->v[7].path, "true"); /* a bare name: looked up at exec time */
        cr_assert_eq(l->v[7].line, 10);
        pk_unit_free(u);
}

Test(exec, several_commands_and_semicolons)
{
        struct pk_unit *u = parse("a.service", "[Service]\n"
                                               "ExecStart=/bin/true\n"
                                               "ExecStartPre=/bin/a 1 ; /bin/b \\; \";\" ;\n");
        const struct pk_unit_exec_list *l = &u->service.exec_start_pre;
        cr_assert_eq(l->n, 2);
        cr_assert_eq(l->v[0].argc, 2);
        cr_assert_eq(l->v[1].argc, 3);
        cr_assert_str_eq(l->v[1].argv[1], ";");
        cr_assert_str_eq(l->v[1].argv[2], ";");
        pk_unit_free(u);
}

Test(exec, bad_lines)
{
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nExecStart=bin/x\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nExecStart=-\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nExecStart=+!/bin/x\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nExecStart=--/bin/x\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nExecStart=@/bin/x\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nExecStart=/bin/\n", 0, &e), PK_EUNITVALUE);
}

Test(exec, expansion_as_systemd)
{
        struct pk_unit *u =
            parse("a.service", "[Service]\n"
                               "Type=oneshot\n"
                               "ExecStart=/bin/x $OPTS ${OPTS} pre${ONE}post $$HOME $UNSET "
                               "${UNSET} $ONE/x \"$OPTS\" $ a$b\n"
                               "ExecStart=:/bin/x $OPTS ${ONE}\n");
        const char *env[] = {"OPTS=-a  -b\t-c", "ONE=1", "ONE=2", NULL};
        char **argv = NULL;
        cr_assert_eq(pk_unit_exec_expand(&u->service.exec_start.v[0], env, &argv), 0);
        const char *want[] = {"/bin/x", "-a", "-b", "-c", "-a  -b\t-c", "pre2post", "$HOME", "",
                              /* $ONE/x names "ONE/x": unset, so no word (systemd does this) */
                              "-a", "-b", "-c", "$", "a$b", NULL};
        size_t i = 0;
        for (; argv[i]; i++) {
                cr_assert_not_null(want[i], "extra word %s", argv[i]);
                cr_assert_str_eq(argv[i], want[i], "word %zu", i);
        }
        cr_assert_null(want[i]);
        pk_unit_strv_free(argv);
        cr_assert_eq(pk_unit_exec_expand(&u->service.exec_start.v[1], env, &argv), 0);
        cr_assert_str_eq(argv[1], "$OPTS");
        cr_assert_str_eq(argv[2], "${ONE}");
        cr_assert_null(argv[3]);
        pk_unit_strv_free(argv);
        cr_assert_eq(pk_unit_exec_expand(&u->service.exec_start.v[0], NULL, &argv), 0);
        pk_unit_strv_free(argv);
        pk_unit_free(u);
}

/* ---- specifiers ------------------------------------------------------------- */

Test(specifiers, unit_names_and_paths)
{
        struct pk_unit *u = parse("foo-bar@a-b\\x2dc.service",
                                  "[Unit]\n"
                                  "Description=%n|%N|%p|%P|%i|%I|%j|%J|%f|%%|%y|%Y\n"
                                  "Documentation=%u %U %g %G %h %s %t %S %C %L %E %T %V\n"
                                  "[Service]\nExecStart=/bin/echo %i\n");
        cr_assert_str_eq(u->description,
                         "foo-bar@a-b\\x2dc.service|foo-bar@a-b\\x2dc|foo-bar|"
                         "foo/bar|a-b\\x2dc|a/b-c|bar|bar|/a/b-c|%|/test/unit|/test");
        const char *docs[] = {"root",    "0",    "root",     "0",          "/root",
                              "/bin/sh", "/run", "/var/lib", "/var/cache", "/var/log",
                              "/etc",    "/tmp", "/var/tmp"};
        cr_assert_eq(u->documentation.n, 13);
        for (size_t i = 0; i < 13; i++)
                cr_assert_str_eq(u->documentation.v[i], docs[i]);
        cr_assert_str_eq(u->service.exec_start.v[0].argv[1], "a-b\\x2dc");
        cr_assert_str_eq(u->template_name, "foo-bar@.service");
        cr_assert_str_eq(u->instance, "a-b\\x2dc");
        pk_unit_free(u);
}

Test(specifiers, template_itself_has_empty_instance)
{
        struct pk_unit *u = parse("foo@.service", "[Unit]\nDescription=[%i]\n"
                                                  "[Service]\nExecStart=/bin/true\n");
        cr_assert_str_eq(u->description, "[]");
        cr_assert_null(u->instance);
        pk_unit_free(u);
}

Test(specifiers, host_values)
{
        struct pk_unit_host h = {.hostname = "web1.example.org",
                                 .machine_id = "0123456789abcdef0123456789abcdef",
                                 .boot_id = "b00t",
                                 .kernel = "6.1.0",
                                 .arch = "x86-64",
                                 .os_id = "debian",
                                 .os_version = "12"};
        struct pk_unit_opts o = {.host = &h};
        struct pk_unit *u = parse_opts("a.service",
                                       "[Unit]\nDescription=%H %l %m %b %v %a %o %w [%W] %q\n"
                                       "[Service]\nExecStart=/bin/true\n",
                                       &o);
        cr_assert_str_eq(u->description, "web1.example.org web1 0123456789abcdef0123456789abcdef "
                                         "b00t 6.1.0 x86-64 debian 12 [] web1.example.org");
        pk_unit_free(u);
}

Test(specifiers, errors_are_clear)
{
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Unit]\nDescription=%z\n", 0, &e), PK_EUNITSPEC);
        cr_assert(strstr(e.message, "unknown specifier %z"), "%s", e.message);
        cr_assert_eq(e.line, 2);
        cr_assert_eq(parse_err("a.service", "[Unit]\nDescription=%H\n", 0, &e), PK_EUNITSPEC);
        cr_assert(strstr(e.message, "%H"), "%s", e.message);
        cr_assert(strstr(e.message, "pk_unit_host"), "%s", e.message);
        cr_assert_eq(parse_err("a.service", "[Unit]\nDescription=100%\n", 0, &e), PK_EUNITSPEC);
        cr_assert_eq(parse_err("a@b\\q.service", "[Unit]\nDescription=%I\n", 0, &e), PK_EUNITSPEC);
        cr_assert(strstr(e.message, "escape"), "%s", e.message);
        /* Not-enforced keys are recorded raw, so their specifiers never fail. */
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n"
                                               "ReadWritePaths=/var/%z\n");
        cr_assert_str_eq(u->not_enforced.v[0].value, "/var/%z");
        pk_unit_free(u);
}

/* %d: systemd 252's credentials directory, /run/credentials/<unit name>,
 * whether or not the unit has credentials (unit-printf.c). */
Test(specifiers, credentials_directory)
{
        struct pk_unit *u = parse("web@blue.service", "[Unit]\nDescription=%d\n"
                                                      "[Service]\nExecStart=/bin/cat %d/key\n");
        cr_assert_str_eq(u->description, "/run/credentials/web@blue.service");
        cr_assert_str_eq(u->service.exec_start.v[0].argv[1],
                         "/run/credentials/web@blue.service/key");
        pk_unit_free(u);
}

Test(specifiers, probe_fills_this_host)
{
        struct pk_unit_host h;
        char buf[4096];
        cr_assert_eq(pk_unit_host_probe(&h, buf, sizeof(buf)), 0);
        cr_assert_not_null(h.hostname);
        cr_assert_not_null(h.kernel);
        cr_assert_not_null(h.arch);
        char small[4];
        cr_assert_eq(pk_unit_host_probe(&h, small, sizeof(small)), -ENOBUFS);
}

/* ---- value syntaxes -------------------------------------------------------- */

Test(values, timespans)
{
        struct {
                const char *s;
                uint64_t us;
        } ok[] = {{"1min 30s", 90000000},
                  {"90", 90000000},
                  {"500ms", 500000},
                  {"1.5s", 1500000},
                  {"2h", 7200000000ULL},
                  {"1d 1h", 90000000000ULL},
                  {"infinity", UINT64_MAX},
                  {"  3 min ", 180000000},
                  {"10us", 10},
                  {"1m", 60000000},
                  {"1M", 2629800000000ULL},
                  {"5min2s", 302000000},
                  {"0", 0},
                  {"1w", 604800000000ULL}};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                uint64_t v = 0;
                cr_assert_eq(pk_unit_timespan_parse(ok[i].s, &v), 0, "%s", ok[i].s);
                cr_assert_eq(v, ok[i].us, "%s: %llu", ok[i].s, (unsigned long long)v);
        }
        const char *bad[] = {"",    "x", "5x",        "1..5s",
                             "-1s", "s", "infinityx", "99999999999999999999"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint64_t v;
                cr_assert_lt(pk_unit_timespan_parse(bad[i], &v), 0, "%s", bad[i]);
        }
}

Test(values, signals)
{
        cr_assert_eq(pk_unit_signal_parse("SIGTERM"), SIGTERM);
        cr_assert_eq(pk_unit_signal_parse("TERM"), SIGTERM);
        cr_assert_eq(pk_unit_signal_parse("9"), 9);
        cr_assert_eq(pk_unit_signal_parse("SIGRTMIN+2"), SIGRTMIN + 2);
        cr_assert_eq(pk_unit_signal_parse("SIGRTMAX-1"), SIGRTMAX - 1);
        cr_assert_eq(pk_unit_signal_parse("SIGFOO"), -EINVAL);
        cr_assert_eq(pk_unit_signal_parse("0"), -EINVAL);
        cr_assert_eq(pk_unit_signal_parse("65"), -EINVAL);
}

Test(values, name_unescape)
{
        char *s = NULL;
        cr_assert_eq(pk_unit_name_unescape("a-b\\x2dc", &s), 0);
        cr_assert_str_eq(s, "a/b-c");
        free(s);
        cr_assert_eq(pk_unit_name_unescape("bad\\q", &s), -EINVAL);
}

/* ---- key families ---------------------------------------------------------- */

Test(keys, type_defaults_and_validation)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n");
        cr_assert_eq(u->service.type, PK_UNIT_TYPE_SIMPLE);
        cr_assert_eq(u->service.timeout_start_ms, 90000);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStop=/bin/true\n");
        cr_assert_eq(u->service.type, PK_UNIT_TYPE_ONESHOT);
        cr_assert_eq(u->service.timeout_start_ms, PK_UNIT_INFINITY);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nType=notify\nExecStart=/bin/true\nWatchdogSec=30s\n");
        cr_assert_eq(u->service.type, PK_UNIT_TYPE_NOTIFY);
        cr_assert_eq(u->service.notify_access, PK_UNIT_NOTIFY_MAIN);
        cr_assert_eq(u->service.watchdog_ms, 30000);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/true\n");
        cr_assert_eq(u->service.notify_access, PK_UNIT_NOTIFY_ALL);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nType=forking\nPIDFile=a/b.pid\nExecStart=/bin/true\n"
                               "GuessMainPID=no\n");
        cr_assert_eq(u->service.type, PK_UNIT_TYPE_FORKING);
        cr_assert_str_eq(u->service.pid_file, "/run/a/b.pid");
        cr_assert_not(u->service.guess_main_pid);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
                               "ExecStart=/bin/a\nExecStart=/bin/b\n");
        cr_assert(u->service.remain_after_exit);
        cr_assert_eq(u->service.exec_start.n, 2);
        pk_unit_free(u);
        const char *types[] = {"simple", "exec", "forking", "oneshot", "notify", "dbus", "idle"};
        for (int i = 0; i < 7; i++) {
                char t[128];
                snprintf(t, sizeof(t), "[Service]\nType=%s\nExecStart=/bin/true\n", types[i]);
                u = parse("a.service", t);
                cr_assert_eq((int)u->service.type, i);
                pk_unit_free(u);
        }
        u = parse("a.service", "[Service]\nBusName=org.example.A\nExecStart=/bin/true\n");
        cr_assert_eq(u->service.type, PK_UNIT_TYPE_DBUS);
        cr_assert_str_eq(u->service.bus_name, "org.example.A");
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nType=bogus\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nType=simple\n", 0, &e), PK_EUNITVALUE);
        cr_assert(strstr(e.message, "ExecStart"), "%s", e.message);
        cr_assert_eq(parse_err("a.service", "[Service]\nExecStart=/a\nExecStart=/b\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(e.line, 3);
        cr_assert_eq(parse_err("a.service",
                               "[Service]\nType=oneshot\nRestart=always\n"
                               "ExecStart=/a\n",
                               0, &e),
                     PK_EUNITVALUE);
}

Test(keys, exec_families)
{
        struct pk_unit *u = parse("a.service", "[Service]\n"
                                               "ExecCondition=/bin/c\n"
                                               "ExecStartPre=/bin/p\n"
                                               "ExecStart=/bin/s\n"
                                               "ExecStartPost=/bin/pp\n"
                                               "ExecReload=/bin/kill -HUP $MAINPID\n"
                                               "ExecStop=/bin/st\n"
                                               "ExecStopPost=/bin/sp\n");
        const struct pk_unit_service *s = &u->service;
        cr_assert_str_eq(s->exec_condition.v[0].path, "/bin/c");
        cr_assert_str_eq(s->exec_start_pre.v[0].path, "/bin/p");
        cr_assert_str_eq(s->exec_start_post.v[0].path, "/bin/pp");
        cr_assert_str_eq(s->exec_reload.v[0].argv[2], "$MAINPID");
        cr_assert_str_eq(s->exec_stop.v[0].path, "/bin/st");
        cr_assert_str_eq(s->exec_stop_post.v[0].path, "/bin/sp");
        const char *env[] = {"MAINPID=42", NULL};
        char **argv;
        cr_assert_eq(pk_unit_exec_expand(&s->exec_reload.v[0], env, &argv), 0);
        cr_assert_str_eq(argv[2], "42");
        pk_unit_strv_free(argv);
        pk_unit_free(u);
}

Test(keys, restart_and_timeouts)
{
        struct pk_unit *u = parse("a.service", "[Unit]\n"
                                               "StartLimitIntervalSec=1min\n"
                                               "StartLimitBurst=3\n"
                                               "[Service]\n"
                                               "ExecStart=/bin/true\n"
                                               "Restart=on-failure\n"
                                               "RestartSec=1min 30s\n"
                                               "RestartSteps=3\n"
                                               "RestartMaxDelaySec=5min\n"
                                               "TimeoutStartSec=infinity\n"
                                               "TimeoutStopSec=0\n"
                                               "RuntimeMaxSec=1h\n"
                                               "SuccessExitStatus=3 SIGUSR1 255\n"
                                               "RestartPreventExitStatus=255\n"
                                               "RestartForceExitStatus=SIGKILL 7\n"
                                               "RestartForceExitStatus=\n"
                                               "RestartForceExitStatus=8\n");
        const struct pk_unit_service *s = &u->service;
        cr_assert_eq(u->start_limit_interval_ms, 60000);
        cr_assert_eq(u->start_limit_burst, 3);
        cr_assert_eq(s->restart, PK_UNIT_RESTART_ON_FAILURE);
        cr_assert_eq(s->restart_ms, 90000);
        cr_assert_eq(s->restart_steps, 3);
        cr_assert_eq(s->restart_max_delay_ms, 300000);
        cr_assert_eq(s->timeout_start_ms, PK_UNIT_INFINITY);
        cr_assert_eq(s->timeout_stop_ms, PK_UNIT_INFINITY);
        cr_assert_eq(s->timeout_abort_ms, PK_UNIT_INFINITY);
        cr_assert_eq(s->runtime_max_ms, 3600000);
        cr_assert(pk_unit_status_has(&s->success_exit_status, 3, 0));
        cr_assert(pk_unit_status_has(&s->success_exit_status, 255, 0));
        cr_assert(pk_unit_status_has(&s->success_exit_status, 0, SIGUSR1));
        cr_assert_not(pk_unit_status_has(&s->success_exit_status, 4, 0));
        cr_assert(pk_unit_status_has(&s->restart_prevent_exit_status, 255, 0));
        cr_assert_not(pk_unit_status_has(&s->restart_force_exit_status, 7, 0));
        cr_assert_not(pk_unit_status_has(&s->restart_force_exit_status, 0, SIGKILL));
        cr_assert(pk_unit_status_has(&s->restart_force_exit_status, 8, 0));
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nTimeoutSec=5\n"
                               "TimeoutAbortSec=2s\nStartLimitInterval=3s\n");
        cr_assert_eq(u->service.timeout_start_ms, 5000);
        cr_assert_eq(u->service.timeout_stop_ms, 5000);
        cr_assert_eq(u->service.timeout_abort_ms, 2000);
        cr_assert_eq(u->start_limit_interval_ms, 3000);
        pk_unit_free(u);
        const char *r[] = {"no",          "on-success", "on-failure", "on-abnormal",
                           "on-watchdog", "on-abort",   "always"};
        for (int i = 0; i < 7; i++) {
                char t[128];
                snprintf(t, sizeof(t), "[Service]\nRestart=%s\nExecStart=/bin/true\n", r[i]);
                u = parse("a.service", t);
                cr_assert_eq((int)u->service.restart, i);
                pk_unit_free(u);
        }
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nRestartSec=soon\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nSuccessExitStatus=256\n", 0, &e),
                     PK_EUNITVALUE);
}

Test(keys, kill)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n");
        cr_assert_eq(u->kill.mode, PK_UNIT_KILL_CONTROL_GROUP);
        cr_assert_eq(u->kill.signal, SIGTERM);
        cr_assert_eq(u->kill.restart_signal, SIGTERM);
        cr_assert_eq(u->kill.final_signal, SIGKILL);
        cr_assert_eq(u->kill.watchdog_signal, SIGABRT);
        cr_assert(u->kill.send_sigkill);
        cr_assert_not(u->kill.send_sighup);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nKillMode=mixed\n"
                               "KillSignal=SIGINT\nFinalKillSignal=SIGQUIT\nSendSIGKILL=no\n"
                               "SendSIGHUP=yes\nWatchdogSignal=SIGUSR2\n");
        cr_assert_eq(u->kill.mode, PK_UNIT_KILL_MIXED);
        cr_assert_eq(u->kill.signal, SIGINT);
        cr_assert_eq(u->kill.restart_signal, SIGINT); /* defaults to KillSignal= */
        cr_assert_eq(u->kill.final_signal, SIGQUIT);
        cr_assert_eq(u->kill.watchdog_signal, SIGUSR2);
        cr_assert_not(u->kill.send_sigkill);
        cr_assert(u->kill.send_sighup);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nKillMode=process\n"
                               "RestartKillSignal=SIGHUP\n");
        cr_assert_eq(u->kill.mode, PK_UNIT_KILL_PROCESS);
        cr_assert_eq(u->kill.restart_signal, SIGHUP);
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nKillSignal=SIGNOPE\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nKillMode=all\n", 0, &e), PK_EUNITVALUE);
}

Test(keys, credentials_and_capabilities)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n"
                                               "User=www-data\nGroup=1000\n"
                                               "SupplementaryGroups=adm ssl-cert\n"
                                               "SupplementaryGroups=audio\n"
                                               "DynamicUser=yes\nNoNewPrivileges=true\n"
                                               "CapabilityBoundingSet=CAP_SETUID CAP_SETGID\n"
                                               "CapabilityBoundingSet=cap_net_bind_service\n"
                                               "AmbientCapabilities=CAP_NET_BIND_SERVICE\n");
        const struct pk_unit_exec_ctx *x = &u->exec;
        cr_assert_str_eq(x->user, "www-data");
        cr_assert_str_eq(x->group, "1000");
        cr_assert_eq(x->supplementary_groups.n, 3);
        cr_assert(x->dynamic_user);
        cr_assert(x->no_new_privileges);
        cr_assert(x->bounding_set_set);
        cr_assert_eq(x->capability_bounding_set, (1ULL << 6) | (1ULL << 7) | (1ULL << 10));
        cr_assert_eq(x->ambient_capabilities, 1ULL << 10);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nCapabilityBoundingSet=\n");
        cr_assert(u->exec.bounding_set_set);
        cr_assert_eq(u->exec.capability_bounding_set, 0);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\n"
                               "CapabilityBoundingSet=~CAP_SYS_ADMIN CAP_SYS_PTRACE\n");
        cr_assert_eq(u->exec.capability_bounding_set,
                     ((1ULL << 41) - 1) & ~((1ULL << 21) | (1ULL << 19)));
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nCapabilityBoundingSet=CAP_FLY\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nUser=a b\n", 0, &e), PK_EUNITVALUE);
}

Test(keys, environment)
{
        char dir[] = "/tmp/pk_unit_envXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char f1[256], f2[256];
        snprintf(f1, sizeof(f1), "%s/one", dir);
        snprintf(f2, sizeof(f2), "%s/two", dir);
        FILE *fp = fopen(f1, "w");
        fputs("# comment\n; another\nA=from file\nB=\"quoted \\\"x\\\" $y\"  \nC='single $z'\n"
              "D=multi\\\nline\nE=trailing   \nnot an assignment\n1BAD=x\nexport F=1\n",
              fp);
        fclose(fp);
        fp = fopen(f2, "w");
        fputs("G=2\n", fp);
        fclose(fp);
        char text[1024];
        snprintf(text, sizeof(text),
                 "[Service]\nExecStart=/bin/true\n"
                 "Environment=A=unit K=unit\n"
                 "EnvironmentFile=%s\n"
                 "EnvironmentFile=-%s/missing\n"
                 "EnvironmentFile=%s\n"
                 "PassEnvironment=HOME NOPE\n"
                 "UnsetEnvironment=G K=other\n",
                 f1, dir, f2);
        struct pk_unit *u = parse("a.service", text);
        cr_assert_eq(u->exec.environment_files.n, 3);
        cr_assert(u->exec.environment_files.v[1].optional);
        const char *base[] = {"PATH=/usr/bin", "A=base", NULL};
        const char *mgr[] = {"HOME=/root", "SECRET=x", NULL};
        char **env = NULL;
        struct pk_unit_error e;
        cr_assert_eq(pk_unit_environment(u, base, mgr, &env, &e), 0, "%s", e.message);
        const char *want[] = {"PATH=/usr/bin", "A=from file",       "HOME=/root",
                              "K=unit",        "B=quoted \"x\" $y", "C=single $z",
                              "D=multiline",   "E=trailing",        NULL};
        size_t i = 0;
        for (; env[i]; i++) {
                cr_assert_not_null(want[i], "extra %s", env[i]);
                cr_assert_str_eq(env[i], want[i]);
        }
        cr_assert_null(want[i]);
        pk_unit_strv_free(env);
        pk_unit_free(u);
        /* A missing mandatory file is an error naming it. */
        snprintf(text, sizeof(text), "[Service]\nExecStart=/bin/true\nEnvironmentFile=%s/nope\n",
                 dir);
        u = parse("a.service", text);
        cr_assert_eq(pk_unit_environment(u, NULL, NULL, &env, &e), -ENOENT);
        cr_assert(strstr(e.file, "/nope"));
        pk_unit_free(u);
        unlink(f1);
        unlink(f2);
        rmdir(dir);
        cr_assert_eq(parse_err("a.service", "[Service]\nEnvironment=NOEQUALS\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nEnvironmentFile=relative\n", 0, &e),
                     PK_EUNITVALUE);
}

Test(keys, process_settings)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n"
                                               "WorkingDirectory=-/srv/app\n"
                                               "RootDirectory=/chroot\n"
                                               "UMask=0077\nNice=-5\nOOMScoreAdjust=-900\n"
                                               "IOSchedulingClass=best-effort\n"
                                               "IOSchedulingPriority=7\n"
                                               "CPUSchedulingPolicy=rr\n"
                                               "CPUSchedulingPriority=10\n"
                                               "CPUSchedulingResetOnFork=yes\n"
                                               "IgnoreSIGPIPE=false\n"
                                               "SyslogIdentifier=app-%p\n");
        const struct pk_unit_exec_ctx *x = &u->exec;
        cr_assert_str_eq(x->working_directory, "/srv/app");
        cr_assert(x->working_directory_optional);
        cr_assert_str_eq(x->root_directory, "/chroot");
        cr_assert_eq(x->umask, 077);
        cr_assert(x->nice_set);
        cr_assert_eq(x->nice, -5);
        cr_assert(x->oom_score_adjust_set);
        cr_assert_eq(x->oom_score_adjust, -900);
        cr_assert_eq(x->io_class, 2);
        cr_assert_eq(x->io_priority, 7);
        cr_assert_eq(x->cpu_policy, 2 /* SCHED_RR */);
        cr_assert_eq(x->cpu_priority, 10);
        cr_assert(x->cpu_reset_on_fork);
        cr_assert_not(x->ignore_sigpipe);
        cr_assert_str_eq(x->syslog_identifier, "app-a");
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nWorkingDirectory=~\n");
        cr_assert(u->exec.working_directory_home);
        cr_assert_null(u->exec.working_directory);
        cr_assert_eq(u->exec.umask, 022);
        cr_assert_not(u->exec.nice_set);
        cr_assert_eq(u->exec.io_class, -1);
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nNice=20\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nOOMScoreAdjust=-1001\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nUMask=0999\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nWorkingDirectory=rel\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nIOSchedulingPriority=8\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nCPUSchedulingPolicy=fast\n", 0, &e),
                     PK_EUNITVALUE);
}

Test(keys, limits_every_kind)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n"
                                               "LimitCPU=1min\nLimitFSIZE=1G\nLimitDATA=infinity\n"
                                               "LimitSTACK=8M:16M\nLimitCORE=0\nLimitRSS=512K\n"
                                               "LimitNPROC=100:infinity\nLimitNOFILE=65535\n"
                                               "LimitMEMLOCK=64K\nLimitAS=4G\nLimitLOCKS=10\n"
                                               "LimitSIGPENDING=20\nLimitMSGQUEUE=800K\n"
                                               "LimitNICE=-5\nLimitRTPRIO=50\nLimitRTTIME=2s\n");
        const struct pk_unit_rlimit *l = u->exec.limits;
        cr_assert(l[RLIMIT_CPU].set);
        cr_assert_eq(l[RLIMIT_CPU].soft, 60);
        cr_assert_eq(l[RLIMIT_FSIZE].soft, 1ULL << 30);
        cr_assert_eq(l[RLIMIT_DATA].hard, PK_UNIT_INFINITY);
        cr_assert_eq(l[RLIMIT_STACK].soft, 8ULL << 20);
        cr_assert_eq(l[RLIMIT_STACK].hard, 16ULL << 20);
        cr_assert_eq(l[RLIMIT_CORE].soft, 0);
        cr_assert(l[RLIMIT_CORE].set);
        cr_assert_eq(l[RLIMIT_RSS].soft, 512 << 10);
        cr_assert_eq(l[RLIMIT_NPROC].soft, 100);
        cr_assert_eq(l[RLIMIT_NPROC].hard, PK_UNIT_INFINITY);
        cr_assert_eq(l[RLIMIT_NOFILE].soft, 65535);
        cr_assert_eq(l[RLIMIT_NOFILE].hard, 65535);
        cr_assert_eq(l[RLIMIT_MEMLOCK].soft, 64 << 10);
        cr_assert_eq(l[RLIMIT_AS].soft, 4ULL << 30);
        cr_assert_eq(l[RLIMIT_LOCKS].soft, 10);
        cr_assert_eq(l[RLIMIT_SIGPENDING].soft, 20);
        cr_assert_eq(l[RLIMIT_MSGQUEUE].soft, 800 << 10);
        cr_assert_eq(l[RLIMIT_NICE].soft, 25);
        cr_assert_eq(l[RLIMIT_RTPRIO].soft, 50);
        cr_assert_eq(l[RLIMIT_RTTIME].soft, 2000000);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nLimitNOFILE=10\nLimitNOFILE=\n"
                               "LimitNICE=30\nLimitRTTIME=500\n");
        cr_assert_not(u->exec.limits[RLIMIT_NOFILE].set);
        cr_assert_eq(u->exec.limits[RLIMIT_NICE].soft, 30);
        cr_assert_eq(u->exec.limits[RLIMIT_RTTIME].soft, 500);
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nLimitNOFILE=20:10\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nLimitNOFILE=lots\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nLimitNICE=41\n", 0, &e), PK_EUNITVALUE);
}

Test(keys, directories)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n"
                                               "RuntimeDirectory=app app/sub\n"
                                               "RuntimeDirectoryMode=2755\n"
                                               "RuntimeDirectoryPreserve=restart\n"
                                               "StateDirectory=app\nStateDirectoryMode=0700\n"
                                               "CacheDirectory=app\nLogsDirectory=app\n"
                                               "ConfigurationDirectory=app\n");
        const struct pk_unit_dirs *d = u->exec.dirs;
        cr_assert_eq(d[PK_UNIT_DIR_RUNTIME].names.n, 2);
        cr_assert_str_eq(d[PK_UNIT_DIR_RUNTIME].names.v[1], "app/sub");
        cr_assert_eq(d[PK_UNIT_DIR_RUNTIME].mode, 02755);
        cr_assert_eq(u->exec.runtime_directory_preserve, 2);
        cr_assert_eq(d[PK_UNIT_DIR_STATE].mode, 0700);
        cr_assert_eq(d[PK_UNIT_DIR_CACHE].mode, 0755);
        cr_assert_str_eq(d[PK_UNIT_DIR_LOGS].names.v[0], "app");
        cr_assert_str_eq(d[PK_UNIT_DIR_CONFIGURATION].names.v[0], "app");
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nStateDirectory=/abs\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nStateDirectory=../up\n", 0, &e),
                     PK_EUNITVALUE);
}

/* StandardInputText= (C escapes, then specifiers, a newline each) and
 * StandardInputData= (base64, joined as they are) fill one buffer in file
 * order; an empty assignment of either empties it; with data and no other
 * StandardInput= the input is data (systemd's service_fix_stdio()). */
Test(keys, standard_input_data)
{
        struct pk_unit *u = parse("a@x.service", "[Service]\nExecStart=/bin/cat\n"
                                                 "StandardInputText=  tab\\there %i  \n"
                                                 "StandardInputData=AAEC\n"
                                                 "StandardInputData=  aGVs \\\n  bG8=\n"
                                                 "StandardInputText=\\x25i\n");
        cr_assert_eq(u->exec.std_input.kind, PK_UNIT_STDIO_DATA);
        static const char want[] = "tab\there x\n\0\1\2hello"
                                   "x\n";
        cr_assert_eq(u->exec.input_data_len, sizeof(want) - 1, "%zu", u->exec.input_data_len);
        cr_assert(memcmp(u->exec.input_data, want, sizeof(want) - 1) == 0);
        cr_assert_eq(u->not_enforced.n, 0);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/cat\nStandardInputData=AAEC\n"
                               "StandardInputData=\nStandardInputText=z\n");
        cr_assert_eq(u->exec.input_data_len, 2);
        cr_assert(memcmp(u->exec.input_data, "z\n", 2) == 0);
        pk_unit_free(u);
        /* An explicit other kind stays; empty data leaves null. */
        u = parse("a.service", "[Service]\nExecStart=/bin/cat\nStandardInput=file:/etc/motd\n"
                               "StandardInputText=a\n");
        cr_assert_eq(u->exec.std_input.kind, PK_UNIT_STDIO_FILE);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/cat\nStandardInputText=a\n"
                               "StandardInputText=\n");
        cr_assert_eq(u->exec.std_input.kind, PK_UNIT_STDIO_NULL);
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nStandardInputData=a$b=\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert(strstr(e.message, "base64"), "%s", e.message);
        cr_assert_eq(parse_err("a.service", "[Service]\nStandardInputText=a\\qb\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nStandardInputText=a\\x00\n", 0, &e),
                     PK_EUNITVALUE);
        /* the buffer is limited like a file */
        struct pk_unit_opts o = {.max_file = 64};
        struct pk_unit *big = NULL;
        cr_assert_eq(pk_unit_parse("a.service", NULL,
                                   "[Service]\nStandardInputText=0123456789012345678901234567\n"
                                   "StandardInputText=0123456789012345678901234567\n",
                                   2 * 47 + 10, &o, &big, &e),
                     PK_EUNITLIMIT, "%s", e.message);
}

/* ExecSearchPath=: absolute directories split at ':', specifiers in each,
 * lines append, an empty line resets. */
Test(keys, exec_search_path)
{
        struct pk_unit *u = parse("a@x.service", "[Service]\nExecStart=tool\n"
                                                 "ExecSearchPath=/opt/%i/bin:/usr/bin\n"
                                                 "ExecSearchPath=/srv\n");
        cr_assert_eq(u->exec.exec_search_path.n, 3);
        cr_assert_str_eq(u->exec.exec_search_path.v[0], "/opt/x/bin");
        cr_assert_str_eq(u->exec.exec_search_path.v[1], "/usr/bin");
        cr_assert_str_eq(u->exec.exec_search_path.v[2], "/srv");
        cr_assert_null(u->exec.exec_search_path.v[3]);
        cr_assert_eq(u->not_enforced.n, 0);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=tool\nExecSearchPath=/a\nExecSearchPath=\n"
                               "ExecSearchPath=/b\n");
        cr_assert_eq(u->exec.exec_search_path.n, 1);
        cr_assert_str_eq(u->exec.exec_search_path.v[0], "/b");
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nExecSearchPath=/a:bin\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nExecSearchPath=/a::/b\n", 0, &e),
                     PK_EUNITVALUE);
        /* the PATH the service gets, unless the unit sets one */
        u = parse("a.service", "[Service]\nExecStart=tool\nExecSearchPath=/a:/b\n");
        const char *base[] = {"PATH=/usr/bin:/bin", NULL};
        char **env = NULL;
        cr_assert_eq(pk_unit_environment(u, base, NULL, &env, NULL), 0);
        cr_assert_str_eq(env[0], "PATH=/a:/b");
        pk_unit_strv_free(env);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=tool\nExecSearchPath=/a\n"
                               "Environment=PATH=/mine\n");
        cr_assert_eq(pk_unit_environment(u, base, NULL, &env, NULL), 0);
        cr_assert_str_eq(env[0], "PATH=/mine");
        pk_unit_strv_free(env);
        pk_unit_free(u);
}

Test(keys, standard_streams)
{
        struct pk_unit *u = parse("a.service", "[Service]\nExecStart=/bin/true\n");
        cr_assert_eq(u->exec.std_input.kind, PK_UNIT_STDIO_NULL);
        cr_assert_eq(u->exec.std_output.kind, PK_UNIT_STDIO_JOURNAL);
        cr_assert_eq(u->exec.std_error.kind, PK_UNIT_STDIO_INHERIT);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nStandardInput=file:/etc/motd\n"
                               "StandardOutput=append:/var/log/a.log\n"
                               "StandardError=truncate:/var/log/a.err\n");
        cr_assert_eq(u->exec.std_input.kind, PK_UNIT_STDIO_FILE);
        cr_assert_str_eq(u->exec.std_input.path, "/etc/motd");
        cr_assert_eq(u->exec.std_output.kind, PK_UNIT_STDIO_APPEND);
        cr_assert_str_eq(u->exec.std_output.path, "/var/log/a.log");
        cr_assert_eq(u->exec.std_error.kind, PK_UNIT_STDIO_TRUNCATE);
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nStandardInput=socket\n"
                               "StandardOutput=syslog\nStandardError=fd:logs\n"
                               "TTYPath=/dev/tty1\n");
        cr_assert_eq(u->exec.std_input.kind, PK_UNIT_STDIO_SOCKET);
        cr_assert_eq(u->exec.std_output.kind, PK_UNIT_STDIO_JOURNAL);
        cr_assert_eq(u->exec.std_error.kind, PK_UNIT_STDIO_FD);
        cr_assert_str_eq(u->exec.std_error.path, "logs");
        cr_assert_str_eq(u->exec.tty_path, "/dev/tty1");
        pk_unit_free(u);
        u = parse("a.service", "[Service]\nExecStart=/bin/true\nStandardInput=data\n"
                               "StandardInputText=hello\nStandardInputText=world\n"
                               "StandardOutput=null\nStandardError=inherit\n");
        cr_assert_eq(u->exec.std_input.kind, PK_UNIT_STDIO_DATA);
        cr_assert_eq(u->exec.input_data_len, 12);
        cr_assert(memcmp(u->exec.input_data, "hello\nworld\n", 12) == 0);
        cr_assert_eq(u->exec.std_output.kind, PK_UNIT_STDIO_NULL);
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nStandardInput=append:/x\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nStandardOutput=file:rel\n", 0, &e),
                     PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nStandardOutput=console\n", 0, &e),
                     PK_EUNITVALUE);
}

Test(keys, dependencies_and_install)
{
        struct pk_unit *u = parse("a@x.service", "[Unit]\n"
                                                 "After=b.service\nBefore=c.service\n"
                                                 "Requires=d.service\nWants=e@%i.service\n"
                                                 "BindsTo=f.service\nPartOf=g.service\n"
                                                 "Requisite=h.service\nConflicts=i.service\n"
                                                 "OnFailure=j.service\nOnSuccess=k.service\n"
                                                 "Upholds=l.service\n"
                                                 "PropagatesReloadTo=m.service\n"
                                                 "ReloadPropagatedFrom=n.service\n"
                                                 "RequiresMountsFor=/var/%i /srv\n"
                                                 "DefaultDependencies=no\n"
                                                 "RefuseManualStart=yes\nRefuseManualStop=yes\n"
                                                 "StopWhenUnneeded=yes\nAllowIsolate=yes\n"
                                                 "[Service]\nExecStart=/bin/true\n"
                                                 "[Install]\nWantedBy=multi-user.target\n"
                                                 "RequiredBy=r.target\nUpheldBy=u.target\n"
                                                 "Alias=alias.service\nAlso=also.socket\n"
                                                 "DefaultInstance=main\n");
        const struct pk_unit_deps *d = &u->deps;
        cr_assert_str_eq(d->after.v[0], "b.service");
        cr_assert_str_eq(d->before.v[0], "c.service");
        cr_assert_str_eq(d->requires_units.v[0], "d.service");
        cr_assert_str_eq(d->wants.v[0], "e@x.service");
        cr_assert_str_eq(d->binds_to.v[0], "f.service");
        cr_assert_str_eq(d->part_of.v[0], "g.service");
        cr_assert_str_eq(d->requisite.v[0], "h.service");
        cr_assert_str_eq(d->conflicts.v[0], "i.service");
        cr_assert_str_eq(d->on_failure.v[0], "j.service");
        cr_assert_str_eq(d->on_success.v[0], "k.service");
        cr_assert_str_eq(d->upholds.v[0], "l.service");
        cr_assert_str_eq(d->propagates_reload_to.v[0], "m.service");
        cr_assert_str_eq(d->reload_propagated_from.v[0], "n.service");
        cr_assert_str_eq(d->requires_mounts_for.v[0], "/var/x");
        cr_assert_str_eq(d->requires_mounts_for.v[1], "/srv");
        cr_assert_not(u->default_dependencies);
        cr_assert(u->refuse_manual_start && u->refuse_manual_stop);
        cr_assert(u->stop_when_unneeded && u->allow_isolate);
        cr_assert_str_eq(u->install.wanted_by.v[0], "multi-user.target");
        cr_assert_str_eq(u->install.required_by.v[0], "r.target");
        cr_assert_str_eq(u->install.upheld_by.v[0], "u.target");
        cr_assert_str_eq(u->install.alias.v[0], "alias.service");
        cr_assert_str_eq(u->install.also.v[0], "also.socket");
        cr_assert_str_eq(u->install.default_instance, "main");
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Unit]\nAfter=not a unit\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Unit]\nRequiresMountsFor=rel\n", 0, &e),
                     PK_EUNITVALUE);
}

Test(keys, not_enforced_list)
{
        struct pk_unit *u = parse("a.service", "[Unit]\nJobTimeoutSec=5\n"
                                               "ConditionVirtualization=!container\n"
                                               "[Service]\nExecStart=/bin/true\n"
                                               "ProtectSystem=strict\nPrivateTmp=yes\n"
                                               "SystemCallFilter=@system-service\n"
                                               "MemoryMax=1G\nCPUAffinity=0 1\n");
        cr_assert_eq(u->warnings.n, 0);
        const char *want[] = {"JobTimeoutSec", "ConditionVirtualization", "ProtectSystem",
                              "PrivateTmp",    "SystemCallFilter",        "MemoryMax",
                              "CPUAffinity"};
        cr_assert_eq(u->not_enforced.n, 7);
        for (size_t i = 0; i < 7; i++) {
                cr_assert_str_eq(u->not_enforced.v[i].key, want[i]);
                cr_assert_null(u->not_enforced.v[i].message);
        }
        cr_assert_eq(u->not_enforced.v[2].line, 6);
        cr_assert_str_eq(u->not_enforced.v[2].value, "strict");
        /* A sandboxing key in the wrong section is still unknown. */
        pk_unit_free(u);
        u = parse("a.service", "[Unit]\nProtectSystem=strict\n[Service]\nExecStart=/bin/true\n");
        cr_assert_eq(u->warnings.n, 1);
        pk_unit_free(u);
}

Test(keys, sections_of_other_types)
{
        struct pk_unit *u = parse("a.timer", "[Unit]\nDescription=t\n[Timer]\nOnCalendar=daily\n"
                                             "[Install]\nWantedBy=timers.target\n");
        cr_assert_eq(u->kind, PK_UNIT_KIND_OTHER);
        cr_assert_eq(u->warnings.n, 0);
        cr_assert_eq(u->not_enforced.n, 1);
        cr_assert_str_eq(u->not_enforced.v[0].key, "OnCalendar");
        pk_unit_free(u);
        /* [Service] in a socket unit is not valid. */
        u = parse("a.socket", "[Socket]\nListenStream=80\n[Service]\nExecStart=/bin/true\n");
        cr_assert_eq(u->warnings.n, 1);
        pk_unit_free(u);
        u = parse("multi-user.target", "[Unit]\nDescription=Multi-User\nRequires=basic.target\n");
        cr_assert_eq(u->kind, PK_UNIT_KIND_TARGET);
        pk_unit_free(u);
}

Test(keys, empty_assignment_restores_scalar_defaults)
{
        struct pk_unit *u = parse("a.service", "[Unit]\nDefaultDependencies=no\n"
                                               "DefaultDependencies=\n"
                                               "[Service]\nType=forking\nType=\n"
                                               "ExecStart=/bin/true\n"
                                               "TimeoutStopSec=5\nTimeoutStopSec=\n"
                                               "TimeoutSec=1\nTimeoutSec=\n"
                                               "RestartSec=5\nRestartSec=\n"
                                               "Restart=always\nRestart=\n"
                                               "KillSignal=SIGINT\nKillSignal=\n"
                                               "Nice=5\nNice=\nUMask=0077\nUMask=\n"
                                               "StateDirectoryMode=0700\nStateDirectoryMode=\n"
                                               "IgnoreSIGPIPE=no\nIgnoreSIGPIPE=\n");
        cr_assert(u->default_dependencies);
        cr_assert_eq(u->service.type, PK_UNIT_TYPE_SIMPLE);
        cr_assert_eq(u->service.timeout_stop_ms, 90000);
        cr_assert_eq(u->service.timeout_start_ms, 90000);
        cr_assert_eq(u->service.restart_ms, 100);
        cr_assert_eq(u->service.restart, PK_UNIT_RESTART_NO);
        cr_assert_eq(u->kill.signal, SIGTERM);
        cr_assert_not(u->exec.nice_set);
        cr_assert_eq(u->exec.umask, 022);
        cr_assert_eq(u->exec.dirs[PK_UNIT_DIR_STATE].mode, 0755);
        cr_assert(u->exec.ignore_sigpipe);
        pk_unit_free(u);
}

Test(keys, systemd_own_unit_forms)
{
        /* Forms found in systemd's own units. */
        struct pk_unit *u = parse("a.service", "[Unit]\nSuccessAction=exit-force\n"
                                               "BindTo=b.service\nPropagateReloadTo=c.service\n"
                                               "[Service]\nType=oneshot\n"
                                               "SuccessExitStatus=DATAERR TEMPFAIL NOTRUNNING\n"
                                               "LogsDirectoryMode=02755\nExitType=cgroup\n");
        cr_assert_eq(u->service.exec_start.n, 0); /* allowed: SuccessAction= is set */
        cr_assert(pk_unit_status_has(&u->service.success_exit_status, 65, 0));
        cr_assert(pk_unit_status_has(&u->service.success_exit_status, 75, 0));
        cr_assert(pk_unit_status_has(&u->service.success_exit_status, 7, 0));
        cr_assert_eq(u->exec.dirs[PK_UNIT_DIR_LOGS].mode, 02755);
        cr_assert(u->service.exit_type_cgroup);
        cr_assert_str_eq(u->deps.binds_to.v[0], "b.service");
        cr_assert_str_eq(u->deps.propagates_reload_to.v[0], "c.service");
        pk_unit_free(u);
        /* A socket listening only on kinds portkit does not open is still whole. */
        u = parse("audit.socket", "[Socket]\nListenNetlink=audit 1\n");
        cr_assert_eq(u->socket.listen.n, 0);
        cr_assert_str_eq(u->not_enforced.v[0].key, "ListenNetlink");
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Service]\nUMask=10000\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nExitType=all\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(parse_err("a.service", "[Service]\nSuccessExitStatus=NOPE\n", 0, &e),
                     PK_EUNITVALUE);
}

/* ---- conditions ------------------------------------------------------------ */

static int check(const char *conds, const char *const *env)
{
        char text[2048];
        int n = snprintf(text, sizeof(text), "[Unit]\n%s[Service]\nExecStart=/bin/true\n", conds);
        cr_assert(n > 0 && (size_t)n < sizeof(text), "conditions too long: %s", conds);
        struct pk_unit *u = parse("a.service", text);
        int r = pk_unit_conditions_check(u, env, NULL);
        pk_unit_free(u);
        return r;
}

Test(conditions, paths_files_environment)
{
        char dir[] = "/tmp/pk_unit_condXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char text[2048], f[300], empty[300], link[300], exe[300];
        snprintf(f, sizeof(f), "%s/file", dir);
        snprintf(empty, sizeof(empty), "%s/empty", dir);
        snprintf(link, sizeof(link), "%s/link", dir);
        snprintf(exe, sizeof(exe), "%s/exe", dir);
        FILE *fp = fopen(f, "w");
        fputs("x", fp);
        fclose(fp);
        close(open(empty, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        close(open(exe, O_CREAT | O_WRONLY | O_CLOEXEC, 0755));
        cr_assert_eq(symlink(f, link), 0);
        snprintf(text, sizeof(text),
                 "ConditionPathExists=%s\nConditionPathExists=!%s/nope\n"
                 "ConditionPathExistsGlob=%s/fi*\nConditionPathIsDirectory=%s\n"
                 "ConditionPathIsSymbolicLink=%s\nConditionPathIsReadWrite=%s\n"
                 "ConditionDirectoryNotEmpty=%s\nConditionFileNotEmpty=%s\n"
                 "ConditionFileIsExecutable=%s\nConditionFileIsExecutable=!%s\n"
                 "ConditionPathIsMountPoint=/proc\nConditionPathIsMountPoint=!%s\n"
                 "ConditionEnvironment=MODE\nConditionEnvironment=MODE=prod\n"
                 "ConditionEnvironment=!OTHER\n",
                 f, dir, dir, dir, link, dir, dir, f, exe, f, dir);
        const char *env[] = {"MODE=prod", NULL};
        cr_assert_eq(check(text, env), 1);
        /* Each failing one on its own. */
        snprintf(text, sizeof(text), "ConditionFileNotEmpty=%s\n", empty);
        cr_assert_eq(check(text, env), 0);
        snprintf(text, sizeof(text), "ConditionPathExists=%s/nope\n", dir);
        cr_assert_eq(check(text, env), 0);
        cr_assert_eq(check("ConditionEnvironment=MODE=dev\n", env), 0);
        cr_assert_eq(check("ConditionEnvironment=MODE\n", NULL), 0);
        /* Triggers: one of them is enough. */
        snprintf(text, sizeof(text), "ConditionPathExists=|%s/nope\nConditionPathExists=|%s\n", dir,
                 f);
        cr_assert_eq(check(text, env), 1);
        snprintf(text, sizeof(text), "ConditionPathExists=|%s/nope\nConditionPathExists=|!%s\n",
                 dir, f);
        cr_assert_eq(check(text, env), 0);
        /* Asserts fail the start; conditions come first. */
        snprintf(text, sizeof(text), "AssertPathExists=%s/nope\n", dir);
        cr_assert_eq(check(text, env), PK_EUNITASSERT);
        snprintf(text, sizeof(text), "AssertPathExists=%s/nope\nConditionPathExists=%s/nope\n", dir,
                 dir);
        cr_assert_eq(check(text, env), 0);
        /* An empty assignment resets the family. */
        snprintf(text, sizeof(text), "ConditionPathExists=%s/nope\nConditionPathExists=\n", dir);
        cr_assert_eq(check(text, env), 1);
        /* The failing condition is reported. */
        snprintf(text, sizeof(text),
                 "[Unit]\nConditionPathExists=%s\nConditionPathExists=!%s\n"
                 "[Service]\nExecStart=/bin/true\n",
                 f, f);
        struct pk_unit *u = parse("a.service", text);
        const struct pk_unit_condition *failed = NULL;
        cr_assert_eq(pk_unit_conditions_check(u, NULL, &failed), 0);
        cr_assert_not_null(failed);
        cr_assert(failed->negate);
        cr_assert_eq(failed->line, 3);
        pk_unit_free(u);
        unlink(f);
        unlink(empty);
        unlink(link);
        unlink(exe);
        rmdir(dir);
}

Test(conditions, user_group_host_cmdline)
{
        char text[512];
        snprintf(text, sizeof(text), "ConditionUser=%u\nConditionGroup=%u\n", getuid(), getgid());
        cr_assert_eq(check(text, NULL), 1);
        cr_assert_eq(check("ConditionUser=nobody-such-user\n", NULL), 0);
        char host[256] = {0};
        gethostname(host, sizeof(host) - 1);
        snprintf(text, sizeof(text), "ConditionHost=%s\n", host);
        cr_assert_eq(check(text, NULL), 1);
        cr_assert_eq(check("ConditionHost=!surely-not-this-host\n", NULL), 1);
        cr_assert_eq(check("ConditionKernelCommandLine=pk_never_set_flag\n", NULL), 0);
        cr_assert_eq(check("ConditionKernelCommandLine=!pk_never_set_flag\n", NULL), 1);
        /* Conditions portkit does not evaluate pass (and are listed as not enforced). */
        cr_assert_eq(check("ConditionVirtualization=!container\n", NULL), 1);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.service", "[Unit]\nConditionPathExists=relative\n", 0, &e),
                     PK_EUNITVALUE);
}

/* ---- sockets --------------------------------------------------------------- */

Test(socket, listen_addresses)
{
        struct pk_unit *u = parse("web.socket", "[Socket]\n"
                                                "ListenStream=80\n"
                                                "ListenStream=127.0.0.1:8080\n"
                                                "ListenStream=[::1]:8443\n"
                                                "ListenStream=[fe80::1%%eth0]:22\n"
                                                "ListenStream=/run/web.sock\n"
                                                "ListenStream=@web-abstract\n"
                                                "ListenDatagram=0.0.0.0:514\n"
                                                "ListenSequentialPacket=/run/seq.sock\n"
                                                "ListenFIFO=/run/web.fifo\n");
        const struct pk_unit_socket *s = &u->socket;
        cr_assert_eq(s->listen.n, 9);
        cr_assert_eq(s->listen.v[0].addr, PK_UNIT_ADDR_PORT);
        cr_assert_eq(s->listen.v[0].port, 80);
        cr_assert_null(s->listen.v[0].path);
        cr_assert_eq(s->listen.v[1].addr, PK_UNIT_ADDR_INET4);
        cr_assert_str_eq(s->listen.v[1].path, "127.0.0.1");
        cr_assert_eq(s->listen.v[1].port, 8080);
        cr_assert_eq(s->listen.v[2].addr, PK_UNIT_ADDR_INET6);
        cr_assert_str_eq(s->listen.v[2].path, "::1");
        cr_assert_str_eq(s->listen.v[3].ifname, "eth0");
        cr_assert_eq(s->listen.v[4].addr, PK_UNIT_ADDR_PATH);
        cr_assert_eq(s->listen.v[5].addr, PK_UNIT_ADDR_ABSTRACT);
        cr_assert_str_eq(s->listen.v[5].path, "web-abstract");
        cr_assert_eq(s->listen.v[6].kind, PK_UNIT_LISTEN_DATAGRAM);
        cr_assert_eq(s->listen.v[7].kind, PK_UNIT_LISTEN_SEQPACKET);
        cr_assert_eq(s->listen.v[8].kind, PK_UNIT_LISTEN_FIFO);
        /* Defaults. */
        cr_assert_not(s->accept);
        cr_assert_str_eq(s->service, "web.service");
        cr_assert_str_eq(s->fd_name, "web.socket");
        cr_assert_eq(s->mode, 0666);
        cr_assert_eq(s->directory_mode, 0755);
        cr_assert_eq(s->backlog, 4096);
        pk_unit_free(u);
        struct pk_unit_error e;
        const char *bad[] = {"ListenStream=0",
                             "ListenStream=65536",
                             "ListenStream=1.2.3:80",
                             "ListenStream=[::1:80",
                             "ListenStream=rel/path",
                             "ListenFIFO=@abs",
                             "ListenSequentialPacket=1.2.3:80",
                             "ListenStream=[zz]:80",
                             "ListenStream=1.2.3.4:0"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char t[128];
                snprintf(t, sizeof(t), "[Socket]\n%s\n", bad[i]);
                cr_assert_eq(parse_err("a.socket", t, 0, &e), PK_EUNITVALUE, "%s", bad[i]);
                cr_assert_eq(e.line, 2);
        }
        cr_assert_eq(parse_err("a.socket", "[Socket]\nAccept=yes\n", 0, &e), PK_EUNITVALUE);
}

/* SCTP: a sequential-packet socket on an IP address, SocketProtocol=; each
 * Listen*= line knows where it was written. */
Test(socket, sctp_and_socket_protocol)
{
        struct pk_unit *u = parse("sctp.socket", "[Socket]\n"
                                                 "ListenSequentialPacket=127.0.0.1:9999\n"
                                                 "ListenSequentialPacket=9998\n"
                                                 "SocketProtocol=sctp\n");
        const struct pk_unit_socket *s = &u->socket;
        cr_assert_eq(s->listen.n, 2);
        cr_assert_eq(s->listen.v[0].kind, PK_UNIT_LISTEN_SEQPACKET);
        cr_assert_eq(s->listen.v[0].addr, PK_UNIT_ADDR_INET4);
        cr_assert_eq(s->listen.v[0].port, 9999);
        cr_assert_eq(s->listen.v[0].line, 2);
        cr_assert_eq(s->listen.v[1].addr, PK_UNIT_ADDR_PORT);
        cr_assert_eq(s->listen.v[1].line, 3);
        cr_assert_not_null(s->listen.v[1].file);
        cr_assert_eq(s->protocol, IPPROTO_SCTP);
        for (size_t i = 0; i < u->not_enforced.n; i++)
                cr_assert_str_neq(u->not_enforced.v[i].key, "SocketProtocol");
        pk_unit_free(u);
        u = parse("lite.socket", "[Socket]\nListenDatagram=514\nSocketProtocol=udplite\n");
        cr_assert_eq(u->socket.protocol, IPPROTO_UDPLITE);
        pk_unit_free(u);
        u = parse("lite.socket", "[Socket]\nListenDatagram=514\nSocketProtocol=udplite\n"
                                 "SocketProtocol=\n");
        cr_assert_eq(u->socket.protocol, 0, "empty resets");
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(parse_err("a.socket", "[Socket]\nSocketProtocol=tcp\n", 0, &e), PK_EUNITVALUE);
        cr_assert_eq(e.line, 2);
}

Test(socket, options_and_accept)
{
        struct pk_unit *u = parse("echo.socket", "[Socket]\n"
                                                 "ListenStream=/run/echo.sock\n"
                                                 "Accept=yes\n"
                                                 "FileDescriptorName=echo\n"
                                                 "SocketUser=www-data\nSocketGroup=www-data\n"
                                                 "SocketMode=0660\nDirectoryMode=0750\n"
                                                 "Backlog=128\nBindIPv6Only=both\n"
                                                 "ReusePort=yes\nFreeBind=yes\nKeepAlive=yes\n"
                                                 "NoDelay=yes\nPassCredentials=yes\n"
                                                 "RemoveOnStop=yes\nReceiveBuffer=1M\n"
                                                 "SendBuffer=64K\nMaxConnections=10\n"
                                                 "Symlinks=/run/alt.sock\n"
                                                 "ExecStartPre=/bin/true\n"
                                                 "User=nobody\n"
                                                 "[Install]\nWantedBy=sockets.target\n");
        const struct pk_unit_socket *s = &u->socket;
        cr_assert(s->accept);
        cr_assert_str_eq(s->service, "echo@.service");
        cr_assert_str_eq(s->fd_name, "echo");
        cr_assert_str_eq(s->user, "www-data");
        cr_assert_eq(s->mode, 0660);
        cr_assert_eq(s->directory_mode, 0750);
        cr_assert_eq(s->backlog, 128);
        cr_assert_eq(s->bind_ipv6_only, 1);
        cr_assert(s->reuse_port && s->free_bind && s->keep_alive && s->no_delay);
        cr_assert(s->pass_credentials && s->remove_on_stop);
        cr_assert_eq(s->receive_buffer, 1 << 20);
        cr_assert_eq(s->send_buffer, 64 << 10);
        cr_assert_eq(s->max_connections, 10);
        cr_assert_str_eq(s->symlinks.v[0], "/run/alt.sock");
        cr_assert_eq(s->exec_start_pre.n, 1);
        cr_assert_str_eq(u->exec.user, "nobody");
        cr_assert_eq(u->warnings.n, 0);
        pk_unit_free(u);
        u = parse("a.socket", "[Socket]\nListenStream=80\nService=other.service\n");
        cr_assert_str_eq(u->socket.service, "other.service");
        pk_unit_free(u);
        struct pk_unit_error e;
        cr_assert_eq(
            parse_err("a.socket", "[Socket]\nListenStream=80\nFileDescriptorName=a:b\n", 0, &e),
            PK_EUNITVALUE);
}

/* ---- the loader ------------------------------------------------------------ */

static char g_root[64];

static void put(const char *rel, const char *text)
{
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", g_root, rel);
        for (char *s = p + strlen(g_root) + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        mkdir(p, 0755);
                        *s = '/';
                }
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f, "%s", p);
        fputs(text, f);
        fclose(f);
}

static void link_to(const char *target, const char *rel)
{
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", g_root, rel);
        cr_assert_eq(symlink(target, p), 0, "%s", p);
}

static void rm_tree(void)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_root);
        cr_assert_eq(system(cmd), 0);
}

static void mk_root(void)
{
        snprintf(g_root, sizeof(g_root), "/tmp/pk_unit_rootXXXXXX");
        cr_assert_not_null(mkdtemp(g_root));
}

static int load(const char *name, struct pk_unit **u, struct pk_unit_error *e)
{
        char etc[128], lib[128];
        snprintf(etc, sizeof(etc), "%s/etc", g_root);
        snprintf(lib, sizeof(lib), "%s/lib", g_root);
        const char *dirs[] = {etc, lib, NULL};
        struct pk_unit_opts o = {.dirs = dirs};
        memset(e, 0, sizeof(*e));
        return pk_unit_load(name, &o, u, e);
}

Test(load, search_order_template_dropins_alias_mask, .init = mk_root, .fini = rm_tree)
{
        put("lib/app.service", "[Service]\nExecStart=/bin/lib\n");
        put("etc/app.service", "[Service]\nExecStart=/bin/etc\n");
        put("lib/web@.service", "[Unit]\nDescription=web %i\n[Service]\nExecStart=/bin/w %I\n");
        put("lib/web@special.service", "[Service]\nExecStart=/bin/special\n");
        /* Drop-ins: type-wide, dash-prefix, template, instance; sorted by file name;
         * /etc overrides /lib for the same file name; /dev/null masks one. */
        put("lib/service.d/10-all.conf", "[Service]\nEnvironment=ALL=1\n");
        put("lib/my-web-.service.d/20-dash.conf", "[Service]\nEnvironment=DASH=1\n");
        put("lib/my-.service.d/15-dash.conf", "[Service]\nEnvironment=DASH0=1\n");
        put("lib/my-web-app.service", "[Service]\nExecStart=/bin/true\n");
        put("lib/web@.service.d/30-tmpl.conf", "[Service]\nEnvironment=TMPL=lib\n");
        put("etc/web@.service.d/30-tmpl.conf", "[Service]\nEnvironment=TMPL=etc\n");
        put("etc/web@a.service.d/40-inst.conf", "[Service]\nExecStart=\nExecStart=/bin/i %i\n");
        put("lib/web@a.service.d/50-masked.conf", "[Service]\nEnvironment=MASKED=1\n");
        cr_assert_eq(mkdir(g_root, 0755) == 0 || errno == EEXIST, 1);
        char p[256];
        snprintf(p, sizeof(p), "%s/etc/web@a.service.d/50-masked.conf", g_root);
        cr_assert_eq(symlink("/dev/null", p), 0);
        put("lib/web@a.service.d/ignored.txt", "[Service]\nEnvironment=TXT=1\n");
        link_to("app.service", "lib/alias.service");
        link_to("/dev/null", "etc/masked.service");
        put("lib/masked.service", "[Service]\nExecStart=/bin/true\n");

        struct pk_unit *u;
        struct pk_unit_error e;
        cr_assert_eq(load("app.service", &u, &e), 0, "%s", e.message);
        cr_assert_str_eq(u->service.exec_start.v[0].path, "/bin/etc");
        cr_assert(strstr(u->fragment_path, "/etc/app.service"));
        pk_unit_free(u);

        cr_assert_eq(load("web@a.service", &u, &e), 0, "%s: %s", e.file, e.message);
        cr_assert_str_eq(u->name, "web@a.service");
        cr_assert_str_eq(u->template_name, "web@.service");
        cr_assert_str_eq(u->description, "web a");
        cr_assert_eq(u->service.exec_start.n, 1);
        cr_assert_str_eq(u->service.exec_start.v[0].path, "/bin/i");
        cr_assert_str_eq(u->service.exec_start.v[0].argv[1], "a");
        const struct pk_unit_strv *env = &u->exec.environment;
        cr_assert_eq(env->n, 2);
        cr_assert_str_eq(env->v[0], "ALL=1");
        cr_assert_str_eq(env->v[1], "TMPL=etc");
        cr_assert_eq(u->dropin_paths.n, 3);
        cr_assert(strstr(u->dropin_paths.v[2], "40-inst.conf"));
        pk_unit_free(u);

        /* Dash-prefix drop-ins: "my-.service.d" and "my-web-.service.d". */
        cr_assert_eq(load("my-web-app.service", &u, &e), 0, "%s", e.message);
        env = &u->exec.environment;
        cr_assert_eq(env->n, 3);
        cr_assert_str_eq(env->v[0], "ALL=1");
        cr_assert_str_eq(env->v[1], "DASH0=1");
        cr_assert_str_eq(env->v[2], "DASH=1");
        pk_unit_free(u);

        /* An instance with its own file does not use the template. */
        cr_assert_eq(load("web@special.service", &u, &e), 0, "%s", e.message);
        cr_assert_str_eq(u->service.exec_start.v[0].path, "/bin/special");
        pk_unit_free(u);

        /* An alias loads the target under the target's name. */
        cr_assert_eq(load("alias.service", &u, &e), 0, "%s", e.message);
        cr_assert_str_eq(u->name, "app.service");
        cr_assert_eq(u->aliases.n, 1);
        cr_assert_str_eq(u->aliases.v[0], "alias.service");
        cr_assert_str_eq(u->service.exec_start.v[0].path, "/bin/lib");
        pk_unit_free(u);

        cr_assert_eq(load("masked.service", &u, &e), PK_EUNITMASKED);
        cr_assert(strstr(e.file, "/etc/masked.service"));
        put("lib/empty.service", "");
        cr_assert_eq(load("empty.service", &u, &e), PK_EUNITMASKED);
        /* A masked template masks its instances. */
        link_to("/dev/null", "etc/gone@.service");
        cr_assert_eq(load("gone@x.service", &u, &e), PK_EUNITMASKED);
        cr_assert_eq(load("nope.service", &u, &e), -ENOENT);
        cr_assert(strstr(e.message, "nope.service"));
        cr_assert_eq(load("bad name.service", &u, &e), -EINVAL);
}

Test(load, errors_name_the_dropin, .init = mk_root, .fini = rm_tree)
{
        put("lib/app.service", "[Service]\nExecStart=/bin/true\n");
        put("lib/app.service.d/override.conf", "[Service]\n\nRestart=sometimes\n");
        struct pk_unit *u;
        struct pk_unit_error e;
        cr_assert_eq(load("app.service", &u, &e), PK_EUNITVALUE);
        cr_assert(strstr(e.file, "app.service.d/override.conf"), "%s", e.file);
        cr_assert_eq(e.line, 3);
        cr_assert_str_eq(e.key, "Restart");
}

/* ---- real Debian units ----------------------------------------------------- */

#define FIXTURES PK_SOURCE_DIR "/build/unit-fixtures/root/lib/systemd/system"

static struct pk_unit *debian(const char *name)
{
        const char *dirs[] = {FIXTURES, NULL};
        struct pk_unit_host h = {.hostname = "testhost"};
        /* Strict: an unknown key in a Debian unit would be an error, not just a warning. */
        struct pk_unit_opts o = {.dirs = dirs, .host = &h, .flags = PK_UNIT_STRICT};
        struct pk_unit *u = NULL;
        struct pk_unit_error e = {0};
        struct stat st;
        cr_assert_eq(stat(FIXTURES, &st), 0,
                     "Debian unit fixtures missing: run scripts/unit-fixtures (ctest runs it as "
                     "the unit_debian_fixtures fixture)");
        int r = pk_unit_load(name, &o, &u, &e);
        cr_assert_eq(r, 0, "%s: %s (%s:%u %s: %s)", name, pk_strerror(r), e.file, e.line, e.key,
                     e.message);
        char w[1024];
        cr_assert_eq(u->warnings.n, 0, "%s: unknown keys: %s", name, warning_keys(u, w, sizeof(w)));
        return u;
}

static bool has_not_enforced(const struct pk_unit *u, const char *key)
{
        for (size_t i = 0; i < u->not_enforced.n; i++)
                if (strcmp(u->not_enforced.v[i].key, key) == 0)
                        return true;
        return false;
}

Test(debian, nginx)
{
        struct pk_unit *u = debian("nginx.service");
        const struct pk_unit_service *s = &u->service;
        cr_assert_eq(s->type, PK_UNIT_TYPE_FORKING);
        cr_assert_str_eq(s->pid_file, "/run/nginx.pid");
        cr_assert_eq(s->exec_start_pre.n, 1);
        const struct pk_unit_exec *pre = &s->exec_start_pre.v[0];
        cr_assert_str_eq(pre->path, "/usr/sbin/nginx");
        cr_assert_eq(pre->argc, 5);
        cr_assert_str_eq(pre->argv[4], "daemon on; master_process on;");
        cr_assert_str_eq(s->exec_start.v[0].argv[2], "daemon on; master_process on;");
        cr_assert_eq(s->exec_reload.v[0].argc, 5);
        cr_assert_eq(s->exec_stop.v[0].flags, PK_UNIT_EXEC_IGNORE_FAILURE);
        cr_assert_str_eq(s->exec_stop.v[0].path, "/sbin/start-stop-daemon");
        cr_assert_eq(s->timeout_stop_ms, 5000);
        cr_assert_eq(u->kill.mode, PK_UNIT_KILL_MIXED);
        cr_assert_eq(u->deps.after.n, 3);
        cr_assert_str_eq(u->deps.wants.v[0], "network-online.target");
        cr_assert_str_eq(u->install.wanted_by.v[0], "multi-user.target");
        pk_unit_free(u);
}

Test(debian, redis_server_and_alias)
{
        struct pk_unit *u = debian("redis-server.service");
        const struct pk_unit_service *s = &u->service;
        cr_assert_eq(s->type, PK_UNIT_TYPE_NOTIFY);
        cr_assert_eq(s->notify_access, PK_UNIT_NOTIFY_MAIN);
        cr_assert_str_eq(s->exec_start.v[0].path, "/usr/bin/redis-server");
        cr_assert_eq(s->exec_start.v[0].argc, 6);
        cr_assert_str_eq(s->pid_file, "/run/redis/redis-server.pid");
        cr_assert_eq(s->timeout_stop_ms, PK_UNIT_INFINITY);
        cr_assert_eq(s->restart, PK_UNIT_RESTART_ALWAYS);
        cr_assert_str_eq(u->exec.user, "redis");
        cr_assert_str_eq(u->exec.group, "redis");
        cr_assert_str_eq(u->exec.dirs[PK_UNIT_DIR_RUNTIME].names.v[0], "redis");
        cr_assert_eq(u->exec.dirs[PK_UNIT_DIR_RUNTIME].mode, 02755);
        cr_assert_eq(u->exec.umask, 007);
        cr_assert_eq(u->exec.limits[RLIMIT_NOFILE].soft, 65535);
        cr_assert(u->exec.no_new_privileges);
        cr_assert(u->exec.bounding_set_set);
        cr_assert_eq(u->exec.capability_bounding_set, 0);
        cr_assert(has_not_enforced(u, "ProtectSystem"));
        cr_assert(has_not_enforced(u, "SystemCallFilter"));
        cr_assert(has_not_enforced(u, "ReadWritePaths"));
        cr_assert(has_not_enforced(u, "PrivateTmp"));
        cr_assert_str_eq(u->install.alias.v[0], "redis.service");
        pk_unit_free(u);
        /* The template, instantiated. */
        u = debian("redis-server@cache.service");
        cr_assert_str_eq(u->service.exec_start.v[0].argv[1], "/etc/redis/redis-cache.conf");
        cr_assert_str_eq(u->service.pid_file, "/run/redis-cache/redis-server.pid");
        cr_assert_str_eq(u->exec.dirs[PK_UNIT_DIR_RUNTIME].names.v[0], "redis-cache");
        cr_assert_str_eq(u->description, "Advanced key-value store (cache)");
        pk_unit_free(u);
}

Test(debian, memcached)
{
        struct pk_unit *u = debian("memcached.service");
        const struct pk_unit_service *s = &u->service;
        cr_assert_eq(s->type, PK_UNIT_TYPE_SIMPLE);
        cr_assert_str_eq(s->exec_start.v[0].path,
                         "/usr/share/memcached/scripts/systemd-memcached-wrapper");
        cr_assert_str_eq(s->exec_start.v[0].argv[1], "/etc/memcached.conf");
        cr_assert_str_eq(s->pid_file, "/run/memcached/memcached.pid");
        cr_assert_eq(s->restart, PK_UNIT_RESTART_ALWAYS);
        cr_assert(u->exec.no_new_privileges);
        cr_assert_eq(u->exec.capability_bounding_set, (1ULL << 6) | (1ULL << 7) | (1ULL << 24));
        cr_assert(has_not_enforced(u, "MemoryDenyWriteExecute"));
        pk_unit_free(u);
}

Test(debian, openssh_server)
{
        struct pk_unit *u = debian("ssh.service");
        const struct pk_unit_service *s = &u->service;
        cr_assert_eq(s->type, PK_UNIT_TYPE_NOTIFY);
        cr_assert_str_eq(s->exec_start.v[0].path, "/usr/sbin/sshd");
        cr_assert_str_eq(s->exec_start.v[0].argv[2], "$SSHD_OPTS");
        cr_assert_eq(s->exec_reload.n, 2);
        cr_assert_str_eq(s->exec_reload.v[1].argv[2], "$MAINPID");
        cr_assert_eq(u->exec.environment_files.n, 1);
        cr_assert_str_eq(u->exec.environment_files.v[0].path, "/etc/default/ssh");
        cr_assert(u->exec.environment_files.v[0].optional);
        cr_assert_eq(u->kill.mode, PK_UNIT_KILL_PROCESS);
        cr_assert_eq(s->restart, PK_UNIT_RESTART_ON_FAILURE);
        cr_assert(pk_unit_status_has(&s->restart_prevent_exit_status, 255, 0));
        cr_assert_str_eq(u->exec.dirs[PK_UNIT_DIR_RUNTIME].names.v[0], "sshd");
        cr_assert_eq(u->conditions.n, 1);
        cr_assert(u->conditions.v[0].negate);
        cr_assert_str_eq(u->conditions.v[0].param, "/etc/ssh/sshd_not_to_be_run");
        cr_assert_str_eq(u->install.alias.v[0], "sshd.service");
        /* $SSHD_OPTS from the environment, as at exec time. */
        const char *env[] = {"SSHD_OPTS=-o LogLevel=DEBUG", NULL};
        char **argv;
        cr_assert_eq(pk_unit_exec_expand(&s->exec_start.v[0], env, &argv), 0);
        cr_assert_str_eq(argv[1], "-D");
        cr_assert_str_eq(argv[2], "-o");
        cr_assert_str_eq(argv[3], "LogLevel=DEBUG");
        cr_assert_null(argv[4]);
        pk_unit_strv_free(argv);
        pk_unit_free(u);
        u = debian("ssh.socket");
        cr_assert_eq(u->kind, PK_UNIT_KIND_SOCKET);
        cr_assert_eq(u->socket.listen.n, 1);
        cr_assert_eq(u->socket.listen.v[0].addr, PK_UNIT_ADDR_PORT);
        cr_assert_eq(u->socket.listen.v[0].port, 22);
        cr_assert_not(u->socket.accept);
        cr_assert_str_eq(u->socket.service, "ssh.service");
        pk_unit_free(u);
}

Test(debian, cron)
{
        struct pk_unit *u = debian("cron.service");
        const struct pk_unit_service *s = &u->service;
        cr_assert_eq(s->type, PK_UNIT_TYPE_SIMPLE);
        cr_assert_str_eq(s->exec_start.v[0].path, "/usr/sbin/cron");
        cr_assert_str_eq(s->exec_start.v[0].argv[1], "-f");
        cr_assert_str_eq(s->exec_start.v[0].argv[2], "$EXTRA_OPTS");
        cr_assert_not(u->exec.ignore_sigpipe);
        cr_assert_eq(u->kill.mode, PK_UNIT_KILL_PROCESS);
        cr_assert_eq(s->restart, PK_UNIT_RESTART_ON_FAILURE);
        cr_assert_null(s->pid_file);
        pk_unit_free(u);
}

Test(debian, postgresql_template)
{
        struct pk_unit *u = debian("postgresql@15-main.service");
        const struct pk_unit_service *s = &u->service;
        cr_assert_str_eq(u->template_name, "postgresql@.service");
        cr_assert_str_eq(u->instance, "15-main");
        cr_assert_eq(s->type, PK_UNIT_TYPE_FORKING);
        cr_assert_str_eq(s->pid_file, "/run/postgresql/15-main.pid");
        const struct pk_unit_exec *st = &s->exec_start.v[0];
        cr_assert_eq(st->flags, PK_UNIT_EXEC_IGNORE_FAILURE);
        cr_assert_str_eq(st->path, "/usr/bin/pg_ctlcluster");
        cr_assert_str_eq(st->argv[2], "15-main");
        cr_assert_eq(s->timeout_start_ms, PK_UNIT_INFINITY);
        cr_assert_eq(s->timeout_stop_ms, 3600000);
        cr_assert_str_eq(u->exec.syslog_identifier, "postgresql@15-main");
        cr_assert_eq(u->exec.oom_score_adjust, -900);
        cr_assert_str_eq(u->description, "PostgreSQL Cluster 15-main");
        cr_assert_str_eq(u->conditions.v[0].param, "/etc/postgresql/15/main/postgresql.conf");
        cr_assert(u->conditions.v[0].is_assert);
        cr_assert_str_eq(u->deps.requires_mounts_for.v[0], "/etc/postgresql/15/main");
        cr_assert_str_eq(u->deps.part_of.v[0], "postgresql.service");
        cr_assert_str_eq(u->deps.reload_propagated_from.v[0], "postgresql.service");
        cr_assert_eq(s->restart, PK_UNIT_RESTART_NO);
        /* The assert fails on a machine without that cluster: the start fails. */
        struct stat sb;
        if (stat("/etc/postgresql/15/main/postgresql.conf", &sb) != 0)
                cr_assert_eq(pk_unit_conditions_check(u, NULL, NULL), PK_EUNITASSERT);
        pk_unit_free(u);
        u = debian("postgresql.service");
        cr_assert_eq(u->service.type, PK_UNIT_TYPE_ONESHOT);
        cr_assert(u->service.remain_after_exit);
        cr_assert_str_eq(u->service.exec_start.v[0].path, "/bin/true");
        pk_unit_free(u);
}

Test(debian, every_fixture_unit_loads_without_warnings)
{
        const char *names[] = {"pg_basebackup@15-main.service", "pg_dump@15-main.service",
                               "pg_receivewal@15-main.service", "pg_compresswal@15-main.service",
                               "pg_dump@15-main.timer",         "rescue-ssh.target"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                struct pk_unit *u = debian(names[i]);
                pk_unit_free(u);
        }
        struct pk_unit *u = debian("pg_receivewal@15-main.service");
        cr_assert_eq(u->service.restart_ms, 60000);
        cr_assert_eq(u->kill.signal, SIGINT);
        cr_assert_eq(u->service.exec_start_pre.v[0].flags, PK_UNIT_EXEC_PRIVILEGED);
        pk_unit_free(u);
        u = debian("pg_dump@15-main.service");
        cr_assert_eq(u->service.exec_start.n, 2);
        cr_assert_str_eq(u->exec.environment.v[0], "KEEP=3");
        pk_unit_free(u);
}

Test(values, env_file_parse)
{
        const char text[] = "A=1\n  B = spaced \n#C=no\nD=\"x\\ny\"\nE='a\\b'\nA=2\n";
        char **env = NULL;
        cr_assert_eq(pk_unit_env_parse(text, sizeof(text) - 1, &env), 0);
        const char *want[] = {"A=2", "B=spaced", "D=x\\ny", "E=a\\b", NULL};
        size_t i = 0;
        for (; env[i]; i++) {
                cr_assert_not_null(want[i], "extra %s", env[i]);
                cr_assert_str_eq(env[i], want[i]);
        }
        cr_assert_null(want[i]);
        pk_unit_strv_free(env);
        cr_assert_eq(pk_unit_env_parse("A=\0", 3, &env), -EINVAL);
        cr_assert_eq(pk_unit_env_parse("", 0, &env), 0);
        cr_assert_null(env[0]);
        pk_unit_strv_free(env);
}

/* Every unit the fixture packages ship (systemd's own included) loads in strict
 * mode, templates instantiated; the only refusals are masks. */
Test(debian, every_shipped_unit_loads_strictly)
{
        struct stat st;
        cr_assert_eq(stat(FIXTURES, &st), 0, "run scripts/unit-fixtures");
        DIR *d = opendir(FIXTURES);
        cr_assert_not_null(d);
        const char *dirs[] = {FIXTURES, NULL};
        struct pk_unit_host h = {.hostname = "testhost",
                                 .machine_id = "0123456789abcdef",
                                 .boot_id = "b",
                                 .kernel = "6.1.0-test",
                                 .arch = "x86-64",
                                 .os_id = "debian"};
        struct pk_unit_opts o = {.dirs = dirs, .host = &h, .flags = PK_UNIT_STRICT};
        struct dirent *de;
        int loaded = 0, masked = 0;
        while ((de = readdir(d)) != NULL) {
                const char *n = de->d_name;
                size_t l = strlen(n);
                if (n[0] == '.' || (l > 2 && strcmp(n + l - 2, ".d") == 0) ||
                    (l > 6 && strcmp(n + l - 6, ".wants") == 0) ||
                    (l > 9 && strcmp(n + l - 9, ".requires") == 0))
                        continue;
                char name[300];
                const char *at = strstr(n, "@.");
                if (at)
                        snprintf(name, sizeof(name), "%.*s@inst%s", (int)(at - n), n, at + 1);
                else
                        snprintf(name, sizeof(name), "%s", n);
                struct pk_unit *u = NULL;
                struct pk_unit_error e = {0};
                int r = pk_unit_load(name, &o, &u, &e);
                if (r == PK_EUNITMASKED) {
                        masked++;
                        continue;
                }
                cr_assert_eq(r, 0, "%s: %s (%s:%u %s: %s)", name, pk_strerror(r), e.file, e.line,
                             e.key, e.message);
                cr_assert_eq(u->warnings.n, 0);
                loaded++;
                pk_unit_free(u);
        }
        closedir(d);
        cr_assert_gt(loaded, 150, "only %d units loaded", loaded);
        cr_log_info("%d units loaded, %d masked", loaded, masked);
}

/* examples/unit_show, the API as a program: nginx's child spec, and a refusal
 * naming file:line. */
Test(example, unit_show)
{
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "%s/examples/unit_show --strict --dir %s nginx.service | grep -qx 'start: "
                 "/usr/sbin/nginx \\[\"/usr/sbin/nginx\", \"-g\", \"daemon on; master_process "
                 "on;\"\\]'",
                 PK_BUILD_DIR, FIXTURES);
        int st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", cmd);
        char dir[] = "/tmp/pk_unit_showXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char f[300];
        snprintf(f, sizeof(f), "%s/bad.service", dir);
        FILE *fp = fopen(f, "w");
        fputs("[Service]\nExecStart=/bin/true\nNice=99\n", fp);
        fclose(fp);
        snprintf(cmd, sizeof(cmd),
                 "%s/examples/unit_show --dir %s bad.service 2>&1 | grep -q '%s:3: Nice'",
                 PK_BUILD_DIR, dir, f);
        st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", cmd);
        snprintf(cmd, sizeof(cmd), "%s/examples/unit_show --dir %s bad.service >/dev/null 2>&1",
                 PK_BUILD_DIR, dir);
        st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        unlink(f);
        rmdir(dir);
}

/* ---- the man page ---------------------------------------------------------- */

Test(docs, man_page_renders)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "MANWIDTH=80 man -l %s/man/portkit.unit.5 2>&1 | grep -q ExecStart",
                 PK_SOURCE_DIR);
        int st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "man -l man/portkit.unit.5 failed");
}
