#!/usr/bin/env python3
"""Hub cost per peer (issue 14): CPU and memory of an nsprobe hub pulling N simulated
peers, N in HUB_PEERS (default 0 1 3 10 30).

Each simulated peer serves `GET /api/v1/observations?after=CURSOR&limit=N` (wire format
version 1, README "HTTP API") for a vantage watching HUB_COMPONENTS components (default
20: the hub's own zone of 20 nameservers), at the rate a real vantage writes records: one
record per component every 5 s (the heartbeat at the default max_age 30s) plus one status
change every 2 s somewhere (a component flipping between operational and
degraded_performance), i.e. ~4.5 records/s per peer. The hub pulls every peer every 2 s
(the default `[[peer]] interval`) and computes the quorum over its own records and the
peers'. The hub's own probes (20 nameservers, UDP, 1 s, to closed loopback ports: an
instant "refused") are the same for every N, so the cost of the peers is the difference
to N = 0.

Per N: a fresh `nsprobe run`, 10 s to settle, then a HUB_WINDOW (default 60 s) window:
hub CPU (utime+stime of the process), VmRSS at the end and VmHWM, pulls and bytes from
`nsprobe_peer_*`. Loopback only: peers on 127.0.0.1:29900+, the hub on :29863, closed
ports 127.0.0.1:29600+ for its probes. Run via bench/hub.sh.
"""

import json
import os
import re
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

PEERS = [int(x) for x in os.environ.get("HUB_PEERS", "0 1 3 10 30").split()]
COMPONENTS = int(os.environ.get("HUB_COMPONENTS", "20"))
WINDOW = float(os.environ.get("HUB_WINDOW", "60"))
SETTLE = 10.0
PEER_PORT = 29900
HUB_PORT = 29863
CLOSED_PORT = 29600
GROUP = "DNS (bench)"
HEARTBEAT = 5.0
CHANGE_EVERY = 2.0
TOKEN = "0123456789abcdef0123456789abcdef"
NSPROBE = os.environ.get("NSPROBE", B.NSPROBE)


class Peer:
    """One simulated vantage: a log of records written at a real vantage's rate."""

    def __init__(self, name):
        self.name = name
        self.epoch = int(time.time() * 1000)
        self.records = []
        self.lock = threading.Lock()
        self.status = {f"ns{i}": "operational" for i in range(COMPONENTS)}
        self.last = {}
        self.flip = 0
        self.next_change = time.time() + CHANGE_EVERY

    def note(self, comp, now):
        rec = {
            "seq": len(self.records) + 1,
            "vantage": self.name,
            "at": int(now * 1000),
            "group": GROUP,
            "component": comp,
            "status": self.status[comp],
            "reason": "2 of 2 targets up" if self.status[comp] == "operational"
            else f"slow: median 612ms over 5m at {self.name}",
            "rtt_ms": 1.25,
            "serial": 2026112601,
        }
        self.records.append(rec)
        self.last[comp] = now

    def tick(self, now):
        with self.lock:
            for comp in self.status:
                if now - self.last.get(comp, 0) >= HEARTBEAT:
                    self.note(comp, now)
            if now >= self.next_change:
                comp = f"ns{self.flip % COMPONENTS}"
                self.flip += 1
                self.status[comp] = ("degraded_performance" if self.status[comp] == "operational"
                                     else "operational")
                self.note(comp, now)
                self.next_change = now + CHANGE_EVERY

    def page(self, after, limit):
        with self.lock:
            limit = max(1, min(limit, 1000))
            head = len(self.records)
            after = after if after <= head else 0
            obs = self.records[after:after + limit]
            cursor = obs[-1]["seq"] if obs else after
            return {"version": 1, "vantage": self.name, "location": "simulated",
                    "epoch": self.epoch, "observations": obs, "cursor": cursor,
                    "more": cursor < head, "truncated": False}


