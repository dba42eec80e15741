#!/usr/bin/env python3
"""nsprobe benchmarks: accuracy and cost, side by side with blackbox_exporter.

Run through bench/run.sh (which builds the binaries first). Every process started
here is stopped in `finally`; every loop is bounded in count and time.
Only loopback addresses are used.
"""

import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
NSPROBE = os.path.join(REL, "nsprobe")
RESPONDER = os.path.join(REL, "examples", "bench_responder")
PROBE = os.path.join(REL, "examples", "bench_probe")
BLACKBOX = shutil.which("prometheus-blackbox-exporter") or "/usr/bin/prometheus-blackbox-exporter"
KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"

QUICK = os.environ.get("BENCH_QUICK") == "1"
N_ACC = 200 if QUICK else 1000          # nsprobe / blackbox samples per accuracy row
N_KDIG = 100 if QUICK else 300          # kdig/dig samples (one process each)
N_BB_COST = 2000 if QUICK else 10000    # blackbox /probe requests for the cost row
SCALE = [1000] if QUICK else [1000, 10000]
WINDOW = 10.0 if QUICK else 20.0        # seconds of steady state measured per scale run

KNOT_PORT = 25353
FAST_PORT = 26000   # fast responder: FAST_COUNT ports from here
FAST_COUNT = 50
SLOW_PORT = 27000   # delayed responder (one port)
DELAY_MS = 20
BB_PORT = 29115
NS_PORT = 29853
ZONE = "bench.test."
CLK = os.sysconf("SC_CLK_TCK")

procs = []
out_lines = []


def say(line=""):
    print(line, flush=True)
    out_lines.append(line)


def start(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kw)
    procs.append(p)
    return p


def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + 5
    for p in reversed(procs):
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_ready_line(p, what, timeout=10):
    t = time.time()
    while time.time() - t < timeout:
        line = p.stdout.readline()
        if "ready" in line:
            return
        if p.poll() is not None:
            break
    raise RuntimeError(f"{what} did not start")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0  # MiB
    return float("nan")


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def get(url, timeout=10, gzip=False):
    """GET url; with gzip=True asks for gzip as Prometheus does and returns the
    compressed body as received (end to end = until the last byte arrived)."""
    t = time.perf_counter()
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
    return body, (time.perf_counter() - t)


def wait_dns(port, timeout=10):
    t = time.time()
    while time.time() - t < timeout:
        r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), ZONE, "SOA", "+time=1", "+retry=0"],
                           capture_output=True, text=True)
        if "NOERROR" in r.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError(f"no DNS answer on port {port}")


# ---------------------------------------------------------------- servers

def write_results():
    """Everything said so far to the file named by $BENCH_RESULTS, if set."""
    res = os.environ.get("BENCH_RESULTS")
    if res:
        with open(res, "w") as f:
            f.write("\n".join(out_lines) + "\n")


def finish(tmp):
    """The end of every bench script: stop what it started, remove `tmp`, keep the output."""
    stop_all()
    shutil.rmtree(tmp, ignore_errors=True)
    write_results()


def wait_nsprobe_ready(limit=60):
    """Polls nsprobe's /readyz (the first probe round done) for at most `limit` seconds."""
    t = time.time()
    while time.time() - t < limit:
        try:
            if get(f"http://127.0.0.1:{NS_PORT}/readyz", 1)[0]:
                return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(p, timeout=10, pid=None):
    """SIGTERM to `pid` (default: the process itself), then wait; SIGKILL if it lingers."""
    try:
        os.kill(pid or p.pid, signal.SIGTERM)
    except OSError:
        pass
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def start_knot(tmp):
    d = os.path.join(tmp, "knot")
    os.makedirs(d)
    with open(os.path.join(d, "bench.test.zone"), "w") as f:
        f.write("$ORIGIN bench.test.\n$TTL 300\n"
                "@ SOA ns1 hostmaster 2026010101 7200 3600 1209600 300\n"
                "@ NS ns1\nns1 A 127.0.0.1\n")
    conf = os.path.join(d, "knot.conf")
    with open(conf, "w") as f:
        f.write(f"server:\n    rundir: {d}\n    listen: 127.0.0.1@{KNOT_PORT}\n"
                f"database:\n    storage: {d}\n"
                f"log:\n  - target: stderr\n    any: error\n"
                f"zone:\n  - domain: bench.test\n    file: {d}/bench.test.zone\n")
    start([KNOTD, "-c", conf])
    wait_dns(KNOT_PORT)


