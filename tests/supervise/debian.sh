#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run by tests/test_supervise.c inside `unshare -fpmn --mount-proc` (own pid,
# mount and network namespaces): nginx and redis-server from their unmodified
# Debian units under `portkit supervise`.  /run is a fresh tmpfs, the network
# is a private loopback, so nothing here touches the machine's services.
# Usage: debian.sh PORTKIT
set -euo pipefail
pk=$1
fail() { echo "debian.sh: FAIL: $*"; echo "--- supervisor log"; cat "$work/stderr" || true; exit 1; }
ip link set lo up
mount -t tmpfs tmpfs /run
work=$(mktemp -d /tmp/pk-debian-XXXXXX)
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

# nginx's unit has no Restart=: a drop-in (as an admin would put in /etc) adds it.
mkdir -p "$work/units/nginx.service.d"
printf '[Service]\nRestart=on-failure\n' >"$work/units/nginx.service.d/restart.conf"
"$pk" supervise --control /run/pk.ctl --log-dir "$work/log" --unit-path "$work/units" \
        --unit-path /lib/systemd/system nginx.service redis-server.service 2>"$work/stderr" &
sv=$!
for _ in $(seq 1 300); do ctl ping >/dev/null 2>&1 && break; sleep 0.1; done

for u in nginx redis-server; do wait_for $u active active; done
echo "both ready"
[ "$(redis-cli -h 127.0.0.1 ping)" = PONG ] || fail "redis does not answer"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/)" = 200 ] || fail "nginx does not answer"
echo "both answer on loopback"
grep -q "redis-server.service: ProtectSystem=strict" "$work/stderr" || fail "not-enforced keys not listed at load"
ctl status redis-server | grep -q "ProtectSystem=strict" || fail "not-enforced keys not in status"

# kill -9: restarted, answering again.
for u in nginx redis-server; do
        pid=$(field $u pid)
        n=$(field $u restarts)
        if [ $u = nginx ]; then kill -9 "$(cat /run/nginx.pid)"; else kill -9 "$pid"; fi
        wait_for $u restarts $((n + 1))
        wait_for $u active active
done
[ "$(redis-cli -h 127.0.0.1 ping)" = PONG ] || fail "redis does not answer after its restart"
for _ in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/)" = 200 ] && break; sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/)" = 200 ] || fail "nginx does not answer after its restart"
echo "both restarted after kill -9"

# Reload (ExecReload= with $MAINPID) and stop with nothing left in the cgroup.
ctl reload nginx || fail "nginx reload"
for u in nginx redis-server; do
        pid=$(field $u pid)
        cg=$(cgroup_of "$pid")
        ctl stop $u || fail "stop $u"
        wait_for $u active inactive
        if [ -e "$cg/cgroup.procs" ] && [ -n "$(cat "$cg/cgroup.procs")" ]; then
                fail "$u left processes in $cg: $(cat "$cg/cgroup.procs")"
        fi
done
pgrep -x nginx && fail "nginx processes left"
pgrep -x redis-server && fail "redis processes left"
echo "both stopped, cgroups empty"
ctl shutdown
wait $sv || fail "supervise exited $?"
echo "debian.sh: all passed"
