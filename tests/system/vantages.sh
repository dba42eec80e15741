#!/usr/bin/env bash
# System test of several vantage points (issue 14): three nsprobe instances, cph-1, fra-1
# and ams-1, probe the same five real Knot DNS servers (a, b, c, d, l.nic.dk on
# 127.0.21.1-5 port 5321), each from its own loopback source address
# (`[vantage] source_address` 127.0.2.1, 127.0.2.2, 127.0.2.3). cph-1 is also the hub: it
# pulls fra-1's and ams-1's observations (`[[peer]]`) and publishes quorum statuses. Real
# Prometheus servers as in README's federation recipe: one per vantage (external label
# `vantage`) and a global one federating them, which evaluates the shipped quorum rules
# (dashboards/alerts-vantages.yml, `for:` shortened to ALERT_FOR, default 10s, as run.sh
# does, so that the run stays short).
#
# Faults are nftables drops in the input hook that match the SOURCE address, so one
# vantage's path to l.nic.dk breaks while the others' stays fine:
#   1. l.nic.dk dropped for cph-1 only -> hub: l.nic.dk degraded_performance naming cph-1,
#      never an outage; Prometheus: NsprobeNameserverDownSomeVantages, no quorum page
#   2. also for fra-1 (2 of 3)          -> hub: major_outage; fra-1 alone: major_outage;
#      Prometheus: NsprobeNameserverDownQuorum fires (severity page)
#   3. paths heal                       -> operational, the page resolves
#   4. ams-1 killed (SIGKILL)           -> hub: nsprobe_peer_up 0 for it, ams-1 ages out
#      after max_age, statuses go on from cph-1 and fra-1 (cph-1's path broken again:
#      degraded, 1 of 2); Prometheus: NsprobeVantageSilent for ams-1, no quorum page
# Prints detection times (quorum vs single vantage) measured from the fault's timestamp.
#
# Needs root (nftables), knot, knot-dnsutils, prometheus, nftables, curl, jq. Only loopback
# addresses (127.0.21.x servers, 127.0.2.1-3 sources, 127.0.0.1 HTTP ports 19381-19383,
# Prometheus 19380 (global), 19390 (remote_write receiver) and 19391-19393 (per vantage)).
# About 1.5 minutes. Run under the shared lock:
#   flock /tmp/nsprobe-systest.lock bash tests/system/vantages.sh
# Ends with "vantages: N passed, M failed"; exit status 1 if any check failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
export LAB_NET=127.0.21 LAB_PORT=5321 PROM_PORT=19380 LAB_NFT_TABLE=nsprobe_vantages
export LAB_CONFIRM_AFTER=2s LAB_CLEAR_AFTER=3s
# shellcheck source=tests/system/lab.sh
source tests/system/lab.sh

NSPROBE=${NSPROBE:-$REPO/target/release/nsprobe}
ALERT_FOR=${ALERT_FOR:-10s}
MAX_AGE_S=10
NAMES=(cph-1 fra-1 ams-1)
SOURCES=(127.0.2.1 127.0.2.2 127.0.2.3)
PORTS=(19381 19382 19383)
PIDS=("" "" "")
PUBLISHER_PID=""
LOCAL_PROM_PIDS=("" "" "")
RW_PROM_PID=""
RW_PROM=127.0.0.1:19390
L=5 # lab instance 5 is l.nic.dk
L_ADDR=$LAB_NET.$L
TOKEN=$(openssl rand -hex 24)

PASSED=0
FAILED=0
# ok, not_ok, check, now, since, wait_for: tests/system/tap.sh (through lab.sh).

# hold DESCRIPTION SECONDS COMMAND...: COMMAND holds on every poll for SECONDS.
hold() {
  local what=$1 secs=$2 start
  shift 2
  start=$(now)
  while awk -v s="$(since "$start")" -v l="$secs" 'BEGIN { exit !(s < l) }'; do
    if ! "$@" 2>/dev/null; then
      not_ok "$what (broken after $(since "$start")s)"
      return 0
    fi
    sleep 0.3
  done
  ok "$what (held ${secs}s)"
}

