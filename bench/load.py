#!/usr/bin/env python3
"""HTTP under load while probing (issue 13, item 3): `nsprobe run` probing 1,000
targets at 1 s (UDP, the fast responder) while wrk holds 1,000 connections for
60 s cycling over /metrics, /api/v2/summary.json and /; then 10,000 idle
connections are opened and a new client must still be served.

Reports: wrk throughput/latency/errors, probe schedule slip p50/p99 over the wrk
window (from nsprobe_schedule_slip_seconds), probes/s, CPU, VmHWM, and the new
client's latency with 10,000 idle connections open. Run via bench/load.sh.
Loopback only; every process started is stopped in `finally`.
"""

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

DURATION = int(os.environ.get("LOAD_SECONDS", "60"))
CONNS = int(os.environ.get("LOAD_CONNECTIONS", "1000"))
IDLE = int(os.environ.get("LOAD_IDLE", "10000"))


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, IDLE + 5000)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by nsprobe and wrk
    tmp = tempfile.mkdtemp(prefix="nsprobe-load-")
    idle = []
    try:
        B.say(f"# nsprobe HTTP load benchmark {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        B.say(f"# machine: nproc={os.cpu_count()} kernel={os.uname().release} cpu={cpu}")
        B.say(f"# loadavg at start: {' '.join(open('/proc/loadavg').read().split()[:3])} (shared machine)")
        B.say(f"# RLIMIT_NOFILE {want}; wrk {CONNS} connections, {DURATION} s; then {IDLE} idle connections")
        fast = B.start([B.RESPONDER, "--port", str(B.FAST_PORT), "--count", str(B.FAST_COUNT)])
        B.wait_ready_line(fast, "fast responder")
        conf, n = B.write_config(tmp, 1000)
        p = B.start([B.NSPROBE, "run", "--config", conf], env={**os.environ, "RUST_LOG": "warn"})
        base = f"http://127.0.0.1:{B.NS_PORT}"
        B.wait_nsprobe_ready(30)
        time.sleep(3)
        paths = ["/metrics", "/api/v2/summary.json", "/"]
        try:
            B.get(f"{base}/")
        except Exception:  # noqa: BLE001 - 404 when no status page is served yet
            paths[2] = "/api/v1/status"
            B.say("# / is not served (404): using /api/v1/status as the third path")
        lua = os.path.join(tmp, "paths.lua")
        with open(lua, "w") as f:
            f.write("local paths = {" + ", ".join(f'"{x}"' for x in paths) + "}\n"
                    "local i = 0\nrequest = function()\n  i = i + 1\n"
                    "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n")
        ts0 = time.time()
        pr0, sl0 = B.scrape()
        c0, t0 = B.cpu_s(p.pid), time.time()
        wrk = subprocess.run(["wrk", "-t2", f"-c{CONNS}", f"-d{DURATION}s", "--timeout", "10s",
                              "--latency", "-s", lua, base], capture_output=True, text=True)
        c1, t1 = B.cpu_s(p.pid), time.time()
        pr1, sl1 = B.scrape()
        # Probe counters are applied by the state thread: scrape once more after a pause,
        # so probes skipped by the schedule and reports applied late can be told apart.
        time.sleep(3)
        pr2, _ = B.scrape()
        ts2 = time.time()
        B.say(f"## wrk -t2 -c{CONNS} -d{DURATION}s over {', '.join(paths)}")
        for line in wrk.stdout.splitlines():
            B.say("    " + line)
        if wrk.returncode != 0:
            B.say(f"wrk exit {wrk.returncode}: {wrk.stderr.strip()}")
        s50, b50 = B.hist_quantile(sl0, sl1, .5)
        s99, b99 = B.hist_quantile(sl0, sl1, .99)
        B.say(f"probes during the window: {pr1 - pr0:.0f} ({(pr1 - pr0) / (t1 - t0):.0f}/s, {n} targets)")
        B.say(f"probes from the scrape before wrk to one 3 s after it: {pr2 - pr0:.0f} "
              f"in {ts2 - ts0:.1f} s ({(pr2 - pr0) / (ts2 - ts0):.0f}/s)")
        B.say(f"slip p50 {s50 * 1e3:.2f} ms (bucket ≤ {b50 * 1e3:g}), p99 {s99 * 1e3:.2f} ms (bucket ≤ {b99 * 1e3:g})")
        B.say(f"nsprobe CPU {100 * (c1 - c0) / (t1 - t0):.0f} % of a core during wrk; VmHWM {B.vm(p.pid, 'VmHWM'):.1f} MiB")

        B.say(f"## {IDLE} idle connections, then a new client")
        opened = 0
        t = time.time()
        for _ in range(IDLE):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", B.NS_PORT))
            except BlockingIOError:
                pass
            except OSError as e:
                B.say(f"connect failed after {opened}: {e}")
                s.close()
                break
            idle.append(s)
            opened += 1
        B.say(f"opened {opened} idle connections in {time.time() - t:.1f} s")
        time.sleep(2)
        lat, fails = [], 0
        for _ in range(20):
            try:
                _, dt = B.get(f"{base}/healthz", 5)
                lat.append(dt * 1000)
            except Exception as e:  # noqa: BLE001
                fails += 1
                B.say(f"new client failed: {e}")
        try:
            body, dt = B.get(f"{base}/metrics", 10)
            B.say(f"/metrics with the idle connections open: {dt * 1000:.1f} ms, {len(body) / 1024:.0f} KiB")
        except Exception as e:  # noqa: BLE001
            B.say(f"/metrics failed with the idle connections open: {e}")
        if lat:
            B.say(f"new client /healthz: {len(lat)}/20 ok, p50 {B.pct(lat, .5):.1f} ms, max {max(lat):.1f} ms; {fails} failed")
        B.say(f"nsprobe VmHWM after the idle test {B.vm(p.pid, 'VmHWM'):.1f} MiB, VmRSS {B.vm(p.pid, 'VmRSS'):.1f} MiB")
    finally:
        for s in idle:
            s.close()
        B.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    B.write_results()


if __name__ == "__main__":
    main()