def serve(peer, port):
    class H(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            u = urlparse(self.path)
            if u.path != "/api/v1/observations":
                self.send_error(404)
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.send_error(401)
                return
            q = parse_qs(u.query)
            body = json.dumps(peer.page(int(q.get("after", ["0"])[0]),
                                        int(q.get("limit", ["500"])[0]))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def write_config(tmp, n):
    path = os.path.join(tmp, f"hub-{n}.toml")
    with open(path, "w") as f:
        f.write(f'[http]\nlisten = "127.0.0.1:{HUB_PORT}"\n\n'
                f'[state]\npath = "{tmp}/state-{n}/state.json"\nsave_interval = "1h"\n\n'
                '[vantage]\nname = "hub"\n\n')
        f.write(f'[[zone]]\nname = "{B.ZONE}"\ncomponent = "{GROUP}"\ninterval = "1s"\n'
                'timeout = "500ms"\ntransports = ["udp"]\nnsid = false\n\n')
        for i in range(COMPONENTS):
            f.write(f'[[zone.nameservers]]\nname = "ns{i}"\n'
                    f'addresses = ["127.0.0.1:{CLOSED_PORT + i}"]\n\n')
        for i in range(n):
            f.write(f'[[peer]]\nurl = "http://127.0.0.1:{PEER_PORT + i}"\ntoken = "{TOKEN}"\n\n')
    os.makedirs(f"{tmp}/state-{n}", exist_ok=True)
    return path


def peer_totals():
    body, _ = B.get(f"http://127.0.0.1:{HUB_PORT}/metrics")
    pulls = nbytes = recs = up = 0.0
    for m in re.finditer(r"^(nsprobe_peer_\w+)(\{[^}]*\})? (\S+)$", body.decode(), re.M):
        name, v = m.group(1), float(m.group(3))
        if name == "nsprobe_peer_pulls_total":
            pulls += v
        elif name == "nsprobe_peer_received_bytes_total":
            nbytes += v
        elif name == "nsprobe_peer_observations_total":
            recs += v
        elif name == "nsprobe_peer_up":
            up += v
    return pulls, nbytes, recs, up


def main():
    tmp = tempfile.mkdtemp(prefix="nsprobe-hub-")
    B.say(f"# nsprobe hub cost per peer {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    B.say(f"# machine: nproc={os.cpu_count()} kernel={os.uname().release} cpu={cpu}")
    B.say(f"# loadavg at start: {' '.join(open('/proc/loadavg').read().split()[:3])} (shared machine)")
    B.say(f"# binary: {NSPROBE}")
    B.say(f"# {COMPONENTS} components per vantage, heartbeat {HEARTBEAT:g} s, a change every "
          f"{CHANGE_EVERY:g} s per peer, pull interval 2 s, window {WINDOW:g} s")
    peers = []
    servers = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            now = time.time()
            for p in list(peers):
                p.tick(now)
            time.sleep(0.1)

    threading.Thread(target=ticker, daemon=True).start()
    for i in range(max(PEERS)):
        p = Peer(f"peer-{i}")
        peers.append(p)
        servers.append(serve(p, PEER_PORT + i))
    rows = []
    try:
        for n in PEERS:
            conf = write_config(tmp, n)
            hub = B.start([NSPROBE, "run", "--config", conf], env={**os.environ, "RUST_LOG": "warn"})
            time.sleep(SETTLE)
            c0, (p0, b0, r0, _) = B.cpu_s(hub.pid), peer_totals()
            t0 = time.time()
            time.sleep(WINDOW)
            el = time.time() - t0
            c1, (p1, b1, r1, up) = B.cpu_s(hub.pid), peer_totals()
            rows.append({
                "n": n, "cpu_pct": 100 * (c1 - c0) / el, "rss": B.vm(hub.pid, "VmRSS"),
                "hwm": B.vm(hub.pid, "VmHWM"), "pulls": (p1 - p0) / el, "kib": (b1 - b0) / el / 1024,
                "recs": (r1 - r0) / el, "up": up,
            })
            hub.terminate()
            hub.wait(timeout=10)
            B.procs.remove(hub)
    finally:
        stop.set()
        for s in servers:
            s.shutdown()
        B.stop_all()
    base = rows[0] if rows and rows[0]["n"] == 0 else None
    B.say()
    B.say(f"{'peers':>5} {'up':>3} {'pulls/s':>8} {'records/s':>9} {'KiB/s':>7} {'CPU %core':>9} "
          f"{'VmRSS MiB':>9} {'VmHWM MiB':>9} {'CPU/peer':>9} {'RSS/peer':>9}")
    for r in rows:
        per_cpu = per_rss = ""
        if base and r["n"] > 0:
            per_cpu = f"{(r['cpu_pct'] - base['cpu_pct']) / r['n']:.3f}"
            per_rss = f"{(r['rss'] - base['rss']) / r['n']:.2f}"
        B.say(f"{r['n']:>5} {r['up']:>3.0f} {r['pulls']:>8.2f} {r['recs']:>9.1f} {r['kib']:>7.1f} "
              f"{r['cpu_pct']:>9.2f} {r['rss']:>9.1f} {r['hwm']:>9.1f} {per_cpu:>9} {per_rss:>9}")
    B.say("(CPU/peer: % of a core per peer above N = 0; RSS/peer: MiB per peer above N = 0)")
    B.write_results()


if __name__ == "__main__":
    main()