http_of() { echo "127.0.0.1:${PORTS[$1]}"; }
status_of() { curl -fsS -m 2 "http://$(http_of "$1")/api/v1/status"; }
# server_field V SERVER FIELD: a server's field in vantage V's /api/v1/status.
server_field() { status_of "$1" | jq -r --arg s "$2" ".zones[0].servers[] | select(.name == \$s) | .$3"; }
server_is() { [[ $(server_field "$1" "$2" status) == "$3" ]]; }
hub_is() { server_is 0 "$1" "$2"; }
hub_reason_has() { [[ $(server_field 0 "$1" reason) == *"$2"* ]]; }
# own_view_is SERVER VANTAGE STATUS: the hub's per-vantage breakdown says VANTAGE's own
# newest observation of SERVER is STATUS.
own_view_is() {
  [[ $(status_of 0 | jq -r --arg s "$1" --arg v "$2" \
    '.zones[0].servers[] | select(.name == $s) | .vantages[] | select(.vantage == $v) | .status') == "$3" ]]
}
all_fresh_operational() {
  status_of 0 | jq -e '.zones[0].servers | length == 5 and all(.status == "operational"
    and (.vantages | length == 3 and all(.fresh == true and .status == "operational")))' >/dev/null
}
zone_not_down() { [[ $(status_of 0 | jq -r '.zones[0].status') != major_outage ]]; }
hub_metric() {
  local body
  body=$(curl -fsS -m 2 "http://$(http_of 0)/metrics") || return 1
  grep -Fqx "$1" <<<"$body"
}
vantages_json() { curl -fsS -m 2 "http://$(http_of 0)/api/v1/vantages"; }

# Prometheus: active alerts as "name/state/label" lines.
alerts() { prom_alerts '[.[] | "\(.labels.alertname)/\(.state)/\(.labels.server // .labels.vantage // .labels.peer // "-")"] | .[]' | jq -r .; }
alert_is() { alerts | grep -qx "$1"; }
no_alert_named() { ! alerts | grep -q "^$1/"; }
hub_degraded_of_two() {
  hub_is l.nic.dk degraded_performance &&
    hub_reason_has l.nic.dk "unreachable from cph-1, answering at fra-1 (1 of 2 vantages, quorum 2"
}
hub_and_prom_quiet() { hub_is l.nic.dk degraded_performance && zone_not_down && no_alert_named NsprobeNameserverDownQuorum; }
prom_sees_down() {
  [[ $(prom_query "nsprobe:server_up:by_vantage{vantage=\"$1\",server=\"l.nic.dk\"}" | jq -r '.[0].value[1]') == 0 ]]
}

