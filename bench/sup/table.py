#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/sup's table: reads supbench's "R LABEL KEY VALUE" lines on stdin and
# prints one row per peer, with ratios to the floor (and to tini for
# reaping).  Usage: table.py N SCALE < raw
import statistics
import sys
from collections import defaultdict

n, scale = int(sys.argv[1]), int(sys.argv[2])
data = defaultdict(lambda: defaultdict(list))
for line in sys.stdin:
    f = line.split()
    if len(f) == 4 and f[0] == "R":
        data[f[1]][f[2]].append(float(f[3]))


def med(label, key):
    v = data.get(label, {}).get(key)
    return statistics.median(v) if v else None


def p99(label, key):
    v = sorted(data.get(label, {}).get(key, []))
    return v[min(len(v) - 1, int(0.99 * len(v)))] if v else None


def fmt(v, unit_div=1.0, nd=2):
    return "-" if v is None else f"{v / unit_div:.{nd}f}"


def ratio(v, base):
    return "" if v is None or not base else f" ({v / base:.2f}x)"


peers = [p for p in data if "@" not in p]
KEYS = ("exit_fork_us", "kill_fork_us", "cold_ms")
floor = {k: med("floor", k) for k in KEYS}
# a peer with a cgroup per service is measured against the floor that makes them too
floor_cg = {k: med("floor+cgroup", k) for k in KEYS}
tini_reap = med("tini", "reap_ms")
cols = ["peer", "exit->fork med ms", "p99 ms", "kill->fork med ms", "exit->exec med ms",
        f"cold start {n} s", "PSS KiB", "PSS/extra svc KiB", "idle wake/s", f"reap orphans ms"]
rows = []
for p in peers:
    ef, kf, ee = med(p, "exit_fork_us"), med(p, "kill_fork_us"), med(p, "exit_exec_us")
    cold = med(p, "cold_ms")
    pss, pss2 = med(p, "pss_kib"), med(f"{p}@2N", "pss_kib")
    marg = (pss2 - pss) / n if pss is not None and pss2 is not None else None
    reap = med(p, "reap_ms")
    base = floor_cg if p.endswith("+cgroup") and floor_cg["cold_ms"] else floor
    left = med(p, "orphans_left")
    reap_s = fmt(reap, 1, 1) + ratio(reap, tini_reap) if left is None else f"{int(left)} left"
    rows.append([p,
                 fmt(ef, 1000, 3) + ratio(ef, base["exit_fork_us"]),
                 fmt(p99(p, "exit_fork_us"), 1000, 3),
                 fmt(kf, 1000, 3) + ratio(kf, base["kill_fork_us"]),
                 fmt(ee, 1000, 3),
                 fmt(cold, 1000, 3) + ratio(cold, base["cold_ms"]),
                 fmt(pss, 1, 0), fmt(marg, 1, 1), fmt(med(p, "idle_wps"), 1, 2), reap_s])
w = [max(len(str(r[i])) for r in rows + [cols]) for i in range(len(cols))]
for r in [cols] + rows:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
samples = {p: len(data[p].get("exit_fork_us", [])) for p in peers}
print(f"\nkill rounds per peer: {samples}")
if floor_cg["cold_ms"]:
    print("ratios of a +cgroup peer are to floor+cgroup (the floor with a cgroup per service)")
big = f"portkit@{scale}"
if big in data:
    print(f"{scale} services in one portkit supervisor: cold start {fmt(med(big, 'cold_ms'), 1000, 3)} s, "
          f"PSS {fmt(med(big, 'pss_kib'), 1024, 1)} MiB, exit->fork median "
          f"{fmt(med(big, 'exit_fork_us'), 1000, 3)} ms (p99 {fmt(p99(big, 'exit_fork_us'), 1000, 3)} ms)")
