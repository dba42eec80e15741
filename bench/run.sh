#!/usr/bin/env bash
# nsprobe benchmarks: accuracy and cost, side by side with blackbox_exporter.
#
#   bench/run.sh            full run (~4 min), raw output also saved to bench/results/<date>.txt
#   BENCH_QUICK=1 bench/run.sh   shorter run (fewer samples, 1,000 targets only)
#
# Prerequisites (Debian 12): apt-get install -y knot knot-dnsutils dnsutils \
#   prometheus-blackbox-exporter python3; a Rust toolchain (cargo).
# Uses loopback only: Knot on 127.0.0.1:25353, responders on 127.0.0.1:26000-26049 and
# :27000, blackbox_exporter on :29115, nsprobe on :29853. Every process started is
# stopped on exit (bench/bench.py, `finally`).
set -euo pipefail
cd "$(dirname "$0")/.."
for bin in knotd kdig dig prometheus-blackbox-exporter python3 cargo; do
    command -v "$bin" >/dev/null || { echo "missing $bin (see bench/README.md)" >&2; exit 1; }
done
cargo build --release --quiet --bin nsprobe --example bench_responder --example bench_probe
mkdir -p bench/results
out="bench/results/$(date +%Y-%m-%d).txt"
if [ "${BENCH_QUICK:-0}" = 1 ]; then out="bench/results/$(date +%Y-%m-%d)-quick.txt"; fi
BENCH_RESULTS="$out" exec python3 bench/bench.py