def start_blackbox(tmp):
    conf = os.path.join(tmp, "blackbox.yml")
    with open(conf, "w") as f:
        f.write("modules:\n  dns_soa:\n    prober: dns\n    timeout: 2s\n    dns:\n"
                f"      query_name: \"{ZONE}\"\n      query_type: SOA\n"
                "      transport_protocol: udp\n      preferred_ip_protocol: ip4\n")
    p = start([BLACKBOX, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{BB_PORT}",
               "--log.level=error"])
    t = time.time()
    while time.time() - t < 10:
        try:
            get(f"http://127.0.0.1:{BB_PORT}/-/healthy", 1)
            return p
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("blackbox_exporter did not start")


# ---------------------------------------------------------------- accuracy

BB_RE = re.compile(r'^(probe_dns_duration_seconds\{phase="(\w+)"\}|probe_duration_seconds|probe_success) (\S+)', re.M)


class BB:
    """Keep-alive client for blackbox_exporter's /probe, as a Prometheus scraper would use."""

    def __init__(self):
        self.c = http.client.HTTPConnection("127.0.0.1", BB_PORT, timeout=10)

    def probe(self, target):
        self.c.request("GET", f"/probe?module=dns_soa&target={target}")
        body = self.c.getresponse().read().decode()
        vals = {}
        for m in BB_RE.finditer(body):
            vals[m.group(2) or m.group(1)] = float(m.group(3))
        return vals


def nsprobe_rtts(port, n):
    r = subprocess.run([PROBE, f"127.0.0.1:{port}", ZONE, str(n)], capture_output=True, text=True,
                       timeout=120)
    return [float(x) for x in r.stdout.split()]


def cli_rtts(argv, pattern, n):
    """RTTs in µs that a DNS command-line tool reports, one process per query
    (at most n queries, at most 60 s); `pattern` captures the time in ms."""
    out = []
    t = time.time()
    for _ in range(n):
        if time.time() - t > 60:
            break
        r = subprocess.run(argv, capture_output=True, text=True)
        m = re.search(pattern, r.stdout)
        if m:
            out.append(float(m.group(1)) * 1000)
    return out


def kdig_rtts(port, n):
    return cli_rtts(["kdig", "@127.0.0.1", "-p", str(port), ZONE, "SOA", "+time=1", "+retry=0"],
                    r"\(UDP\) in ([\d.]+) ms", n)


def dig_rtts(port, n):
    return cli_rtts(["dig", "@127.0.0.1", "-p", str(port), ZONE, "SOA", "+tries=1", "+time=1"],
                    r"Query time: (\d+) msec", n)


def bb_rtts(port, n):
    c = BB()
    req, total = [], []
    t = time.time()
    for _ in range(n):
        if time.time() - t > 120:
            break
        v = c.probe(f"127.0.0.1:{port}")
        if v.get("probe_success") == 1.0:
            req.append(v["request"] * 1e6)
            total.append(v["probe_duration_seconds"] * 1e6)
        time.sleep(0.002)
    return req, total


