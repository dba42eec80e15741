#!/usr/bin/env python3
"""Per-thread CPU and wake-ups of `nsprobe run` at N targets (UDP, 1 s, the fast
responder; no HTTP load): each thread's on-CPU time (`/proc/<pid>/task/*/schedstat`,
nanoseconds) and its voluntary (wake-ups after sleeping) and involuntary context
switches per second over a window, with the probe rate and schedule slip from
`/metrics`. What bench.py's per-process figure is made of, and what a change to the
wake-up pattern does.

    flock /tmp/nsprobe-systest.lock python3 bench/threads.py [TARGETS] [SECONDS] [NSPROBE]

Defaults: 1000 targets, 15 s, target/release/nsprobe. BENCH_RESULTS=FILE keeps the
output. Loopback only.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402


def threads(pid):
    """tid → (name, on-CPU s, voluntary, involuntary) for every thread of `pid`."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            st = open(f"/proc/{pid}/task/{t}/stat").read()
            name = st[st.index("(") + 1:st.rindex(")")]
            status = open(f"/proc/{pid}/task/{t}/status").read()
            vol = int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
            invol = int(status.split("nonvoluntary_ctxt_switches:")[1].split()[0])
            on_cpu = int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0]) / 1e9
            out[t] = (name, on_cpu, vol, invol)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass  # a thread that ended meanwhile
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15
    if len(sys.argv) > 3:
        B.NSPROBE = sys.argv[3]
    tmp = tempfile.mkdtemp(prefix="nsprobe-threads-")
    try:
        fast = B.start([B.RESPONDER, "--port", str(B.FAST_PORT), "--count", str(B.FAST_COUNT)])
        B.wait_ready_line(fast, "fast responder")
        conf, n = B.write_config(tmp, n)
        p = B.start([B.NSPROBE, "run", "--config", conf], env={**os.environ, "RUST_LOG": "warn"})
        B.wait_nsprobe_ready(60)
        time.sleep(5)  # past the first rounds
        pr0, sl0 = B.scrape()
        a, c0, t0 = threads(p.pid), B.cpu_s(p.pid), time.time()
        time.sleep(seconds)
        b, c1, el = threads(p.pid), B.cpu_s(p.pid), time.time() - t0
        pr1, sl1 = B.scrape()
        load = open("/proc/loadavg").read().split()[0]
        B.say(f"{n} targets, {el:.1f} s, load {load}: process {1000 * (c1 - c0) / el:.1f} ms/s, "
              f"{(pr1 - pr0) / el:.0f} probes/s, slip p50 {1000 * B.hist_quantile(sl0, sl1, .5)[0]:.2f} "
              f"p99 {1000 * B.hist_quantile(sl0, sl1, .99)[0]:.2f} ms")
        rows = []
        for t, (name, cpu, vol, invol) in b.items():
            _, cpu0, vol0, invol0 = a.get(t, (name, 0.0, 0, 0))
            rows.append((name, (cpu - cpu0) / el, (vol - vol0) / el, (invol - invol0) / el))
        for name, cpu, vol, invol in sorted(rows, key=lambda r: -r[1]):
            if cpu >= 0.0001 or vol >= 0.5:
                B.say(f"  {name:24} {1000 * cpu:7.2f} ms/s  woke {vol:7.1f}/s  preempted {invol:6.1f}/s")
    finally:
        B.finish(tmp)


if __name__ == "__main__":
    main()
