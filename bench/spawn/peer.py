# SPDX-License-Identifier: MIT
# Python peer of the spawn benchmark: subprocess.Popen with stdout piped and
# pipes on fds 3 and 4 placed by a preexec_fn (which makes Python fork).
# usage: peer.py CHILD N BIG_MB  -> prints spawns/s
import os
import subprocess
import sys
import time


def main():
    child, n, big_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    big = b"\x01" * (big_mb << 20) if big_mb else b""  # touched: a big parent

    def spawn():
        r3, w3 = os.pipe()
        r4, w4 = os.pipe()

        def pre():
            os.dup2(w3, 3)
            os.dup2(w4, 4)

        p = subprocess.Popen([child], stdout=subprocess.PIPE, preexec_fn=pre, close_fds=False)
        os.close(w3)
        os.close(w4)
        if p.wait() != 0:
            sys.exit("child failed")
        p.stdout.close()
        os.close(r3)
        os.close(r4)

    spawn()
    t0 = time.monotonic()
    for _ in range(n):
        spawn()
    print(n / (time.monotonic() - t0))
    del big


main()