def accuracy():
    say("## 1. Accuracy (response time reported, µs; loopback, UDP SOA, sequential)")
    rows = []
    for name, port, truth in (("Knot 3.2 (real server)", KNOT_PORT, None),
                              (f"responder, injected delay {DELAY_MS} ms", SLOW_PORT, DELAY_MS * 1000.0)):
        ns = nsprobe_rtts(port, N_ACC)
        kd = kdig_rtts(port, N_KDIG)
        dg = dig_rtts(port, N_KDIG // 3)
        bq, bt = bb_rtts(port, N_ACC)
        say(f"\n### {name}" + (f" — bias = reported − {truth:.0f} µs" if truth else
                                " — bias = tool − nsprobe (same statistic)"))
        say(f"{'tool':44} {'n':>5} {'p50':>9} {'p99':>9} {'bias p50':>9} {'bias p99':>9}")
        ref50, ref99 = pct(ns, .5), pct(ns, .99)
        for tool, xs in (("nsprobe (UdpBatch, as the daemon runs it)", ns),
                         ("kdig (0.1 ms resolution)", kd),
                         ("dig (1 ms resolution)", dg),
                         ('blackbox phase="request"', bq),
                         ("blackbox probe_duration_seconds", bt)):
            p50, p99 = pct(xs, .5), pct(xs, .99)
            if truth:
                b50, b99 = p50 - truth, p99 - truth
            else:
                b50, b99 = p50 - ref50, p99 - ref99
            say(f"{tool:44} {len(xs):5d} {p50:9.1f} {p99:9.1f} {b50:+9.1f} {b99:+9.1f}")
            rows.append((name, tool, p50, p99, b50, b99))
    say("")
    return rows


# ---------------------------------------------------------------- cost of blackbox

def blackbox_cost(bb):
    n = N_BB_COST
    workers = 4
    done = [0]
    lock = threading.Lock()
    deadline = time.time() + 300

    def work(k):
        c = BB()
        i = k
        while i < n and time.time() < deadline:
            v = c.probe(f"127.0.0.1:{FAST_PORT + i % FAST_COUNT}")
            if v.get("probe_success") == 1.0:
                with lock:
                    done[0] += 1
            i += workers

    c0 = cpu_s(bb.pid)
    t0 = time.time()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.time() - t0
    cpu = cpu_s(bb.pid) - c0
    return {"probes": done[0], "cpu": cpu, "elapsed": el, "rss": vm(bb.pid, "VmHWM")}


# ---------------------------------------------------------------- nsprobe daemon at scale

def write_config(tmp, n_targets, interval="1s"):
    zones = max(1, n_targets // FAST_COUNT)
    path = os.path.join(tmp, f"nsprobe-{n_targets}.toml")
    with open(path, "w") as f:
        f.write(f'[http]\nlisten = "127.0.0.1:{NS_PORT}"\n\n'
                f'[state]\npath = "{tmp}/state-{n_targets}.json"\nsave_interval = "1h"\n\n')
        for z in range(zones):
            f.write(f'[[zone]]\nname = "z{z}.{ZONE}"\ninterval = "{interval}"\ntimeout = "500ms"\n'
                    'transports = ["udp"]\nnsid = false\n\n')
            for i in range(FAST_COUNT):
                f.write(f'[[zone.nameservers]]\nname = "ns{i}"\n'
                        f'addresses = ["127.0.0.1:{FAST_PORT + i}"]\n\n')
    return path, zones * FAST_COUNT


METRIC_RE = re.compile(r"^(\w+)(\{[^}]*\})? (\S+)$", re.M)


def scrape():
    body, _ = get(f"http://127.0.0.1:{NS_PORT}/metrics")
    probes, slip = 0.0, {}
    for m in METRIC_RE.finditer(body.decode()):
        name, labels, v = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "nsprobe_probes_total":
            probes += v
        elif name == "nsprobe_schedule_slip_seconds_bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            slip[float(le)] = v
    return probes, slip


def hist_quantile(b0, b1, q):
    """histogram_quantile over the increase between two scrapes (linear in a bucket)."""
    les = sorted(b1)
    inc = [(le, b1[le] - b0.get(le, 0.0)) for le in les]
    total = inc[-1][1]
    if total <= 0:
        return float("nan"), float("nan")
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in inc:
        if c >= rank:
            if le == float("inf"):
                return prev_le, prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-9), le
        prev_le, prev_c = le, c
    return float("nan"), float("nan")


def window(p, seconds):
    """nsprobe `p` over `seconds`: probes (from /metrics), its CPU seconds, the elapsed
    time, and the slip histogram at both ends."""
    pr0, sl0 = scrape()
    c0, t0 = cpu_s(p.pid), time.time()
    time.sleep(seconds)
    c1, t1 = cpu_s(p.pid), time.time()
    pr1, sl1 = scrape()
    return {"probes": pr1 - pr0, "cpu": c1 - c0, "elapsed": t1 - t0, "slip0": sl0, "slip1": sl1}


def time_endpoint(path, n=20, gzip=False):
    ts, size = [], 0
    for _ in range(n):
        body, dt = get(f"http://127.0.0.1:{NS_PORT}{path}", gzip=gzip)
        ts.append(dt * 1000)
        size = len(body)
        time.sleep(0.05)
    return pct(ts, .5), max(ts), size


def nsprobe_scale(tmp, n_targets):
    conf, n = write_config(tmp, n_targets)
    p = start([NSPROBE, "run", "--config", conf], env={**os.environ, "RUST_LOG": "warn"})
    wait_nsprobe_ready(30)
    time.sleep(3)  # past the first round
    w = window(p, WINDOW)
    met = time_endpoint("/metrics")
    metz = time_endpoint("/metrics", gzip=True)
    st = time_endpoint("/api/v1/status")
    r = {
        "targets": n,
        "probes": w["probes"],
        "cpu": w["cpu"],
        "elapsed": w["elapsed"],
        "rss": vm(p.pid, "VmHWM"),
        "slip50": hist_quantile(w["slip0"], w["slip1"], .5),
        "slip99": hist_quantile(w["slip0"], w["slip1"], .99),
        "metrics": met,
        "metrics_gzip": metz,
        "status": st,
    }
    stop(p)
    return r


# ---------------------------------------------------------------- main

def main():
    for b in (NSPROBE, RESPONDER, PROBE):
        if not os.path.exists(b):
            sys.exit(f"missing {b}: run bench/run.sh (it builds them)")
    tmp = tempfile.mkdtemp(prefix="nsprobe-bench-")
    try:
        say(f"# nsprobe benchmark {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        say(f"# machine: nproc={os.cpu_count()} kernel={os.uname().release} cpu={cpu}")
        try:
            load = open("/proc/loadavg").read().split()[:3]
            say(f"# loadavg at start: {' '.join(load)} (shared machine: numbers are noisy)")
        except OSError:
            pass
        say(f"# quick={QUICK}")
        start_knot(tmp)
        fast = start([RESPONDER, "--port", str(FAST_PORT), "--count", str(FAST_COUNT)])
        wait_ready_line(fast, "fast responder")
        slow = start([RESPONDER, "--port", str(SLOW_PORT), "--count", "1", "--delay-ms", str(DELAY_MS)])
        wait_ready_line(slow, "delayed responder")
        bb = start_blackbox(tmp)
        say("")
        accuracy()

        say("## 2. Cost per probe (CPU seconds of the prober process, UDP SOA, fast in-process responder)")
        bbc = blackbox_cost(bb)
        scale = [nsprobe_scale(tmp, n) for n in SCALE]
        bb10k = bbc["cpu"] / max(bbc["probes"], 1) * 10000
        say(f"{'prober':58} {'probes':>7} {'CPU s':>7} {'CPU s/10k':>9}")
        say(f"{'blackbox_exporter (/probe, 4 concurrent keep-alive clients)':58} {bbc['probes']:7.0f} "
            f"{bbc['cpu']:7.2f} {bb10k:9.3f}")
        for r in scale:
            ns10k = r["cpu"] / max(r["probes"], 1) * 10000
            say(f"{'nsprobe run, ' + str(r['targets']) + ' targets @ 1s':58} {r['probes']:7.0f} "
                f"{r['cpu']:7.2f} {ns10k:9.3f}   blackbox/nsprobe = {bb10k / ns10k:.1f}x")
        say(f"blackbox peak RSS {bbc['rss']:.1f} MiB")
        say("")
        say("## 3. Scale (nsprobe run, UDP, interval 1 s, timeout 500 ms; window "
            f"{WINDOW:.0f} s after the first round)")
        say(f"{'targets':>8} {'probes/s':>9} {'CPU %core':>9} {'VmHWM MiB':>9} {'slip p50':>12} "
            f"{'slip p99':>12} {'/metrics p50/max ms':>20} {'KiB':>6} {'/api/v1/status p50/max ms':>26} {'KiB':>6}")
        for r in scale:
            s50, s50b = r["slip50"]
            s99, s99b = r["slip99"]
            m, s = r["metrics"], r["status"]
            say(f"{r['targets']:8d} {r['probes'] / r['elapsed']:9.0f} {100 * r['cpu'] / r['elapsed']:9.1f} "
                f"{r['rss']:9.1f} {s50 * 1e3:6.2f}≤{s50b * 1e3:<5g} {s99 * 1e3:6.2f}≤{s99b * 1e3:<5g}"
                f" {m[0]:9.1f}/{m[1]:<9.1f} {m[2] / 1024:6.0f} {s[0]:12.1f}/{s[1]:<12.1f} {s[2] / 1024:6.0f}")
        say("(slip in ms: interpolated quantile ≤ bucket upper bound, from nsprobe_schedule_slip_seconds)")
        for r in scale:
            z = r["metrics_gzip"]
            say(f"{r['targets']:8d} targets: /metrics with Accept-Encoding: gzip (as Prometheus asks) "
                f"p50 {z[0]:.1f} ms, max {z[1]:.1f} ms, {z[2] / 1024:.0f} KiB on the wire")
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    write_results()


if __name__ == "__main__":
    main()
