#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run by tests/test_supervise.c inside `unshare -fpmn --mount-proc` (own pid,
# mount and network namespaces): nginx and redis-server from their unmodified
# Debian units under `portkit supervise`.  /run is a fresh tmpfs, the network
# is a private loopback, so nothing here touches the machine's services.
# Usage: debian.sh PORTKIT
set -euo pipefail
pk=$1
work=$(mktemp -d /tmp/pk-debian-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "debian.sh: FAIL: $*"; echo "--- supervisor log"; grep -v "not enforced" "$work/stderr" || true; exit 1; }
ip link set lo up
mount -t tmpfs tmpfs /run
ctl() { "$pk" ctl --control /run/pk.ctl "$@"; }
field() { ctl status "$1" | sed -n "s/^ *$2: //p"; }
wait_for() { # UNIT KEY VALUE
        for _ in $(seq 1 300); do [ "$(field "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done
        fail "$1 $2 is '$(field "$1" "$2")', not '$3'"
}
cgroup_of() { # PID -> its cgroup v2 directory
        local mnt; mnt=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
        echo "$mnt$(sed -n 's/^0:://p' "/proc/$1/cgroup")"
}
answers() { # both services answer on loopback (nginx may take a moment after a restart)
        for _ in $(seq 1 100); do
                [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ] &&
                        [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/)" = 200 ] && return 0
                sleep 0.1
        done
        fail "redis or nginx does not answer on loopback"
}
start() { # CGROUP-MODE
        # nginx's unit has no Restart=: a drop-in (as an admin would put in /etc) adds it.
        mkdir -p "$work/units/nginx.service.d"
        printf '[Service]\nRestart=on-failure\n' >"$work/units/nginx.service.d/restart.conf"
        "$pk" supervise --control /run/pk.ctl --log-dir "$work/log" --cgroup "$1" \
                --unit-path "$work/units" --unit-path /lib/systemd/system \
                nginx.service redis-server.service 2>"$work/stderr" &
        sv=$!
        for _ in $(seq 1 300); do ctl ping >/dev/null 2>&1 && break; sleep 0.1; done
        for u in nginx redis-server; do wait_for $u active active; done
        answers
}
shutdown() {
        ctl shutdown >/dev/null
        wait $sv || fail "supervise exited $?"
        pgrep -x nginx && fail "nginx processes left"
        pgrep -x redis-server && fail "redis processes left"
        return 0
}

# 1. With a cgroup per service: ready, answering, listed gaps, reload, stop leaves the cgroup empty.
start auto
echo "both ready and answering (cgroups)"
grep -q "redis-server.service: ProtectSystem=strict" "$work/stderr" || fail "not-enforced keys not listed at load"
ctl status redis-server | grep -q "ProtectSystem=strict" || fail "not-enforced keys not in status"
ctl reload nginx || fail "nginx reload (ExecReload= with \$MAINPID)"
for u in nginx redis-server; do
        cg=$(cgroup_of "$(field $u pid)")
        case "$cg" in *"$u"*) ;; *) fail "$u is not in a cgroup of its own: $cg" ;; esac
        ctl stop $u || fail "stop $u"
        wait_for $u active inactive
        if [ -e "$cg/cgroup.procs" ] && [ -n "$(cat "$cg/cgroup.procs")" ]; then
                fail "$u left processes in $cg: $(cat "$cg/cgroup.procs")"
        fi
done
echo "both stopped, cgroups empty"
shutdown

# 2. kill -9: restarted (in the same cgroup) and answering again.  nginx's
# workers outlive their killed master; the unit-exec helper kills them before it
# reports the daemon's death, so the cgroup is empty when the restart comes.
start auto
for u in nginx redis-server; do
        n=$(field $u restarts)
        if [ $u = nginx ]; then kill -9 "$(cat /run/nginx.pid)"; else kill -9 "$(field $u pid)"; fi
        wait_for $u restarts $((n + 1))
        wait_for $u active active
done
answers
echo "both restarted after kill -9"
shutdown
echo "debian.sh: all passed"
