#!/usr/bin/env bash
# CPU per probe against blackbox_exporter in interleaved rounds (see bench/ratio.py).
# Run under the shared lock:
#   flock /tmp/nsprobe-systest.lock bench/ratio.sh [TARGETS ...]     (default: 1000 10000)
# Needs prometheus-blackbox-exporter (Debian). BENCH_RESULTS=FILE keeps the output.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin nsprobe --example bench_responder
exec python3 bench/ratio.py "$@"
