#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real services from their unmodified Debian units under `portkit supervise`,
# one case per CTest entry (cmake/parts/supervise.cmake):
#   nginx-redis  nginx (forking + PIDFile, ExecReload) and redis (notify)
#   memcached    simple through a Perl wrapper, Restart=always, no ExecReload,
#                /run/memcached from tmpfiles.d
#   ssh          notify, ExecStartPre (sshd -t), RuntimeDirectory, two ExecReload lines,
#                RestartPreventExitStatus=255
#   cron         simple, Restart=on-failure, an @reboot job
#   postgresql   postgresql@VERSION-main: forking + PIDFile through pg_ctlcluster,
#                ExecReload, ExecStop, no Restart= (a kill -9 leaves it failed);
#                with postgresql.service: Before=, PartOf=, ReloadPropagatedFrom=
# Each case runs in new pid, mount, network and IPC namespaces with a fresh
# /run and a private loopback, and its supervisor in a cgroup of its own that
# is removed at the end, so nothing touches the machine's services or state.
# A package that is missing is a failure (scripts/deps check installs them).
# Usage: debian.sh PORTKIT CASE
set -euo pipefail
pk=$1
case=$2
fail() {
        echo "debian.sh $case: FAIL: $*"
        if [ -n "${work:-}" ] && [ -f "$work/stderr" ]; then
                echo "--- supervisor log"
                grep -v "not enforced" "$work/stderr" || true
        fi
        exit 1
}
cg_mount() { awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo; }

