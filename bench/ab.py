#!/usr/bin/env python3
"""A/B of two nsprobe builds, measured at the same time: CPU per probe of B relative to A.

On this VM the same binary's CPU per probe moves by a third from one minute to the next
(bench/README.md), so two builds measured one after the other (ratio.py with
NSPROBE_BIN, or bench.py twice) differ by the host as much as by the code. Here both
run side by side, each probing N targets at 1 s against its own fast responder with its
own HTTP port, and every window measures both: the host's mood moves both figures
together. The two processes are not placed alike (in an A/A run the second one measured
0.87–0.95 of the first), so the run is made twice, with the order swapped, and the
figure is the geometric mean of B/A from the first pass and B/A from the second, which
cancels a bias of the position.

    flock /tmp/nsprobe-systest.lock python3 bench/ab.py N ROUNDS A_BINARY B_BINARY

AB_WINDOW seconds per round (default 10); AB_RESPONDER_ARGS adds arguments to the
responders (`--delay-ms 3600000`: each socket reads one query and holds its answer for an
hour, so every server is silent and every probe times out). Loopback only. Prints every round and the
result; BENCH_RESULTS=FILE keeps the output.
"""

import math
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402
import threads as T  # noqa: E402

WINDOW = float(os.environ.get("AB_WINDOW", "10"))
RESPONDER_ARGS = os.environ.get("AB_RESPONDER_ARGS", "").split()


def cpu_s(pid):
    """On-CPU seconds of every thread of `pid` (schedstat nanoseconds, via threads.py), not
    10 ms clock ticks: a 10 s window of 10,000 probes is 0.01 s of CPU per tick."""
    return sum(on_cpu for _, on_cpu, _, _ in T.threads(pid).values())


def probes_of(port):
    B.NS_PORT = port
    return B.scrape()[0]


def one_pass(tmp, n, rounds, bins):
    """Runs `bins` side by side; returns each one's CPU s per 10k probes, per round."""
    procs = []
    for i, b in enumerate(bins):
        B.FAST_PORT = 26000 + 100 * i
        B.NS_PORT = 19300 + i
        fast = B.start([B.RESPONDER, "--port", str(B.FAST_PORT), "--count", str(B.FAST_COUNT),
                        *RESPONDER_ARGS])
        B.wait_ready_line(fast, f"fast responder {i}")
        d = os.path.join(tmp, f"{len(os.listdir(tmp))}")
        os.makedirs(d)
        conf, _ = B.write_config(d, n)
        p = B.start([b, "run", "--config", conf], env={**os.environ, "RUST_LOG": "warn"})
        B.wait_nsprobe_ready(60)
        procs.append((p, B.NS_PORT))
    time.sleep(4)  # past the first round
    out = [[] for _ in bins]
    for r in range(rounds):
        start = [(probes_of(port), cpu_s(p.pid)) for p, port in procs]
        time.sleep(WINDOW)
        cells = []
        for i, ((p, port), (pr0, c0)) in enumerate(zip(procs, start)):
            cpu = cpu_s(p.pid) - c0  # before the scrape: its rendering is not counted
            pr = probes_of(port) - pr0
            out[i].append(cpu / max(pr, 1) * 10000)
            cells.append(f"{os.path.basename(bins[i])} {out[i][-1]:.3f} ({pr / WINDOW:.0f}/s)")
        B.say(f"  round {r + 1}, load {open('/proc/loadavg').read().split()[0]}: "
              + "  ".join(cells))
    B.stop_all()
    return out


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    n, rounds, a, b = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    for f in (a, b, B.RESPONDER):
        if not os.path.exists(f):
            sys.exit(f"missing {f}")
    tmp = tempfile.mkdtemp(prefix="nsprobe-ab-")
    try:
        B.say(f"# A/B side by side, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {n} targets at 1 s, "
              f"{rounds} rounds of {WINDOW:.0f} s a pass; nproc={os.cpu_count()} "
              f"kernel={os.uname().release}")
        B.say(f"# A = {a}\n# B = {b}")
        if RESPONDER_ARGS:
            B.say(f"# responders with {' '.join(RESPONDER_ARGS)}")
        B.say("pass 1: A first")
        first = one_pass(tmp, n, rounds, [a, b])
        B.say("pass 2: B first")
        second = one_pass(tmp, n, rounds, [b, a])
        r1 = statistics.median(y / x for x, y in zip(first[0], first[1]))
        r2 = statistics.median(y / x for y, x in zip(second[0], second[1]))
        B.say(f"B/A: pass 1 median {r1:.3f}, pass 2 median {r2:.3f}; geometric mean "
              f"{math.sqrt(r1 * r2):.3f} (A median {statistics.median(first[0] + second[1]):.3f}, "
              f"B median {statistics.median(first[1] + second[0]):.3f} CPU s / 10k probes)")
    finally:
        B.finish(tmp)


if __name__ == "__main__":
    main()
