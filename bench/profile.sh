#!/usr/bin/env bash
# CPU profile of `nsprobe run` (perf, cpu-clock; the VM has no hardware counters):
#   bench/profile.sh                      # 1,000 targets, 20 s
#   PROFILE_TARGETS=10000 bench/profile.sh
# Needs linux-perf (apt-get install linux-perf). Raw output: bench/results/<date>-profile-<N>.txt
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "missing perf (apt-get install linux-perf)" >&2; exit 1; }
cargo build --release --quiet --bin nsprobe --example bench_responder
mkdir -p bench/results
BENCH_RESULTS="bench/results/$(date +%Y-%m-%d)-profile-${PROFILE_TARGETS:-1000}${PROFILE_TAG:-}.txt" \
    exec python3 bench/profile.py