# ---- outside the namespaces: packages, work directory, cgroup ----------------------------
if [ "${PK_DEBIAN_INNER:-}" != 1 ]; then
        [ "$(id -u)" -eq 0 ] || fail "needs root (namespaces, cgroups, the packages' users)"
        need() { # FILE PACKAGE
                [ -e "$1" ] || fail "$1 missing: install $2 (scripts/deps check does)"
        }
        case $case in
        nginx-redis)
                need /usr/sbin/nginx nginx-light
                need /lib/systemd/system/nginx.service nginx-common
                need /usr/bin/redis-server redis-server
                need /usr/bin/redis-cli redis-tools
                need /usr/bin/curl curl
                ;;
        memcached)
                need /usr/bin/memcached memcached
                need /lib/systemd/system/memcached.service memcached
                ;;
        ssh)
                need /usr/sbin/sshd openssh-server
                need /lib/systemd/system/ssh.service openssh-server
                need /etc/ssh/ssh_host_ed25519_key "openssh-server (its host keys)"
                ;;
        cron)
                need /usr/sbin/cron cron
                need /lib/systemd/system/cron.service cron
                ;;
        postgresql)
                need /usr/bin/pg_ctlcluster postgresql-common
                need /lib/systemd/system/postgresql@.service postgresql-common
                need /usr/bin/psql postgresql-client
                ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || fail "no PostgreSQL server: install postgresql"
                ;;
        *) fail "unknown case" ;;
        esac
        command -v unshare >/dev/null || fail "unshare missing: install util-linux"
        command -v ip >/dev/null || fail "ip missing: install iproute2"
        work=$(mktemp -d "/tmp/pk-debian-$case-XXXXXX")
        chmod 755 "$work" # services running as their own users read files here
        mnt=$(cg_mount)
        [ -n "$mnt" ] || fail "no cgroup v2 mount"
        own=$(sed -n 's/^0:://p' /proc/self/cgroup)
        parent="$mnt${own%/}"
        cg="$parent/pk-debian-$case-$$"
        cleanup() {
                set +e
                echo $$ >"$parent/cgroup.procs" 2>/dev/null
                if [ -d "$cg" ]; then
                        # After a SIGKILL the namespace's processes take a moment to die.
                        for _ in $(seq 1 100); do
                                [ -z "$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
                                sleep 0.1
                        done
                        # Depth first: the supervisor's per-service cgroups, then ours.
                        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
                fi
                rm -rf "$work"
        }
        trap cleanup EXIT
        mkdir "$cg" || fail "cannot make a cgroup in $parent"
        echo $$ >"$cg/cgroup.procs" || fail "cannot enter $cg"
        # Killed (a CTest timeout, ^C): unshare ignores SIGTERM, so SIGKILL it; its
        # child, pid 1 of the namespace, gets SIGKILL too (--kill-child); then cleanup.
        upid=
        trap '[ -z "$upid" ] || kill -KILL "$upid" 2>/dev/null; wait; exit 1' INT TERM HUP PIPE
        PK_DEBIAN_INNER=1 PK_DEBIAN_WORK=$work unshare --kill-child -fpmni --mount-proc bash "$0" "$@" &
        upid=$!
        rc=0
        wait $upid || rc=$?
        # Pid 1 of the namespace has exited: the kernel killed and reaped the rest.
        echo $$ >"$parent/cgroup.procs"
        [ -d "$cg" ] && [ -n "$(find "$cg" -name cgroup.procs -exec cat {} +)" ] &&
                { echo "debian.sh $case: FAIL: processes left in $cg"; rc=1; }
        exit $rc
fi

# ---- inside: pid 1 of new pid, mount, network and IPC namespaces --------------------------
work=$PK_DEBIAN_WORK
ip link set lo up
mount -t tmpfs tmpfs /run
# tmpfiles.d (--tmpfiles=on below: supervise is not PID 1 here) must touch only
# this namespace's fresh /run: the packages' files whose every line is under /run
# stay, the rest (lines for the host's /etc, /var, /tmp) are hidden.
mkdir -p "$work/tmpfiles.d"
for f in /usr/lib/tmpfiles.d/*.conf; do
        if awk '!/^[[:space:]]*(#|$)/ && $2 !~ /^(\/run\/|\/var\/run\/|%t\/)/ { bad = 1 }
                END { exit bad }' "$f"; then cp "$f" "$work/tmpfiles.d/"; fi
done
mount --bind "$work/tmpfiles.d" /usr/lib/tmpfiles.d
for d in /etc/tmpfiles.d /usr/local/lib/tmpfiles.d; do
        if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
done
ctl() { "$pk" ctl --control /run/pk.ctl "$@"; }
field() { ctl status "$1" | sed -n "s/^ *$2: //p"; }
wait_for() { # UNIT KEY VALUE: waits up to 30 s (a hang, not a measure)
        for _ in $(seq 1 300); do [ "$(field "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done
        fail "$1 $2 is '$(field "$1" "$2")', not '$3'"
}
retry() { # DESCRIPTION COMMAND...: until it succeeds, up to 30 s
        local what=$1
        shift
        for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
        fail "$what"
}
cgroup_of() { # PID -> its cgroup v2 directory
        echo "$(cg_mount)$(sed -n 's/^0:://p' "/proc/$1/cgroup")"
}
sv_start() { # UNIT...: the supervisor, then every unit active
        "$pk" supervise --control /run/pk.ctl --log-dir "$work/log" --tmpfiles=on \
                --unit-path "$work/units" --unit-path /lib/systemd/system "$@" 2>>"$work/stderr" &
        sv=$!
        retry "supervise does not answer" ctl ping
        for u in "$@"; do wait_for "$u" active active; done
}
sv_shutdown() {
        ctl shutdown >/dev/null
        wait $sv || fail "supervise exited $?"
}
# kill -9 PID of UNIT: restarted by its Restart= policy, with a new main pid.
killed_restarts() { # UNIT PID
        local n old
        n=$(field "$1" restarts)
        old=$(field "$1" pid)
        kill -9 "$2"
        wait_for "$1" restarts $((n + 1))
        wait_for "$1" active active
        [ "$(field "$1" pid)" != "$old" ] || fail "$1 has its old pid after the restart"
}
# ctl stop: inactive, and nothing left in the unit's cgroup.
stops_clean() { # UNIT
        local cg
        cg=$(cgroup_of "$(field "$1" pid)")
        case "$cg" in *"$1"*) ;; *) fail "$1 is not in a cgroup of its own: $cg" ;; esac
        ctl stop "$1" || fail "stop $1"
        wait_for "$1" active inactive
        if [ -e "$cg/cgroup.procs" ] && [ -n "$(cat "$cg/cgroup.procs")" ]; then
                fail "$1 left processes in $cg: $(cat "$cg/cgroup.procs")"
        fi
}
no_reload() { # UNIT without ExecReload=: refused, still running
        local pid out
        pid=$(field "$1" pid)
        out=$(ctl reload "$1" 2>&1) && fail "reload of $1 (no ExecReload=) succeeded"
        case "$out" in *"not supported"* | *"Operation not supported"*) ;; *) fail "reload of $1: $out" ;; esac
        [ "$(field "$1" pid)" = "$pid" ] && [ "$(field "$1" active)" = active ] ||
                fail "$1 changed by a refused reload"
}
mkdir -p "$work/units"

case $case in
nginx-redis)
        answers() { # nginx may take a moment after a restart
                [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ] &&
                        [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/)" = 200 ]
        }
        # nginx's unit has no Restart=: a drop-in (as an admin would put in /etc) adds it.
        mkdir -p "$work/units/nginx.service.d"
        printf '[Service]\nRestart=on-failure\n' >"$work/units/nginx.service.d/restart.conf"

        # 1. Ready, answering, listed gaps, reload, stop leaves the cgroup empty.
        sv_start nginx.service redis-server.service
        retry "redis or nginx does not answer on loopback" answers
        grep -q "redis-server.service: ProtectSystem=strict" "$work/stderr" || fail "not-enforced keys not listed at load"
        ctl status redis-server | grep -q "ProtectSystem=strict" || fail "not-enforced keys not in status"
        ctl reload nginx || fail "nginx reload (ExecReload= with \$MAINPID)"
        for u in nginx redis-server; do stops_clean $u; done
        sv_shutdown
        pgrep -x nginx && fail "nginx processes left"
        pgrep -x redis-server && fail "redis processes left"

        # 2. kill -9: restarted (in the same cgroup) and answering again.  nginx's
        # workers outlive their killed master; the unit-exec helper kills them before it
        # reports the daemon's death, so the cgroup is empty when the restart comes.
        sv_start nginx.service redis-server.service
        killed_restarts nginx "$(cat /run/nginx.pid)"
        killed_restarts redis-server "$(field redis-server pid)"
        retry "redis or nginx does not answer after kill -9" answers
        sv_shutdown
        ;;

memcached)
        # ExecStart= is a Perl wrapper that reads /etc/memcached.conf and execs
        # memcached (-u memcache, -l 127.0.0.1, -p 11211) in its place.
        stats_pid() { # the pid memcached reports over TCP
                exec 3<>/dev/tcp/127.0.0.1/11211 || return 1
                printf 'stats\r\nquit\r\n' >&3
                tr -d '\r' <&3 | sed -n 's/^STAT pid //p'
                exec 3<&-
        }
        answers() { [ "$(stats_pid 2>/dev/null)" = "$(field memcached pid)" ]; }
        sv_start memcached.service
        retry "memcached does not answer 'stats' on 127.0.0.1:11211 with its main pid" answers
        # /run is a fresh tmpfs: /run/memcached comes from the package's tmpfiles.d
        # line (d /run/memcached 0755 memcache memcache), applied before any unit
        # starts, and memcached (-P /var/run/memcached/memcached.pid) writes its pid there.
        grep -q "tmpfiles.d: .* applied, .* 0 warnings, 0 errors" "$work/stderr" ||
                fail "tmpfiles.d not applied cleanly: $(grep tmpfiles.d "$work/stderr")"
        [ "$(stat -c '%U:%G %a' /run/memcached)" = "memcache:memcache 755" ] ||
                fail "/run/memcached is '$(stat -c '%U:%G %a' /run/memcached 2>&1)'"
        pid_file() { [ "$(cat /run/memcached/memcached.pid)" = "$(field memcached pid)" ]; }
        retry "memcached's pid file is not $(field memcached pid): $(cat /run/memcached/memcached.pid 2>&1)" pid_file
        [ ! -e /run/nologin ] || fail "/run/nologin (f+! in systemd's tmpfiles.d) left in place"
        [ "$(ps -o user= -p "$(field memcached pid)")" = memcache ] || fail "memcached does not run as memcache"
        no_reload memcached
        killed_restarts memcached "$(field memcached pid)" # Restart=always
        retry "memcached does not answer after kill -9" answers
        stops_clean memcached
        sv_shutdown
        pgrep -x memcached && fail "memcached processes left"
        ;;

ssh)
        banner() { # the first line sshd sends on 127.0.0.1:22
                local line
                exec 4<>/dev/tcp/127.0.0.1/22 || return 1
                IFS= read -r -t 10 line <&4 || return 1
                exec 4<&-
                echo "${line%$'\r'}"
        }
        banner_is() { case "$(banner 2>/dev/null)" in $1) return 0 ;; *) return 1 ;; esac }
        # sshd_config through a bind mount of a copy: reload is checked by a
        # change sshd shows in its banner, and by a broken file `sshd -t` refuses.
        cp /etc/ssh/sshd_config "$work/sshd_config.orig"
        cp /etc/ssh/sshd_config "$work/sshd_config"
        mount --bind "$work/sshd_config" /etc/ssh/sshd_config
        sv_start ssh.service
        [ "$(stat -c %a /run/sshd)" = 755 ] || fail "RuntimeDirectory=sshd not made 0755"
        retry "sshd does not send its banner on 127.0.0.1:22" banner_is 'SSH-2.0-OpenSSH*'
        pid=$(field ssh pid)
        [ "$(readlink "/proc/$pid/exe")" = /usr/sbin/sshd ] || fail "the main pid is not sshd (Type=notify)"

        # Reload: ExecReload=sshd -t, then kill -HUP $MAINPID; sshd re-executes in place.
        echo "NoSuchOption yes" >>"$work/sshd_config"
        ctl reload ssh >/dev/null 2>&1 && fail "reload with a config sshd -t refuses succeeded"
        [ "$(field ssh pid)" = "$pid" ] && [ "$(field ssh active)" = active ] || fail "a refused reload changed sshd"
        { cat "$work/sshd_config.orig"; echo "VersionAddendum portkit-reloaded"; } >"$work/sshd_config"
        ctl reload ssh || fail "reload ssh"
        retry "reload did not reach sshd (no VersionAddendum in its banner)" banner_is '*portkit-reloaded'
        [ "$(field ssh pid)" = "$pid" ] || fail "sshd changed pid on reload"
        wait_for ssh active active

        killed_restarts ssh "$pid" # Restart=on-failure
        retry "sshd does not answer after kill -9" banner_is '*portkit-reloaded'

        # KillMode=process would leave a connection's sshd behind: the whole
        # cgroup goes (the note says so), an open connection included.
        ctl status ssh | grep -q "KillMode=process: the whole control group is killed" || fail "KillMode= note missing"
        exec 5<>/dev/tcp/127.0.0.1/22
        IFS= read -r -t 10 _ <&5 || fail "no banner on a held connection"
        cg=$(cgroup_of "$(field ssh pid)")
        [ "$(wc -l <"$cg/cgroup.procs")" -ge 2 ] || fail "no per-connection sshd in $cg"
        stops_clean ssh
        exec 5<&-

        # RestartPreventExitStatus=255: a SIGHUP that bypasses ExecReload='s
        # `sshd -t` makes sshd re-execute into a config it refuses and exit 255:
        # failed, not restarted (Restart=on-failure notwithstanding).
        ctl start ssh || fail "start ssh again"
        wait_for ssh active active
        n=$(field ssh restarts)
        echo "NoSuchOption yes" >>"$work/sshd_config"
        ctl kill --signal HUP ssh || fail "kill --signal HUP ssh"
        wait_for ssh active failed
        [ "$(field ssh last_exit)" = 255 ] || fail "sshd's last exit is $(field ssh last_exit), not 255"
        [ "$(field ssh restarts)" = "$n" ] || fail "ssh restarted after exit 255 (RestartPreventExitStatus=)"
        sv_shutdown
        pgrep -x sshd && fail "sshd processes left"
        ;;

cron)
        # /etc/cron.d through a bind mount: one @reboot job (run at cron's first
        # start after boot, i.e. with a fresh /run) records where it ran.
        mkdir "$work/cron.d"
        chmod 755 "$work/cron.d"
        printf '@reboot root cat /proc/self/cgroup >>%s/reboot-job\n' "$work" >"$work/cron.d/portkit-test"
        chmod 644 "$work/cron.d/portkit-test"
        mount --bind "$work/cron.d" /etc/cron.d
        sv_start cron.service
        retry "the @reboot cron job did not run" test -s "$work/reboot-job"
        grep -q "cron.service" "$work/reboot-job" || fail "the cron job ran outside cron's cgroup: $(cat "$work/reboot-job")"
        [ "$(readlink "/proc/$(field cron pid)/exe")" = /usr/sbin/cron ] || fail "the main pid is not cron"
        no_reload cron
        killed_restarts cron "$(field cron pid)" # Restart=on-failure
        stops_clean cron
        sv_shutdown
        pgrep -x cron && fail "cron processes left"
        ;;

postgresql)
        # A cluster of our own: tmpfs over the three directories postgresql-common
        # keeps clusters in, so the machine's clusters are neither seen nor touched.
        ver=$(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1 | cut -d/ -f5)
        for d in /etc/postgresql /var/lib/postgresql /var/log/postgresql; do
                [ -d "$d" ] || fail "$d missing (postgresql-common makes it)"
                mount -t tmpfs -o mode=755 tmpfs "$d"
        done
        chown postgres:postgres /etc/postgresql /var/lib/postgresql
        chown root:postgres /var/log/postgresql
        chmod 1775 /var/log/postgresql
        pg_createcluster "$ver" main >"$work/createcluster.log" 2>&1 ||
                fail "pg_createcluster $ver main: $(cat "$work/createcluster.log")"
        unit=postgresql@$ver-main.service
        pidfile=/run/postgresql/$ver-main.pid
        sql() { runuser -u postgres -- psql -XtAc "$1"; }
        answers() { pg_isready -q && [ "$(sql 'select 1' 2>/dev/null)" = 1 ]; }
        # Asked anew on every try: pg_ctl reload returns once SIGHUP is sent,
        # before the postmaster has read the files.
        work_mem_is() { [ "$(sql 'show work_mem')" = "$1" ]; }
        sv_start "$unit" postgresql.service
        retry "postgres does not answer on its socket" answers
        grep -q "OOMScoreAdjust=-900" "$work/stderr" || fail "OOMScoreAdjust= neither applied nor noted"

        # Before=postgresql.service: the cluster is ready before postgresql.service starts.
        r=$(grep -n "$unit: ready" "$work/stderr" | head -1 | cut -d: -f1)
        st=$(grep -n "postgresql.service: starting" "$work/stderr" | head -1 | cut -d: -f1)
        [ -n "$r" ] && [ -n "$st" ] && [ "$r" -lt "$st" ] ||
                fail "postgresql.service started before $unit was ready (Before=)"
        # PartOf=postgresql.service: restarting it restarts the cluster.
        pid=$(field "$unit" pid)
        ctl restart postgresql || fail "restart postgresql"
        wait_for postgresql active active
        wait_for "$unit" active active
        [ "$(field "$unit" pid)" != "$pid" ] || fail "restart of postgresql.service did not reach $unit (PartOf=)"
        retry "postgres does not answer after a restart of postgresql.service" answers

        # Reload (pg_ctlcluster reload): a setting changed in conf.d takes effect.
        echo "work_mem = '7MB'" >"/etc/postgresql/$ver/main/conf.d/portkit.conf"
        ctl reload "$unit" || fail "reload $unit"
        retry "reload did not reach postgres (work_mem)" work_mem_is 7MB
        # ReloadPropagatedFrom=postgresql.service: its reload reloads the cluster too.
        echo "work_mem = '9MB'" >"/etc/postgresql/$ver/main/conf.d/portkit.conf"
        ctl reload postgresql || fail "reload postgresql"
        retry "a reload of postgresql.service did not reach $unit (ReloadPropagatedFrom=)" \
                work_mem_is 9MB

        # Stop: ExecStop= (pg_ctlcluster stop), then nothing left; and a new start.
        stops_clean "$unit"
        pgrep -x postgres && fail "postgres processes left after stop"
        ctl start "$unit" || fail "start $unit again"
        wait_for "$unit" active active
        retry "postgres does not answer after a new start" answers

        # No Restart=: a kill -9 of the postmaster leaves the unit failed, not
        # restarted, and its backends do not outlive it.
        n=$(field "$unit" restarts)
        cg=$(cgroup_of "$(field "$unit" pid)")
        kill -9 "$(head -1 "$pidfile")"
        wait_for "$unit" active failed
        [ "$(field "$unit" restarts)" = "$n" ] || fail "$unit restarted without Restart="
        [ -n "$(cat "$cg/cgroup.procs" 2>/dev/null)" ] && fail "processes left in $cg: $(cat "$cg/cgroup.procs")"
        pgrep -x postgres && fail "postgres backends outlived their postmaster"
        sv_shutdown
        ;;
esac
echo "debian.sh $case: all passed"
