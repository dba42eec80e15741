#!/usr/bin/env python3
"""How long a /metrics scrape holds the state lock, and how long rendering takes, at
1,000 targets (20 zones x 50 nameservers, UDP, interval 1 s), from the daemon's own
debug log line "/metrics scrape" (lock_wait_us, lock_held_us, render_us, bytes).

    cargo build --release --bin nsprobe --example bench_responder
    python3 bench/metrics_lock.py [N_SCRAPES]

Loopback only: the responder on 127.0.0.1:26000-26049, nsprobe on 127.0.0.1:29853.
Every process started is stopped on exit.
"""
import os, re, signal, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NSPROBE = os.path.join(ROOT, "target/release/nsprobe")
RESPONDER = os.path.join(ROOT, "target/release/examples/bench_responder")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
FAST_PORT, FAST_COUNT, NS_PORT, ZONES = 26000, 50, 29853, 20


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    tmp = tempfile.mkdtemp()
    conf = os.path.join(tmp, "nsprobe.toml")
    with open(conf, "w") as f:
        f.write(f'[http]\nlisten = "127.0.0.1:{NS_PORT}"\n[state]\npath = "{tmp}/state.json"\n')
        for z in range(ZONES):
            f.write(f'[[zone]]\nname = "z{z}.bench.test."\ninterval = "1s"\ntimeout = "500ms"\n'
                    'transports = ["udp"]\nnsid = false\n')
            for i in range(FAST_COUNT):
                f.write(f'[[zone.nameservers]]\nname = "ns{i}"\naddresses = ["127.0.0.1:{FAST_PORT + i}"]\n')
    log = open(os.path.join(tmp, "nsprobe.log"), "w+")
    procs = [subprocess.Popen([RESPONDER, "--addr", "127.0.0.1", "--port", str(FAST_PORT),
                               "--count", str(FAST_COUNT)], stdout=subprocess.DEVNULL)]
    try:
        procs.append(subprocess.Popen([NSPROBE, "--log-format", "json", "run", "--config", conf],
                                      stderr=log, env={**os.environ, "RUST_LOG": "warn,nsprobe::api=debug"}))
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{NS_PORT}/readyz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(3)
        e2e = []
        for _ in range(N):
            t = time.perf_counter()
            urllib.request.urlopen(f"http://127.0.0.1:{NS_PORT}/metrics", timeout=10).read()
            e2e.append((time.perf_counter() - t) * 1000)
            time.sleep(0.05)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
    log.seek(0)
    rows = [dict((k, int(v)) for k, v in re.findall(r'"(lock_wait_us|lock_held_us|render_us|bytes)":(\d+)', l))
            for l in log if "/metrics scrape" in l]
    print(f"{len(rows)} scrapes at {ZONES * FAST_COUNT} targets, body {rows[-1]['bytes']} bytes")
    for key in ("lock_wait_us", "lock_held_us", "render_us"):
        xs = [r[key] / 1000 for r in rows]
        print(f"{key[:-3]:>10}: p50 {pct(xs, .5):.3f} ms  p99 {pct(xs, .99):.3f} ms  max {max(xs):.3f} ms")
    print(f"{'end to end':>10}: p50 {pct(e2e, .5):.3f} ms  p99 {pct(e2e, .99):.3f} ms  max {max(e2e):.3f} ms")


if __name__ == "__main__":
    main()
