#!/usr/bin/env python3
"""nsprobe memory at scale: RSS before scrapes, after gzip scrapes, peak after identity scrapes.

Run through bench/rss.sh (which builds the binaries first) under the shared lock:

    flock /tmp/nsprobe-systest.lock bench/rss.sh [TARGETS ...]

Uses bench/bench.py's responder, config and helpers (same ports, loopback only). For each
target count: start `nsprobe run`, wait until ready plus `RSS_SETTLE` seconds (default 30),
read VmRSS and the CPU used over the settle window, then five gzip scrapes of /metrics
(VmRSS), then five identity scrapes (VmRSS, VmHWM). `RSS_WRAP` (e.g. "heaptrack -o
/tmp/ns") runs nsprobe under a wrapper; the pid read is then the wrapper's child.
`RSS_BIN` runs another nsprobe binary (e.g. a copy of the previous build).
Every process started is stopped on exit.
"""

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SETTLE = float(os.environ.get("RSS_SETTLE", "30"))
WRAP = shlex.split(os.environ.get("RSS_WRAP", ""))
bench.NSPROBE = os.environ.get("RSS_BIN", bench.NSPROBE)


def descendants(pid):
    """Direct children of `pid` (from /proc/PID/task/*/children)."""
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def child_pid(pid):
    """The nsprobe process: `pid` itself, or its descendant when run under a wrapper."""
    if not WRAP:
        return pid
    for _ in range(100):
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        st = f.read()
                    comm = st[st.index("(") + 1:st.rindex(")")]
                    ppid = int(st[st.rindex(")") + 1:].split()[1])
                    if comm == "nsprobe" and ppid in (pid, *descendants(pid)):
                        return int(d)
                except OSError:
                    pass
        time.sleep(0.1)
    raise RuntimeError("nsprobe child not found")


def run(tmp, n_targets):
    conf, n = bench.write_config(tmp, n_targets)
    p = bench.start(WRAP + [bench.NSPROBE, "run", "--config", conf],
                    env={**os.environ, "RUST_LOG": "warn"})
    pid = child_pid(p.pid)
    bench.wait_nsprobe_ready(120)
    c0, t0 = bench.cpu_s(pid), time.time()
    time.sleep(SETTLE)
    c1, t1 = bench.cpu_s(pid), time.time()
    r = {"targets": n, "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
         "rss_before": bench.vm(pid, "VmRSS"), "hwm_before": bench.vm(pid, "VmHWM")}
    gz = [len(bench.get(f"http://127.0.0.1:{bench.NS_PORT}/metrics", 30, gzip=True)[0])
          for _ in range(5)]
    r["rss_gzip"] = bench.vm(pid, "VmRSS")
    r["hwm_gzip"] = bench.vm(pid, "VmHWM")
    ident = [len(bench.get(f"http://127.0.0.1:{bench.NS_PORT}/metrics", 30)[0]) for _ in range(5)]
    r["rss_ident"] = bench.vm(pid, "VmRSS")
    r["hwm_ident"] = bench.vm(pid, "VmHWM")
    r["gzip_bytes"], r["ident_bytes"] = gz[-1], ident[-1]
    p.send_signal(signal.SIGTERM if not WRAP else signal.SIGINT)
    bench.stop(p, timeout=60, pid=pid)
    return r


def main():
    counts = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    tmp = tempfile.mkdtemp(prefix="nsprobe-rss-")
    try:
        load = open("/proc/loadavg").read().split()[:3]
        bench.say(f"# nsprobe rss {time.strftime('%Y-%m-%d %H:%M:%S %Z')} loadavg {' '.join(load)} "
                  f"settle {SETTLE:.0f} s wrap {' '.join(WRAP) or '-'}")
        fast = bench.start([bench.RESPONDER, "--port", str(bench.FAST_PORT),
                            "--count", str(bench.FAST_COUNT)])
        bench.wait_ready_line(fast, "fast responder")
        bench.say(f"{'targets':>8} {'CPU %':>6} {'RSS before':>10} {'RSS gzip':>9} {'RSS ident':>9} "
                  f"{'HWM':>7} {'ident MB':>8} {'gzip KiB':>8}   (MiB)")
        for n in counts:
            r = run(tmp, n)
            bench.say(f"{r['targets']:8d} {r['cpu_pct']:6.1f} {r['rss_before']:10.1f} "
                      f"{r['rss_gzip']:9.1f} {r['rss_ident']:9.1f} {r['hwm_ident']:7.1f} "
                      f"{r['ident_bytes'] / 1e6:8.1f} {r['gzip_bytes'] / 1024:8.0f}")
        load = open("/proc/loadavg").read().split()[:3]
        bench.say(f"# loadavg at end {' '.join(load)}")
    finally:
        bench.finish(tmp)


if __name__ == "__main__":
    main()
