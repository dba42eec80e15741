#!/usr/bin/env bash
# Status page benchmark: render time and weight of `/` for the .dk page.
#  1. examples/bench_page.rs: render time of the whole .dk page with full history
#     (7 nameservers, 24 h charts, 90-day bars, 12 more components), and its bytes;
#  2. a running `nsprobe demo`: the handler's own timing (lock held, store query, total)
#     from its debug log over 200 sequential GETs of `/`, and the bytes served.
# Usage: bench/page.sh [debug]   (release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
flag=--release; [ "$profile" = debug ] && flag=
cargo build $flag --quiet --example bench_page --bin nsprobe
echo "== $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), profile $profile"
"target/$profile/examples/bench_page"
log=$(mktemp)
RUST_LOG=info,hickory_server=warn,nsprobe::api::pages=debug NO_COLOR=1 \
    "target/$profile/nsprobe" demo --listen 127.0.0.1:29854 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
sleep 8
for _ in $(seq 200); do curl -s -o /dev/null http://127.0.0.1:29854/; done
bytes=$(curl -s http://127.0.0.1:29854/ | wc -c)
grep 'status page rendered' "$log" | python3 -c '
import re, sys
rows = [tuple(int(x) for x in re.search(r"lock_us=(\d+) total_us=(\d+)", l).groups()) for l in sys.stdin]
lock = sorted(r[0] for r in rows); total = sorted(r[1] for r in rows)
q = lambda v, p: v[int((len(v) - 1) * p)] / 1000
print(f"demo daemon, GET / x {len(rows)}: total (copy + store query + render) median {q(total, .5):.3f} ms, "
      f"p95 {q(total, .95):.3f} ms, max {q(total, 1):.3f} ms; lock held median {q(lock, .5):.3f} ms, "
      f"max {q(lock, 1):.3f} ms; page '"$bytes"' bytes")
'
