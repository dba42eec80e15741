# shellcheck shell=bash
# Knot DNS + Prometheus lab for nsprobe's system tests. Source it from a bash script
# that runs with `set -euo pipefail`:
#
#   source tests/system/lab.sh
#   lab_start 3                 # knotd on 127.0.1.1..3 port 5300, NSIDs a.nic.dk, b.nic.dk, c.nic.dk
#   lab_set_serial 2026062401   # new serial on every instance (or: lab_set_serial S 2 3)
#   lab_stop 2; lab_start_one 2 # stopped instance: queries are refused (ICMP port unreachable)
#   lab_drop 3; lab_undrop 3    # silent outage (nftables input drop): queries time out
#   lab_drop 3 30               # 30 % packet loss to instance 3
#   lab_nsprobe_config "$LAB_DIR/nsprobe.toml"   # nsprobe config for these instances
#   prom_start 127.0.0.1:19853  # Prometheus scraping nsprobe, with dashboards/alerts.yml
#   prom_alerts                 # JSON array of active alerts (optional jq filter on it)
#   prom_query 'up'             # instant query, JSON result vector
#   lab_serial_of 2             # serial instance 2 answers (empty if none)
#   lab_cleanup                 # also installed as an EXIT/INT/TERM trap by lab_start/prom_start
#   ok / not_ok / check / now / status_json / server_is  # test reporting (tests/system/tap.sh)
#                               # (it replaces your EXIT trap: call lab_cleanup from yours instead)
#
# Needs (Debian): knot, knot-dnsutils, nftables, prometheus, curl, jq. nftables needs root.
# Only loopback addresses are used. Settings (environment, before lab_start):
#   LAB_NET (127.0.1), LAB_PORT (5300), LAB_ZONE (dk.), LAB_SERIAL (initial serial, 2026010100),
#   LAB_RRSIG_LIFETIME (14d), LAB_RRSIG_REFRESH (7d), PROM_PORT (19090),
#   LAB_NFT_TABLE (nsprobe_lab; give concurrent labs distinct tables and LAB_NETs),
#   LAB_CONFIRM_AFTER (2s), LAB_CLEAR_AFTER (3s): nsprobe's confirmation times in
#   lab_nsprobe_config (short, so that incident replays stay quick).

LAB_NET=${LAB_NET:-127.0.1}
LAB_PORT=${LAB_PORT:-5300}
LAB_ZONE=${LAB_ZONE:-dk.}
LAB_SERIAL=${LAB_SERIAL:-2026010100}
LAB_RRSIG_LIFETIME=${LAB_RRSIG_LIFETIME:-14d}
LAB_RRSIG_REFRESH=${LAB_RRSIG_REFRESH:-7d}
LAB_NFT_TABLE=${LAB_NFT_TABLE:-nsprobe_lab}
LAB_DIR=${LAB_DIR:-}
LAB_N=${LAB_N:-0}
PROM_PORT=${PROM_PORT:-19090}
PROM_DIR=${PROM_DIR:-}
PROM_PID=${PROM_PID:-}
LAB_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_NAMES=(a b c d l p s)

# Test reporting (ok, not_ok, check, now, status_json, server_status, server_is).
# shellcheck source=tests/system/tap.sh
source "$LAB_REPO_ROOT/tests/system/tap.sh"

lab_log() { echo "lab: $*" >&2; }
lab_die() {
  echo "lab: ERROR: $*" >&2
  return 1
}

