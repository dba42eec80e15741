#!/usr/bin/env bash
# Store benchmark: 90 simulated days of the whole .dk status page written through the
# real store (examples/bench_store.rs), the DB size and the write cost per minute.
#
#   bench/store.sh            90 days (a few minutes); raw output -> bench/results/<date>-store.txt
#   STORE_DAYS=7 bench/store.sh   a shorter span
#
# Prerequisites: a Rust toolchain; sqlite3 (Debian: apt-get install -y sqlite3) for the
# per-table sizes. No network, no root; the DB is written under $TMPDIR (default /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sqlite3 >/dev/null || { echo "missing sqlite3 (apt-get install -y sqlite3)" >&2; exit 1; }
cargo build --release --quiet --example bench_store
days="${STORE_DAYS:-90}"
dir="$(mktemp -d "${TMPDIR:-/tmp}/nsprobe-store-bench.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
mkdir -p bench/results
out="bench/results/$(date -u +%Y-%m-%d)-store.txt"
{
    echo "# bench/store.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# machine: nproc $(nproc), $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# filesystem of the DB: $(df -T "$dir" | awk 'NR==2 {print $2}')"
    echo "# command: target/release/examples/bench_store config/dk-status-page.toml $dir/nsprobe.db $days"
    target/release/examples/bench_store config/dk-status-page.toml "$dir/nsprobe.db" "$days"
    echo
    echo "== per-table size after $days days (sqlite3 dbstat; pages in use, bytes)"
    sqlite3 "$dir/nsprobe.db" \
        "SELECT name, count(*) AS pages, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC;"
} 2>&1 | tee "$out"
echo "raw output: $out"
