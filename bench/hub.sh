#!/usr/bin/env bash
# Hub cost per peer: an nsprobe hub pulling 0, 1, 3, 10 and 30 simulated peers (each
# ~4.5 observation records/s, pulled every 2 s); CPU and memory of the hub per peer.
# Raw output: bench/results/<date>-hub.txt.
#   HUB_PEERS="0 1 3 10 30" HUB_WINDOW=60 HUB_COMPONENTS=20 bench/hub.sh
# Prerequisites: python3, cargo. Loopback only (127.0.0.1:29900+ peers, :29863 hub).
set -euo pipefail
cd "$(dirname "$0")/.."
for bin in python3 cargo; do
    command -v "$bin" >/dev/null || { echo "missing $bin (see bench/README.md)" >&2; exit 1; }
done
cargo build --release --quiet --bin nsprobe
mkdir -p bench/results
BENCH_RESULTS="bench/results/$(date +%Y-%m-%d)-hub.txt" exec python3 bench/hub.py
