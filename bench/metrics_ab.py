"""A/B of /metrics end to end between nsprobe binaries, in one run (same load).

    flock /tmp/nsprobe-systest.lock python3 bench/metrics_ab.py TARGETS ROUNDS N \
        before=/path/to/old/nsprobe after=target/release/nsprobe

Per binary and round: starts `nsprobe run` on bench/bench.py's config (TARGETS targets
against the fast bench responder, which must be built: bench/run.sh builds it), waits
for the first round, then times N identity and N gzip scrapes with bench.py's client
(end to end, until the last byte), N `/healthz` (the client's floor) and N curl scrapes
of each encoding (first byte / total), and reads the daemon's own lock-held and render
times from its debug log. Binaries alternate, so they share the machine's load.
Loopback only; every process started is stopped on exit."""
import os, re, shutil, sys, time, signal, subprocess, tempfile, statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B

def run(binary, targets, n, tmp, tag):
    conf, _ = B.write_config(tmp, targets)
    log = open(f"{tmp}/{tag}.log", "w")
    p = subprocess.Popen([binary, "run", "--config", conf], stdout=subprocess.DEVNULL, stderr=log,
                         env={**os.environ, "RUST_LOG": "warn,nsprobe::api=debug"})
    B.procs.append(p)
    B.wait_nsprobe_ready(60)
    time.sleep(4)
    load = open("/proc/loadavg").read().split()[0]
    ident = B.time_endpoint("/metrics", n=n)
    gz = B.time_endpoint("/metrics", n=n, gzip=True)
    hz = B.time_endpoint("/healthz", n=n)
    cz = []
    for _ in range(n):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", "-w", "%{time_starttransfer} %{time_total}",
                              f"http://127.0.0.1:{B.NS_PORT}/metrics"], capture_output=True, text=True).stdout.split()
        cz.append((float(out[0]) * 1000, float(out[1]) * 1000)); time.sleep(0.05)
    ci = []
    for _ in range(n):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_starttransfer} %{time_total}",
                              f"http://127.0.0.1:{B.NS_PORT}/metrics"], capture_output=True, text=True).stdout.split()
        ci.append((float(out[0]) * 1000, float(out[1]) * 1000)); time.sleep(0.05)
    print(f"   /healthz python p50 {hz[0]:.2f} ms; curl gzip first byte/total p50 {statistics.median(x[0] for x in cz):.2f}/{statistics.median(x[1] for x in cz):.2f} ms;"
          f" curl identity {statistics.median(x[0] for x in ci):.2f}/{statistics.median(x[1] for x in ci):.2f} ms")
    p.send_signal(signal.SIGTERM); p.wait(timeout=10)
    log.close()
    txt = open(f"{tmp}/{tag}.log").read()
    rows = re.findall(r"lock_held_us=(\d+) render_us=(\d+) bytes=(\d+) gzip=(\w+)", txt)
    def med(g, i):
        xs = [int(r[i]) for r in rows if r[3] == g]
        return statistics.median(xs) / 1000 if xs else float("nan")
    print(f"{tag:10} {targets:6d}  load {load:>5}  identity p50 {ident[0]:6.2f} max {ident[1]:6.2f} ms ({ident[2]/1e6:.2f} MB)"
          f"  gzip p50 {gz[0]:6.2f} max {gz[1]:6.2f} ms ({gz[2]/1024:.0f} KiB)"
          f"  | lock held {med('false',0):.2f}/{med('true',0):.2f}  render {med('false',1):.2f}/{med('true',1):.2f} ms (identity/gzip, daemon log medians; identity nan when streamed)", flush=True)

def main():
    targets, rounds, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    bins = [a.split("=", 1) for a in sys.argv[4:]]
    tmp = tempfile.mkdtemp(prefix="nsprobe-ab-")
    try:
        fast = B.start([B.RESPONDER, "--port", str(B.FAST_PORT), "--count", str(B.FAST_COUNT)])
        B.wait_ready_line(fast, "fast responder")
        print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} loadavg {open('/proc/loadavg').read().strip()}")
        for r in range(rounds):
            for name, binary in bins:
                run(binary, targets, n, tmp, f"{name}-{r}")
    finally:
        B.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
