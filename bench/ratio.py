#!/usr/bin/env python3
"""CPU per probe, nsprobe against blackbox_exporter, in interleaved rounds.

bench.py measures blackbox_exporter once and then each nsprobe scale once, minutes
apart. On a shared VM the CPU time of the same work varies by a third between minutes
(bench/README.md, "How far apart runs are"), so one ratio from two such measurements
says as much about the host as about the code. Here both run side by side for the
whole run and are measured in alternation: each round measures blackbox_exporter
answering BB_PROBES /probe requests, then nsprobe's own CPU over WINDOW seconds of
probing N targets at 1 s. Every round gives a ratio of two measurements taken seconds
apart; the median of the rounds is the figure, and the spread is printed with it.

    flock /tmp/nsprobe-systest.lock bench/ratio.sh [TARGETS ...]   (default: 1000 10000)

RATIO_ROUNDS (default 5), RATIO_WINDOW seconds (default 15), RATIO_BB_PROBES (default
3000); NSPROBE_BIN=path measures another nsprobe binary (an A/B of two builds). Only
loopback addresses are used.
"""

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

ROUNDS = int(os.environ.get("RATIO_ROUNDS", "5"))
WINDOW = float(os.environ.get("RATIO_WINDOW", "15"))
BB_PROBES = int(os.environ.get("RATIO_BB_PROBES", "3000"))


def main():
    scales = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    B.N_BB_COST = BB_PROBES
    B.NSPROBE = os.environ.get("NSPROBE_BIN", B.NSPROBE)
    for b in (B.NSPROBE, B.RESPONDER):
        if not os.path.exists(b):
            sys.exit(f"missing {b}: run bench/ratio.sh (it builds it)")
    tmp = tempfile.mkdtemp(prefix="nsprobe-ratio-")
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                    if l.startswith("model name")), "?")
        B.say(f"# nsprobe vs blackbox_exporter, interleaved rounds, "
              f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        B.say(f"# machine: nproc={os.cpu_count()} kernel={os.uname().release} cpu={cpu}")
        B.say(f"# nsprobe binary {B.NSPROBE}")
        B.say(f"# {ROUNDS} rounds of: blackbox {BB_PROBES} /probe requests (4 keep-alive "
              f"clients), then nsprobe CPU over {WINDOW:.0f} s")
        fast = B.start([B.RESPONDER, "--port", str(B.FAST_PORT), "--count", str(B.FAST_COUNT)])
        B.wait_ready_line(fast, "fast responder")
        bb = B.start_blackbox(tmp)
        B.blackbox_cost(bb)  # warm-up: connections, Go runtime
        for n in scales:
            conf, n = B.write_config(tmp, n)
            p = B.start([B.NSPROBE, "run", "--config", conf], env={**os.environ, "RUST_LOG": "warn"})
            B.wait_nsprobe_ready(60)
            time.sleep(3)  # past the first round
            B.say(f"## {n} targets @ 1 s")
            B.say(f"{'round':>5} {'load':>5} {'blackbox CPU s/10k':>18} {'nsprobe CPU s/10k':>17} "
                  f"{'nsprobe probes/s':>16} {'ratio':>6}")
            ratios, bbs, nss = [], [], []
            for r in range(ROUNDS):
                load = open("/proc/loadavg").read().split()[0]
                c = B.blackbox_cost(bb)
                bb10k = c["cpu"] / max(c["probes"], 1) * 10000
                w = B.window(p, WINDOW)
                probes, cpu_s, el = w["probes"], w["cpu"], w["elapsed"]
                ns10k = cpu_s / max(probes, 1) * 10000
                ratio = bb10k / ns10k if ns10k > 0 else float("inf")
                bbs.append(bb10k)
                nss.append(ns10k)
                ratios.append(ratio)
                B.say(f"{r + 1:5d} {load:>5} {bb10k:18.3f} {ns10k:17.3f} {probes / el:16.0f} "
                      f"{ratio:5.1f}x")
            B.say(f"{n} targets: median ratio {statistics.median(ratios):.1f}x "
                  f"(rounds {min(ratios):.1f}–{max(ratios):.1f}x); blackbox median "
                  f"{statistics.median(bbs):.3f}, nsprobe median {statistics.median(nss):.3f} "
                  f"CPU s / 10k probes")
            B.stop(p)
    finally:
        B.finish(tmp)


if __name__ == "__main__":
    main()
