#!/usr/bin/env bash
# nsprobe memory at scale (see bench/rss.py). Run under the shared lock:
#   flock /tmp/nsprobe-systest.lock bench/rss.sh [TARGETS ...]     (default: 1000 10000)
# RSS_SETTLE=seconds before the first reading (default 30); RSS_WRAP="heaptrack -o FILE";
# BENCH_RESULTS=FILE keeps the output.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin nsprobe --example bench_responder
exec python3 bench/rss.py "$@"
