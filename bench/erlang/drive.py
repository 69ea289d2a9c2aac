#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/erlang/drive.py: plays the VM's side of `portkit wrap`'s protocol
# (docs/erlang.md) the way erlang/src/portkit.erl does, so that what wrap does
# per start, per round trip and per MiB can be counted with strace / valgrind
# wrapped around wrap alone (not the VM):
#   drive.py start  -- CMD...      wait for `done`, close the port
#   drive.py rt N   -- CMD...      N 16-byte round trips through the child (cat)
#   drive.py tput MIB -- CMD...    read MIB MiB of the child's output (head -c)
# CMD is the port program with its arguments, e.g.
#   strace -c -f -o /tmp/s build/portkit wrap -- /bin/cat
import os
import signal
import struct
import subprocess
import sys

ETF = 131
# 128 KiB per {ack, N}, as portkit.erl batches them; 0: one ack per message.
ACK_EVERY = int(os.environ.get("DRIVE_ACK_EVERY", str(128 << 10)))


def atom(name):
    b = name.encode()
    return bytes([119, len(b)]) + b


def term_stdin(data):
    return bytes([ETF, 104, 2]) + atom("stdin") + bytes([109]) + struct.pack(">I", len(data)) + data


def term_ack(n):
    return bytes([ETF, 104, 2]) + atom("ack") + bytes([110, 8, 0]) + struct.pack("<Q", n)


def send(p, term):
    p.stdin.write(struct.pack(">I", len(term)) + term)
    p.stdin.flush()


def frames(f):
    while True:
        h = f.read(4)
        if len(h) < 4:
            return
        (n,) = struct.unpack(">I", h)
        yield f.read(n)


def data_len(t):
    # {stdout, Bin}: 131 104 2 119 6 "stdout" 109 Len:32 Data
    if t[:11] == bytes([ETF, 104, 2]) + atom("stdout") or t[:11] == bytes([ETF, 104, 2]) + atom("stderr"):
        n = struct.unpack(">I", t[12:16])[0]
        if len(t) != 16 + n:
            sys.exit("bad frame: %d bytes, payload length %d" % (len(t), n))
        return n
    return None


def read_data(p, fr, want, unacked, stats):
    # Reads output frames until `want` bytes came, acknowledging every
    # ACK_EVERY bytes as portkit.erl does; returns the bytes not yet
    # acknowledged.  stats (for the stall message) counts the whole run.
    got = 0
    while got < want:
        n = data_len(next(fr))
        if n is None:
            continue
        got += n
        unacked += n
        stats.update(got=stats["got"] + n, frames=stats["frames"] + 1, unacked=unacked)
        if unacked >= ACK_EVERY:
            send(p, term_ack(unacked))
            unacked = 0
    return unacked


def main():
    mode, arg = sys.argv[1], sys.argv[2] if sys.argv[2] != "--" else None
    cmd = sys.argv[sys.argv.index("--") + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    out = os.fdopen(p.stdout.fileno(), "rb", buffering=1 << 20, closefd=False)
    fr = frames(out)
    first = next(fr)
    assert first[3:11] == atom("started") or first[3:12] == atom("started"), first
    unacked = 0
    stats = {"got": 0, "frames": 0, "unacked": 0}
    signal.signal(signal.SIGALRM, lambda *a: sys.exit("stalled: %r" % stats))
    signal.alarm(int(os.environ.get("DRIVE_TIMEOUT", "0")))
    if mode == "rt":
        msg = b"0123456789abcdef"
        for _ in range(int(arg)):
            send(p, term_stdin(msg))
            unacked = read_data(p, fr, len(msg), unacked, stats)
        send(p, bytes([ETF]) + atom("stop"))
    elif mode == "tput":
        unacked = read_data(p, fr, int(arg) << 20, unacked, stats)
        send(p, bytes([ETF]) + atom("stop"))
        send(p, bytes([ETF]) + atom("stop"))
    # Output still coming is acknowledged, as portkit.erl does, until `done`.
    for t in fr:
        if t == bytes([ETF]) + atom("done"):
            break
        n = data_len(t)
        if n:
            send(p, term_ack(n))
    p.stdin.close()
    p.wait()


main()
