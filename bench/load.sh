#!/usr/bin/env bash
# HTTP load while probing: wrk, 1,000 connections, 60 s, over /metrics,
# /api/v2/summary.json and / with 1,000 targets probed at 1 s; then 10,000 idle
# connections and a new client. Raw output: bench/results/<date>-load.txt.
#   LOAD_SECONDS=60 LOAD_CONNECTIONS=1000 LOAD_IDLE=10000 bench/load.sh
# Prerequisites: wrk, python3, cargo. Loopback only (127.0.0.1:26000-26049, :29853).
set -euo pipefail
cd "$(dirname "$0")/.."
for bin in wrk python3 cargo; do
    command -v "$bin" >/dev/null || { echo "missing $bin (see bench/README.md)" >&2; exit 1; }
done
cargo build --release --quiet --bin nsprobe --example bench_responder --example bench_probe
mkdir -p bench/results
BENCH_RESULTS="bench/results/$(date +%Y-%m-%d)-load.txt" exec python3 bench/load.py