# nftables: drop l.nic.dk's DNS traffic coming from vantage I's source address (input
# hook: the vantage's queries time out, as on a broken path).
path_break() {
  nft add rule inet "$LAB_NFT_TABLE" input ip saddr "${SOURCES[$1]}" ip daddr "$L_ADDR" \
    meta l4proto '{ udp, tcp }' th dport "$LAB_PORT" counter drop comment "\"path${1}\""
}
path_heal() {
  local h
  for h in $(nft -a list chain inet "$LAB_NFT_TABLE" input |
    awk -v c="comment \"path$1\"" 'index($0, c) { print $NF }'); do
    nft delete rule inet "$LAB_NFT_TABLE" input handle "$h"
  done
}
# Packets from vantage I's source address to any lab server (a counting rule added at start).
seen_from() {
  nft list chain inet "$LAB_NFT_TABLE" input |
    awk -v c="comment \"seen$1\"" 'index($0, c) { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}
dropped_for() {
  nft list chain inet "$LAB_NFT_TABLE" input |
    awk -v c="comment \"path$1\"" 'index($0, c) { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}

# A new zone serial on every server every 3 s (the zone stays fresh).
publisher() {
  local serial=$LAB_SERIAL
  while true; do
    sleep 3
    serial=$((serial + 1))
    lab_set_serial "$serial" >/dev/null 2>&1 || true
  done
}

# The Prometheus next to vantage I (127.0.0.1:19391-19393).
local_prom() { echo "127.0.0.1:$((19391 + $1))"; }
local_prom_start() {
  local i=$1 d=$LAB_DIR/prom-${NAMES[$1]} n
  prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
    --web.listen-address="$(local_prom "$i")" >"$d/prometheus.log" 2>&1 &
  LOCAL_PROM_PIDS[i]=$!
  for ((n = 0; n < 100; n++)); do
    curl -fsS -o /dev/null "http://$(local_prom "$i")/-/ready" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "prometheus of ${NAMES[i]} did not start: $(tail -n 3 "$d/prometheus.log")" >&2
  return 1
}

# README's remote_write recipe with Prometheus as the receiver (the protocol Thanos
# Receive and Mimir take): it scrapes nothing, receives every vantage Prometheus's
# samples with their `vantage` external label, and evaluates the same quorum rules.
rw_prom_start() {
  local d=$LAB_DIR/prom-rw n
  prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
    --web.listen-address="$RW_PROM" --web.enable-remote-write-receiver >"$d/prometheus.log" 2>&1 &
  RW_PROM_PID=$!
  for ((n = 0; n < 100; n++)); do
    curl -fsS -o /dev/null "http://$RW_PROM/-/ready" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the remote_write receiver did not start: $(tail -n 3 "$d/prometheus.log")" >&2
  return 1
}
# rw COMMAND...: COMMAND against the remote_write receiver instead of the global Prometheus.
rw() { PROM_PORT=${RW_PROM##*:} "$@"; }

start_vantage() {
  local i=$1
  "$NSPROBE" run -c "$LAB_DIR/${NAMES[i]}/nsprobe.toml" 2>"$LAB_DIR/${NAMES[i]}/nsprobe.log" &
  PIDS[i]=$!
}

cleanup() {
  set +e
  local i
  [[ -n $PUBLISHER_PID ]] && kill "$PUBLISHER_PID" 2>/dev/null
  for i in 0 1 2; do
    if [[ -n ${LOCAL_PROM_PIDS[i]} ]]; then
      kill "${LOCAL_PROM_PIDS[i]}" 2>/dev/null
      wait "${LOCAL_PROM_PIDS[i]}" 2>/dev/null
    fi
  done
  if [[ -n $RW_PROM_PID ]]; then
    kill "$RW_PROM_PID" 2>/dev/null
    wait "$RW_PROM_PID" 2>/dev/null
  fi
  for i in 0 1 2; do
    if [[ -n ${PIDS[i]} ]] && kill -0 "${PIDS[i]}" 2>/dev/null; then
      kill -TERM "${PIDS[i]}"
      wait "${PIDS[i]}" 2>/dev/null
    fi
  done
  lab_cleanup
}

# ---------------------------------------------------------------------------
lab_require knotd knotc kdig keymgr prometheus promtool nft curl jq openssl
[[ $(id -u) == 0 ]] || {
  echo "system tests need root (nftables)"
  echo "vantages: 0 passed, 1 failed"
  exit 1
}
if [[ ! -x $NSPROBE ]]; then
  echo "building nsprobe (release)" >&2
  cargo build --release --quiet
fi

lab_start 5 # a, b, c, d, l.nic.dk on 127.0.21.1-5:5321
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

for i in 0 1 2; do
  mkdir -p "$LAB_DIR/${NAMES[i]}"
  conf=$LAB_DIR/${NAMES[i]}/nsprobe.toml
  lab_nsprobe_config "$conf" "$(http_of "$i")"
  sed -i "s|$LAB_DIR/nsprobe-state.json|$LAB_DIR/${NAMES[i]}/state.json|" "$conf"
  cat >>"$conf" <<EOF

[vantage]
name = "${NAMES[i]}"
location = "lab ${SOURCES[i]}"
source_address = "${SOURCES[i]}"
observation_tokens = ["$TOKEN"]
max_age = "${MAX_AGE_S}s"
EOF
  # Count what each vantage sends to the lab servers (proof of its source address).
  nft add rule inet "$LAB_NFT_TABLE" input ip saddr "${SOURCES[i]}" ip daddr "$LAB_NET.0/24" \
    th dport "$LAB_PORT" counter comment "\"seen$i\""
done
cat >>"$LAB_DIR/cph-1/nsprobe.toml" <<EOF

[[peer]]
url = "http://$(http_of 1)"
token = "$TOKEN"
interval = "1s"

[[peer]]
url = "http://$(http_of 2)"
token = "$TOKEN"
interval = "1s"
EOF

sed -E "s/^([[:space:]]*for:).*/\1 $ALERT_FOR/" dashboards/alerts-vantages.yml >"$LAB_DIR/alerts-vantages.yml"
# Prometheus as in README's federation recipe: one Prometheus per vantage scraping it with
# external label `vantage`, and a global one federating them (honor_labels) that
# evaluates the quorum rules.
for i in 0 1 2; do
  mkdir -p "$LAB_DIR/prom-${NAMES[i]}"
  cat >"$LAB_DIR/prom-${NAMES[i]}/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  external_labels: {vantage: ${NAMES[i]}}
scrape_configs:
  - job_name: nsprobe
    static_configs:
      - targets: ['$(http_of "$i")']
remote_write:
  - url: http://$RW_PROM/api/v1/write
    queue_config: {batch_send_deadline: 1s}
EOF
done
mkdir -p "$LAB_DIR/prom-rw"
cat >"$LAB_DIR/prom-rw/prometheus.yml" <<EOF
global:
  evaluation_interval: 1s
rule_files:
  - $LAB_DIR/alerts-vantages.yml
EOF
cat >"$LAB_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $LAB_DIR/alerts-vantages.yml
scrape_configs:
  - job_name: nsprobe-federate
    honor_labels: true
    metrics_path: /federate
    params: {'match[]': ['{job="nsprobe"}']}
    static_configs:
      - targets: ['$(local_prom 0)', '$(local_prom 1)', '$(local_prom 2)']
EOF

echo "# static checks"
check "promtool check rules dashboards/alerts-vantages.yml" promtool check rules dashboards/alerts-vantages.yml
for i in 0 1 2; do
  check "nsprobe validate ${NAMES[i]}'s config" "$NSPROBE" validate -c "$LAB_DIR/${NAMES[i]}/nsprobe.toml"
done

echo "# start: three vantages (cph-1 is the hub), Prometheus"
T0=$(now)
for i in 2 1 0; do start_vantage "$i"; done
publisher &
PUBLISHER_PID=$!
for i in 0 1 2; do
  wait_for "${NAMES[i]} ready (/readyz)" 20 curl -fsS -m 2 -o /dev/null "http://$(http_of "$i")/readyz"
done
rw_prom_start
for i in 0 1 2; do local_prom_start "$i"; done
prom_start "$LAB_DIR/prometheus.yml"
trap cleanup EXIT # prom_start installs lab_cleanup alone

echo "# baseline"
T0=$(now)
wait_for "hub: every server operational, seen fresh by 3 vantages" 30 all_fresh_operational
check "hub: /api/v1/vantages lists cph-1, fra-1, ams-1, all up" \
  bash -c "curl -fsS http://$(http_of 0)/api/v1/vantages | jq -e '.hub == true and ([.vantages[].name] == [\"cph-1\", \"fra-1\", \"ams-1\"]) and all(.vantages[]; .up == true)' >/dev/null"
for i in 0 1 2; do
  check "${NAMES[i]}'s probes leave from ${SOURCES[i]} (nft counter: $(seen_from "$i") packets)" test "$(seen_from "$i")" -gt 0
done
check "hub: nsprobe_peer_up 1 for both peers" \
  bash -c "curl -fsS http://$(http_of 0)/metrics | grep -c '^nsprobe_peer_up{.*} 1\$' | grep -qx 2"
wait_for "Prometheus: 3 vantages scraped" 20 \
  bash -c "[[ \$(curl -fsS 'http://127.0.0.1:$PROM_PORT/api/v1/query' --data-urlencode 'query=count(up{job=\"nsprobe\"} == 1)' | jq -r '.data.result[0].value[1]') == 3 ]]"
wait_for "Prometheus: nsprobe:server_up:by_vantage has 3 vantages x 5 servers" 20 \
  bash -c "[[ \$(curl -fsS 'http://127.0.0.1:$PROM_PORT/api/v1/query' --data-urlencode 'query=count(nsprobe:server_up:by_vantage == 1)' | jq -r '.data.result[0].value[1]') == 15 ]]"
wait_for "remote_write receiver: nsprobe:server_up:by_vantage has 3 vantages x 5 servers" 20 \
  bash -c "[[ \$(curl -fsS 'http://$RW_PROM/api/v1/query' --data-urlencode 'query=count(nsprobe:server_up:by_vantage == 1)' | jq -r '.data.result[0].value[1]') == 15 ]]"

echo "# 1. l.nic.dk unreachable from cph-1 only"
T0=$(now)
path_break 0
wait_for "cph-1's own view of l.nic.dk: major_outage (single vantage)" 20 own_view_is l.nic.dk cph-1 major_outage
ONE_OWN=$WAITED
wait_for "hub: l.nic.dk degraded_performance" 20 hub_is l.nic.dk degraded_performance
ONE_HUB=$WAITED
check "hub: reason names cph-1 ($(server_field 0 l.nic.dk reason))" \
  hub_reason_has l.nic.dk "l.nic.dk unreachable from cph-1, answering at ams-1 and fra-1 (1 of 3 vantages, quorum 2)"
check "fra-1 alone sees l.nic.dk operational" server_is 1 l.nic.dk operational
wait_for "Prometheus: cph-1's l.nic.dk series is 0" 20 prom_sees_down cph-1
ONE_PROM_SERIES=$WAITED
wait_for "Prometheus: NsprobeNameserverDownSomeVantages firing for l.nic.dk (warning)" 40 \
  alert_is NsprobeNameserverDownSomeVantages/firing/l.nic.dk
ONE_PROM_WARN=$WAITED
wait_for "remote_write receiver: NsprobeNameserverDownSomeVantages firing for l.nic.dk" 20 \
  rw alert_is NsprobeNameserverDownSomeVantages/firing/l.nic.dk
check "remote_write receiver: no quorum page from 1 of 3" rw no_alert_named NsprobeNameserverDownQuorum
hold "hub: degraded, zone not down, no quorum page (pending or firing)" 8 hub_and_prom_quiet
check "the drop rule matched cph-1's packets only ($(dropped_for 0) dropped)" test "$(dropped_for 0)" -gt 0

echo "# 2. l.nic.dk unreachable from cph-1 and fra-1 (2 of 3)"
T0=$(now)
path_break 1
wait_for "fra-1 alone: l.nic.dk major_outage (single vantage, published)" 20 server_is 1 l.nic.dk major_outage
TWO_SINGLE=$WAITED
wait_for "hub: l.nic.dk major_outage (quorum)" 20 hub_is l.nic.dk major_outage
TWO_HUB=$WAITED
check "hub: reason names cph-1 and fra-1 ($(server_field 0 l.nic.dk reason))" \
  hub_reason_has l.nic.dk "l.nic.dk unreachable from cph-1 and fra-1, answering at ams-1 (2 of 3 vantages, quorum 2)"
check "hub: a.nic.dk still operational" hub_is a.nic.dk operational
check "hub: zone group not major_outage (4 of 5 servers answer)" zone_not_down
check "hub: zone not stale (new serials every 3 s)" bash -c "curl -fsS http://$(http_of 0)/api/v1/status | jq -e '.zones[0].stale == false' >/dev/null"
wait_for "Prometheus: NsprobeNameserverDownQuorum firing for l.nic.dk" 60 \
  alert_is NsprobeNameserverDownQuorum/firing/l.nic.dk
TWO_PROM_PAGE=$WAITED
wait_for "remote_write receiver: NsprobeNameserverDownQuorum firing for l.nic.dk" 20 \
  rw alert_is NsprobeNameserverDownQuorum/firing/l.nic.dk
check "Prometheus: the quorum alert is severity page" \
  bash -c "curl -fsS http://127.0.0.1:$PROM_PORT/api/v1/alerts | jq -e '[.data.alerts[] | select(.labels.alertname == \"NsprobeNameserverDownQuorum\")] | length == 1 and .[0].labels.severity == \"page\" and .[0].labels.server == \"l.nic.dk\"' >/dev/null"

echo "# 3. the paths heal"
T0=$(now)
path_heal 0
path_heal 1
wait_for "hub: l.nic.dk operational again" 30 hub_is l.nic.dk operational
wait_for "Prometheus: no quorum alert any more" 30 no_alert_named NsprobeNameserverDownQuorum
wait_for "remote_write receiver: no quorum alert any more" 30 rw no_alert_named NsprobeNameserverDownQuorum

echo "# 4. ams-1 killed"
T0=$(now)
kill -KILL "${PIDS[2]}"
wait "${PIDS[2]}" 2>/dev/null || true
PIDS[2]=""
wait_for "hub: nsprobe_peer_up 0 for ams-1" 15 hub_metric "nsprobe_peer_up{peer=\"http://$(http_of 2)\"} 0"
PEER_DOWN=$WAITED
wait_for "hub: ams-1 aged out of the vote (2 vantages)" $((MAX_AGE_S + 15)) hub_reason_has l.nic.dk "(2 vantages; not voting: ams-1)"
AGED=$WAITED
wait_for "hub: /api/v1/vantages shows ams-1 down, not fresh, with an error" $((MAX_AGE_S + 10)) \
  bash -c "curl -fsS http://$(http_of 0)/api/v1/vantages | jq -e '.vantages[2] | .name == \"ams-1\" and .up == false and .fresh == false and (.error | type == \"string\")' >/dev/null"
check "hub: every server still operational from cph-1 and fra-1" \
  bash -c "curl -fsS http://$(http_of 0)/api/v1/status | jq -e '.zones[0].servers | all(.status == \"operational\")' >/dev/null"
T0=$(now)
path_break 0
wait_for "hub: l.nic.dk degraded_performance from the two left (1 of 2 vantages)" 20 hub_degraded_of_two
hold "hub: l.nic.dk stays degraded, never an outage" 5 hub_degraded_of_two
wait_for "Prometheus: NsprobeVantageSilent firing for ams-1" 40 alert_is NsprobeVantageSilent/firing/ams-1
sleep 2
check "Prometheus: no quorum page from 1 of 2 reporting vantages" no_alert_named NsprobeNameserverDownQuorum
path_heal 0

echo "# shutdown"
for i in 0 1; do
  rc=0
  kill -TERM "${PIDS[i]}"
  wait "${PIDS[i]}" || rc=$?
  PIDS[i]=""
  check "${NAMES[i]} exits 0 on SIGTERM" test "$rc" = 0
done
if ((FAILED > 0)); then
  for n in "${NAMES[@]}"; do
    echo "--- $n log (last 20 lines)"
    tail -n 20 "$LAB_DIR/$n/nsprobe.log" || true
  done
fi

echo
echo "detection times (seconds from the drop; interval 1s, timeout 500ms, fail_after 3,"
echo "confirm_after $LAB_CONFIRM_AFTER, peer pull every 1s, Prometheus scrape/eval 1s, alert for: $ALERT_FOR):"
echo "  1 of 3 vantages: cph-1's own view down ${ONE_OWN}, hub degraded ${ONE_HUB},"
echo "                   Prometheus series 0 ${ONE_PROM_SERIES}, warning firing ${ONE_PROM_WARN}"
echo "  2 of 3 vantages: single vantage (fra-1's own published status) ${TWO_SINGLE},"
echo "                   quorum at the hub ${TWO_HUB}, Prometheus quorum page firing ${TWO_PROM_PAGE}"
echo "  peer killed:     nsprobe_peer_up 0 after ${PEER_DOWN}, aged out of the vote after ${AGED} (max_age ${MAX_AGE_S}s)"
echo
echo "vantages: $PASSED passed, $FAILED failed"
((FAILED == 0))
