#!/usr/bin/env python3
"""CPU profile of `nsprobe run` at N targets (default 1,000; UDP, 1 s, the fast
responder): `perf record -e cpu-clock -g` on the daemon for PROFILE_SECONDS
(default 20) while /metrics is scraped once a second with Accept-Encoding: gzip,
as Prometheus does; prints the top symbols (self time). Run via bench/profile.sh.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

N = int(os.environ.get("PROFILE_TARGETS", "1000"))
SECONDS = int(os.environ.get("PROFILE_SECONDS", "20"))


def scraper(stop, times):
    while not stop.is_set():
        req = urllib.request.Request(f"http://127.0.0.1:{B.NS_PORT}/metrics",
                                     headers={"Accept-Encoding": "gzip"})
        t = time.perf_counter()
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
        times.append((time.perf_counter() - t) * 1000)
        stop.wait(1.0)


def main():
    tmp = tempfile.mkdtemp(prefix="nsprobe-prof-")
    try:
        B.say(f"# nsprobe profile {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {N} targets, {SECONDS} s, "
              f"loadavg {' '.join(open('/proc/loadavg').read().split()[:3])}")
        fast = B.start([B.RESPONDER, "--port", str(B.FAST_PORT), "--count", str(B.FAST_COUNT)])
        B.wait_ready_line(fast, "fast responder")
        conf, n = B.write_config(tmp, N)
        p = B.start([B.NSPROBE, "run", "--config", conf], env={**os.environ, "RUST_LOG": "warn"})
        B.wait_nsprobe_ready(60)
        time.sleep(3)
        data = os.path.join(tmp, "perf.data")
        stop, times = threading.Event(), []
        th = threading.Thread(target=scraper, args=(stop, times))
        th.start()
        c0 = B.cpu_s(p.pid)
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g", "-o", data,
                        "-p", str(p.pid), "--", "sleep", str(SECONDS)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c1 = B.cpu_s(p.pid)
        stop.set()
        th.join()
        B.say(f"nsprobe CPU over the window: {100 * (c1 - c0) / SECONDS:.1f} % of a core; "
              f"gzip /metrics p50 {B.pct(times, .5):.1f} ms over {len(times)} scrapes")
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol",
                              "--stdio", "--percent-limit", "0.7", "-g", "none"],
                             capture_output=True, text=True)
        for line in rep.stdout.splitlines():
            if line.strip() and not line.startswith("#"):
                B.say("    " + line.rstrip())
    finally:
        B.finish(tmp)


if __name__ == "__main__":
    main()