# Nameserver name (and NSID) of instance I: a.nic.dk, b.nic.dk, ... then nsI.nic.dk.
lab_name() {
  local i=$1
  if ((i <= ${#LAB_NAMES[@]})); then
    echo "${LAB_NAMES[i - 1]}.nic.dk"
  else
    echo "ns$i.nic.dk"
  fi
}
lab_addr() { echo "$LAB_NET.$1"; }
lab_dir() { echo "$LAB_DIR/ns$1"; }

lab_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || lab_die "'$tool' not found on PATH (install the Debian package providing it)" || return 1
  done
}

lab_install_trap() {
  trap 'lab_cleanup' EXIT
  trap 'lab_cleanup; exit 130' INT
  trap 'lab_cleanup; exit 143' TERM
}

# lab_serial_of I: serial instance I answers over UDP; empty (and status 0) if none within 1 s.
lab_serial_of() {
  { kdig @"$(lab_addr "$1")" -p "$LAB_PORT" "$LAB_ZONE" SOA +norec +short +time=1 +retry=0 2>/dev/null || true; } |
    awk 'NF >= 7 { print $3; exit }'
}

# Writes instance I's zone file with serial S.
lab_write_zone() {
  local i=$1 serial=$2 j dir
  dir=$(lab_dir "$i")
  {
    echo "\$ORIGIN $LAB_ZONE"
    echo "\$TTL 300"
    echo "@ SOA a.nic.dk. hostmaster.nic.dk. $serial 1800 600 604800 300"
    for ((j = 1; j <= LAB_N; j++)); do
      echo "@ NS $(lab_name "$j")."
    done
    for ((j = 1; j <= LAB_N; j++)); do
      echo "$(lab_name "$j"). A $(lab_addr "$j")"
    done
    echo "lab-nsprobe A 127.0.0.1"
  } >"$dir/zones/zone.tmp"
  mv "$dir/zones/zone.tmp" "$dir/zones/${LAB_ZONE}zone"
}

lab_write_conf() {
  local i=$1 dir
  dir=$(lab_dir "$i")
  cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir/run"
    listen: $(lab_addr "$i")@$LAB_PORT
    nsid: "$(lab_name "$i")"
    identity: "$(lab_name "$i")"
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1

log:
  - target: "$dir/knotd.log"
    any: info

database:
    storage: "$dir/storage"

control:
    listen: "$dir/run/knot.sock"

policy:
  - id: lab
    manual: on
    single-type-signing: on
    algorithm: ecdsap256sha256
    rrsig-lifetime: $LAB_RRSIG_LIFETIME
    rrsig-refresh: $LAB_RRSIG_REFRESH

zone:
  - domain: $LAB_ZONE
    storage: "$dir/zones"
    file: "${LAB_ZONE}zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    dnssec-signing: on
    dnssec-policy: lab
EOF
}

# One shared CSK for every instance, made once per lab with keymgr.
lab_make_key() {
  local kdir=$LAB_DIR/keysrc
  mkdir -p "$kdir/storage" "$kdir/run"
  cat >"$kdir/knot.conf" <<EOF
server:
    rundir: "$kdir/run"
database:
    storage: "$kdir/storage"
policy:
  - id: lab
    manual: on
    single-type-signing: on
    algorithm: ecdsap256sha256
zone:
  - domain: $LAB_ZONE
    dnssec-signing: on
    dnssec-policy: lab
EOF
  keymgr -c "$kdir/knot.conf" "$LAB_ZONE" generate algorithm=ecdsap256sha256 ksk=yes zsk=yes >"$kdir/keymgr.log" 2>&1 ||
    lab_die "keymgr failed: $(cat "$kdir/keymgr.log")" || return 1
}

# Waits until instance I answers a SOA query (optionally with serial S), up to 10 s.
lab_wait_ready() {
  local i=$1 want=${2:-} got="" n
  for ((n = 0; n < 100; n++)); do
    got=$(lab_serial_of "$i" || true)
    if [[ -n $got && (-z $want || $got == "$want") ]]; then
      return 0
    fi
    if [[ -f "$(lab_dir "$i")/pid" ]] && ! kill -0 "$(cat "$(lab_dir "$i")/pid")" 2>/dev/null; then
      lab_die "knotd $i exited: $(tail -n 5 "$(lab_dir "$i")/knotd.stderr" "$(lab_dir "$i")/knotd.log" 2>/dev/null)" || return 1
    fi
    sleep 0.1
  done
  lab_die "instance $i ($(lab_addr "$i"):$LAB_PORT) does not answer${want:+ serial $want} (got '${got}')" || return 1
}

# lab_start_one I: (re)starts instance I, which lab_start created.
lab_start_one() {
  local i=$1 dir pid
  dir=$(lab_dir "$i")
  [[ -d $dir ]] || lab_die "no instance $i (call lab_start first)" || return 1
  if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    return 0
  fi
  knotd -c "$dir/knot.conf" >>"$dir/knotd.stderr" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  lab_wait_ready "$i"
}

# lab_start N: N knotd instances on LAB_NET.1..N, port LAB_PORT, serving LAB_ZONE signed.
lab_start() {
  local n=${1:?usage: lab_start N} i dir
  ((n >= 1 && n <= 254)) || lab_die "lab_start: N must be 1..254" || return 1
  lab_require knotd knotc keymgr kdig nft || return 1
  [[ -z $LAB_DIR ]] || lab_die "lab already started in $LAB_DIR" || return 1
  for ((i = 1; i <= n; i++)); do
    if (: <>"/dev/tcp/$(lab_addr "$i")/$LAB_PORT") 2>/dev/null; then
      lab_die "$(lab_addr "$i"):$LAB_PORT already accepts connections: another lab running?" || return 1
    fi
  done
  LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/nsprobe-lab.XXXXXX")
  LAB_N=$n
  lab_install_trap
  lab_nft_reset
  lab_make_key || return 1
  for ((i = 1; i <= n; i++)); do
    dir=$(lab_dir "$i")
    mkdir -p "$dir/run" "$dir/zones" "$dir/storage"
    cp -a "$LAB_DIR/keysrc/storage/keys" "$dir/storage/keys"
    lab_write_conf "$i"
    lab_write_zone "$i" "$LAB_SERIAL"
    knotd -c "$dir/knot.conf" >>"$dir/knotd.stderr" 2>&1 &
    echo "$!" >"$dir/pid"
  done
  for ((i = 1; i <= n; i++)); do
    lab_wait_ready "$i" "$LAB_SERIAL" || return 1
  done
  lab_log "$n knotd instance(s) serving $LAB_ZONE serial $LAB_SERIAL on $LAB_NET.1..$n port $LAB_PORT ($LAB_DIR)"
}

# lab_set_serial SERIAL [I...]: new zone serial on the given instances (default all);
# returns once each (running) instance answers it.
lab_set_serial() {
  local serial=${1:?usage: lab_set_serial SERIAL [instance...]} i dir
  shift
  local -a which=("$@")
  if ((${#which[@]} == 0)); then
    for ((i = 1; i <= LAB_N; i++)); do which+=("$i"); done
  fi
  for i in "${which[@]}"; do
    dir=$(lab_dir "$i")
    lab_write_zone "$i" "$serial"
    if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      knotc -s "$dir/run/knot.sock" -b zone-reload "$LAB_ZONE" >/dev/null ||
        lab_die "knotc zone-reload failed on instance $i" || return 1
      if ! lab_nft_dropped "$i"; then
        lab_wait_ready "$i" "$serial" || return 1
      fi
    fi
  done
}

# lab_stop I: stops instance I (its address then refuses: ICMP port unreachable).
lab_stop() {
  local i=${1:?usage: lab_stop I} dir pid n
  dir=$(lab_dir "$i")
  [[ -f $dir/pid ]] || return 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for ((n = 0; n < 50; n++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

lab_nft_reset() {
  nft delete table inet "$LAB_NFT_TABLE" 2>/dev/null || true
  nft -f - <<EOF
table inet $LAB_NFT_TABLE {
  chain input {
    type filter hook input priority -10; policy accept;
  }
}
EOF
}

lab_nft_dropped() {
  nft list chain inet "$LAB_NFT_TABLE" input 2>/dev/null | grep -q "comment \"lab$1\""
}

# lab_drop I [PCT]: drops PCT % (default 100) of UDP and TCP packets to instance I,
# in the input hook, so clients time out (a silent outage).
lab_drop() {
  local i=${1:?usage: lab_drop I [PCT]} pct=${2:-100}
  local -a loss=()
  ((pct >= 1 && pct <= 100)) || lab_die "lab_drop: PCT must be 1..100" || return 1
  lab_undrop "$i"
  if ((pct < 100)); then loss=(numgen random mod 100 "<" "$pct"); fi
  nft add rule inet "$LAB_NFT_TABLE" input ip daddr "$(lab_addr "$i")" meta l4proto '{ udp, tcp }' \
    th dport "$LAB_PORT" "${loss[@]}" counter drop comment "\"lab$i\""
}

# lab_undrop I: removes instance I's drop rule.
lab_undrop() {
  local i=${1:?usage: lab_undrop I} h
  for h in $(nft -a list chain inet "$LAB_NFT_TABLE" input 2>/dev/null |
    awk -v c="comment \"lab$i\"" 'index($0, c) { print $NF }'); do
    nft delete rule inet "$LAB_NFT_TABLE" input handle "$h"
  done
}

# lab_nsprobe_config FILE [LISTEN]: writes an nsprobe config for the running lab: zone
# LAB_ZONE (component "DNS (.dk)"), one nameserver per instance, 1 s interval, HTTP on
# LISTEN (default 127.0.0.1:19853), state in the lab dir. Append [[maintenance]] etc. to it.
lab_nsprobe_config() {
  local file=${1:?usage: lab_nsprobe_config FILE [LISTEN]} listen=${2:-127.0.0.1:19853} i
  [[ -n $LAB_DIR ]] || lab_die "lab_nsprobe_config: call lab_start first" || return 1
  {
    cat <<EOF
[http]
listen = "$listen"

[state]
path = "$LAB_DIR/nsprobe-state.json"

[[zone]]
name = "$LAB_ZONE"
component = "DNS (.dk)"
interval = "1s"
timeout = "500ms"
stale_after = "20s"
fail_after = 3
recover_after = 2
lag_after = "5s"
confirm_after = "${LAB_CONFIRM_AFTER:-2s}"
clear_after = "${LAB_CLEAR_AFTER:-3s}"
dnssec = true
EOF
    for ((i = 1; i <= LAB_N; i++)); do
      printf '\n[[zone.nameservers]]\nname = "%s"\naddresses = ["%s:%s"]\n' "$(lab_name "$i")" "$(lab_addr "$i")" "$LAB_PORT"
    done
  } >"$file"
}

# lab_cleanup: stops every process the lab started, removes the nft table and temp dirs.
lab_cleanup() {
  local i
  prom_cleanup
  if [[ -n $LAB_DIR && -d $LAB_DIR ]]; then
    for ((i = 1; i <= LAB_N; i++)); do
      lab_stop "$i"
    done
    rm -rf "$LAB_DIR"
  fi
  nft delete table inet "$LAB_NFT_TABLE" 2>/dev/null || true
  LAB_DIR=""
  LAB_N=0
}

# prom_start TARGET|FILE: Prometheus on 127.0.0.1:PROM_PORT, temp TSDB, scrape and rule
# evaluation every 1 s, rule file dashboards/alerts.yml. The argument is either nsprobe's
# HOST:PORT, an nsprobe config (.toml: its [http] listen is scraped), or a complete
# Prometheus config file (.yml/.yaml, used as is).
prom_start() {
  local arg=${1:?usage: prom_start HOST:PORT|nsprobe.toml|prometheus.yml} target conf n k
  lab_require prometheus curl jq || return 1
  [[ -z $PROM_PID ]] || lab_die "prometheus already running (pid $PROM_PID)" || return 1
  PROM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/nsprobe-prom.XXXXXX")
  lab_install_trap
  case $arg in
    *.yml | *.yaml) conf=$arg ;;
    *)
      if [[ $arg == *.toml ]]; then
        target=$(sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$arg" | head -n 1)
        [[ -n $target ]] || lab_die "no listen = \"...\" in $arg" || return 1
      else
        target=$arg
      fi
      conf=$PROM_DIR/prometheus.yml
      cat >"$conf" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $LAB_REPO_ROOT/dashboards/alerts.yml
scrape_configs:
  - job_name: nsprobe
    static_configs:
      - targets: ['$target']
EOF
      ;;
  esac
  prometheus --config.file="$conf" --storage.tsdb.path="$PROM_DIR/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$PROM_DIR/prometheus.log" 2>&1 &
  PROM_PID=$!
  for ((n = 0; n < 100; n++)); do
    if curl -fsS "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1; then
      # Target discovery is applied about 5 s after start: wait for the first scrape.
      for ((k = 0; k < 150; k++)); do
        if [[ $(curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/targets" |
          jq '[.data.activeTargets[] | select(.health != "unknown")] | length') -gt 0 ]]; then
          lab_log "prometheus ready on 127.0.0.1:$PROM_PORT, first scrape done ($PROM_DIR)"
          return 0
        fi
        sleep 0.1
      done
      lab_log "prometheus ready on 127.0.0.1:$PROM_PORT, but no target scraped within 15 s"
      return 0
    fi
    kill -0 "$PROM_PID" 2>/dev/null || break
    sleep 0.1
  done
  lab_die "prometheus did not become ready: $(tail -n 5 "$PROM_DIR/prometheus.log")" || return 1
}

# prom_alerts [JQ_FILTER]: the array of active alerts (pending and firing), piped
# through JQ_FILTER, e.g. prom_alerts '[.[] | select(.state == "firing") | .labels.alertname]'.
prom_alerts() {
  curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/alerts" | jq ".data.alerts | ${1:-.}"
}

# prom_query EXPR: instant query result vector as JSON.
prom_query() {
  curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" | jq '.data.result'
}

prom_cleanup() {
  local n
  if [[ -n $PROM_PID ]]; then
    kill "$PROM_PID" 2>/dev/null || true
    for ((n = 0; n < 50; n++)); do
      kill -0 "$PROM_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
    PROM_PID=""
  fi
  if [[ -n $PROM_DIR && -d $PROM_DIR ]]; then
    rm -rf "$PROM_DIR"
  fi
  PROM_DIR=""
}
