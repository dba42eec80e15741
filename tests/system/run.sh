#!/usr/bin/env bash
# System tests: nsprobe against real Knot DNS instances, scraped by a real
# Prometheus evaluating dashboards/alerts.yml. Replays the incidents of the .dk
# status page — one nameserver unreachable, a lagging server, a stalled zone
# publication, a maintenance window — plus a failed config reload, and asserts
# through nsprobe's JSON API and Prometheus' /api/v1/alerts that the right
# statuses and alerts appear and clear, and no others.
#
# Needs root (nftables) and: knot knot-dnsutils prometheus nftables curl jq
# (`.ci/run` installs them). Uses only loopback addresses 127.0.1.1-4 and
# 127.0.0.1; cleans up every process it starts. Takes about 3 minutes.
#
# The alert rules are evaluated from a copy of dashboards/alerts.yml whose `for:`
# durations are shortened to ALERT_FOR (default 5s) so that the run stays short;
# the expressions are the shipped ones. The full `for:` semantics are covered by
# `promtool test rules dashboards/alerts.test.yml`, which this script also runs.
#
# Ends with the line "N passed, M failed"; exit status 1 if any check failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
# shellcheck source=tests/system/lab.sh
source tests/system/lab.sh

NSPROBE=${NSPROBE:-$REPO/target/release/nsprobe}
ALERT_FOR=${ALERT_FOR:-5s}
HTTP=127.0.0.1:19853
PUBLISH_EVERY=3

PASSED=0
FAILED=0
NSPROBE_PID=""
PUBLISHER_PID=""

log() { echo "system: $*" >&2; }

# ok, not_ok, check, now, since, wait_for, status_json, server_status, server_is:
# tests/system/tap.sh (through lab.sh).

zone_field() { status_json | jq -r ".zones[0].$1"; }
zone_is() { [[ $(zone_field status) == "$1" ]]; }
zone_stale_is() { [[ $(zone_field stale) == "$1" ]]; }
server_lag_positive() { [[ $(status_json | jq --arg s "$1" '.zones[0].servers[] | select(.name == $s) | .lag') -gt 0 ]]; }

# Firing alerts as sorted "alertname/server-or-zone" lines.
firing() {
  prom_alerts '[.[] | select(.state == "firing") | "\(.labels.alertname)/\(.labels.server // .labels.zone // "-")"] | sort | .[]' | jq -r .
}
firing_is() {
  local now
  now=$(firing | tr '\n' ' ')
  [[ $now == "$*" ]] || { log "firing: '$now', expected '$*'"; return 1; }
}
alert_firing() { firing | grep -qx "$1"; }
no_alert_firing() { ! firing | grep -q .; }

abc_operational() {
  server_is a.nic.dk operational && server_is b.nic.dk operational && server_is c.nic.dk operational
}
# The body is read whole before grep: `curl | grep -q` fails under pipefail when grep
# exits at an early match and curl cannot finish writing (curl: (23)).
metrics_body() { curl -fsS "http://$HTTP/metrics"; }
metrics_match() {
  local body
  body=$(metrics_body) || return 1
  grep -Eq "$1" <<<"$body"
}
# nsid_series SERVER NSID: an nsprobe_nsid_info series of SERVER carries NSID.
nsid_series() {
  local body
  body=$(metrics_body) || return 1
  grep '^nsprobe_nsid_info{' <<<"$body" | grep -F "server=\"$1\"" | grep -F "nsid=\"$2\"" >/dev/null
}
live_metrics_pass_promtool() { curl -fsS "http://$HTTP/metrics" | promtool check metrics; }

# Incidents nsprobe writes (Statuspage shapes). The first update is the oldest one, last
# in incident_updates (newest first).
unresolved_json() { curl -fsS "http://$HTTP/api/v2/incidents/unresolved.json"; }
incidents_json() { curl -fsS "http://$HTTP/api/v2/incidents.json"; }
unresolved_named() { [[ $(unresolved_json | jq --arg n "$1" '[.incidents[] | select(.name == $n)] | length') -ge 1 ]]; }
# incident_named NAME: the newest incident named NAME (all incidents), compact JSON.
incident_named() { incidents_json | jq -c --arg n "$1" '[.incidents[] | select(.name == $n)][0]'; }
resolved_named() { [[ $(incident_named "$1" | jq -r .status) == resolved ]]; }
inc_field() { jq -r "$2" <<<"$1"; }
# hhmm_near EPOCH: HH:MM UTC of EPOCH and of 2 s before it (the last answer precedes the drop).
hhmm_near() { date -u -d "@$1" +%H:%M; date -u -d "@$(($1 - 2))" +%H:%M; }

# reload_metric_is V: nsprobe_config_last_reload_successful is V (a function, so that
# wait_for re-reads the metric on every poll).
reload_metric_is() { test "$(metric_value nsprobe_config_last_reload_successful)" = "$1"; }

metric_value() {
  curl -fsS "http://$HTTP/metrics" | awk -v m="$1" '$1 == m { print $2; exit }'
}

# The publisher: every PUBLISH_EVERY seconds a new serial on the instances listed in
# $LAB_DIR/publish_to (empty file = publication stalled); the time of the last
# publication goes to $LAB_DIR/last_publish.
publisher() {
  local serial=$LAB_SERIAL list
  while true; do
    list=$(cat "$LAB_DIR/publish_to")
    if [[ -n $list ]]; then
      serial=$((serial + 1))
      # shellcheck disable=SC2086
      lab_set_serial "$serial" $list >/dev/null 2>&1 || true
      now >"$LAB_DIR/last_publish"
      echo "$serial" >"$LAB_DIR/serial"
    fi
    sleep "$PUBLISH_EVERY"
  done
}
publish_to() { echo "$*" >"$LAB_DIR/publish_to"; }

cleanup() {
  set +e
  [[ -n $PUBLISHER_PID ]] && kill "$PUBLISHER_PID" 2>/dev/null
  if [[ -n $NSPROBE_PID ]] && kill -0 "$NSPROBE_PID" 2>/dev/null; then
    kill -TERM "$NSPROBE_PID"
    wait "$NSPROBE_PID" 2>/dev/null
  fi
  lab_cleanup
}

# ---------------------------------------------------------------------------
lab_require knotd knotc kdig keymgr prometheus promtool nft curl jq
[[ $(id -u) == 0 ]] || { echo "system tests need root (nftables)"; echo "0 passed, 1 failed"; exit 1; }
if [[ ! -x $NSPROBE ]]; then
  log "building nsprobe (release)"
  cargo build --release --quiet
fi

lab_start 4 # a, b, c, d.nic.dk on 127.0.1.1-4:5300
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

CONFIG=$LAB_DIR/nsprobe.toml
lab_nsprobe_config "$CONFIG" "$HTTP"
cat >>"$CONFIG" <<EOF

[[maintenance]]
components = ["d.nic.dk"]
start = "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
end = "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
reason = "Secondary data-centre network work"
EOF
cp "$CONFIG" "$LAB_DIR/nsprobe.toml.good"

sed -E "s/^([[:space:]]*for:).*/\1 $ALERT_FOR/" dashboards/alerts.yml >"$LAB_DIR/alerts.yml"
cat >"$LAB_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $LAB_DIR/alerts.yml
scrape_configs:
  - job_name: nsprobe
    static_configs:
      - targets: ['$HTTP']
EOF

echo "# static checks"
check "promtool check rules dashboards/alerts.yml" promtool check rules dashboards/alerts.yml
check "promtool test rules dashboards/alerts.test.yml" promtool test rules dashboards/alerts.test.yml
check "nsprobe validate on the lab config" "$NSPROBE" validate -c "$CONFIG"

echo "# start: nsprobe, Prometheus, publication every ${PUBLISH_EVERY}s"
"$NSPROBE" run -c "$CONFIG" 2>"$LAB_DIR/nsprobe.log" &
NSPROBE_PID=$!
publish_to 1 2 3
publisher &
PUBLISHER_PID=$!
T0=$(now)
wait_for "nsprobe ready (/readyz)" 15 curl -fsS "http://$HTTP/readyz"
prom_start "$LAB_DIR/prometheus.yml"
trap cleanup EXIT # prom_start installs lab_cleanup alone
lab_stop 4        # d.nic.dk goes away during its declared maintenance window

echo "# baseline: maintenance on d.nic.dk, everything else operational"
T0=$(now)
wait_for "d.nic.dk under_maintenance" 15 server_is d.nic.dk under_maintenance
wait_for "a, b, c operational" 15 abc_operational
check "zone operational (a server in maintenance does not degrade it)" zone_is operational
sleep 8 # longer than ALERT_FOR: a d.nic.dk alert would be firing by now if not muted
check "d.nic.dk is down (target_up 0) but no alert fires during its maintenance" no_alert_firing
check "nsprobe_maintenance{component=\"d.nic.dk\",group=...} is 1" \
  test "$(curl -fsS "http://$HTTP/metrics" | grep -F 'nsprobe_maintenance{component="d.nic.dk",group="' | awk '{ print $NF }')" = 1
check "nsid_info shows each instance's own NSID" nsid_series b.nic.dk b.nic.dk
check "SOA RRSIG expiry exported (signed zone)" \
  metrics_match '^nsprobe_soa_rrsig_expiration_timestamp_seconds\{'
check "promtool check metrics on live /metrics" live_metrics_pass_promtool

echo "# incident: b.nic.dk unreachable (packets dropped)"
DROP_AT=$(date +%s)
lab_drop 2
T0=$(now)
wait_for "b.nic.dk major_outage" 15 server_is b.nic.dk major_outage
OUTAGE_STATUS=$WAITED
check "zone group degraded_performance, not major_outage, with one server of four out" zone_is degraded_performance
OUTAGE_NAME="Network connectivity issue affecting b.nic.dk"
wait_for "incident \"$OUTAGE_NAME\" in unresolved.json" 10 unresolved_named "$OUTAGE_NAME"
OUTAGE_INC=$(unresolved_json | jq -c --arg n "$OUTAGE_NAME" '[.incidents[] | select(.name == $n)][0]')
OUTAGE_BODY=$(inc_field "$OUTAGE_INC" '.incident_updates[-1].body')
OUTAGE_SINCE=$(sed -nE 's/.* since ([0-9]{2}:[0-9]{2}) UTC\..*/\1/p' <<<"$OUTAGE_BODY")
check "outage incident: status investigating" test "$(inc_field "$OUTAGE_INC" .status)" = investigating
check "outage incident: impact minor (one server of four; the group is degraded, not down)" \
  test "$(inc_field "$OUTAGE_INC" .impact)" = minor
check "outage incident: first update is 'investigating'" \
  test "$(inc_field "$OUTAGE_INC" '.incident_updates[-1].status')" = investigating
check "outage incident: the time it names is the drop's minute (UTC)" \
  grep -qx "${OUTAGE_SINCE:-none}" <(hhmm_near "$DROP_AT")
check "outage incident: first update names the server, transports, address and the 2 other serving nameservers (d.nic.dk is in maintenance)" \
  test "$OUTAGE_BODY" = "Investigating — b.nic.dk is not reachable (UDP and TCP, $(lab_addr 2)) since ${OUTAGE_SINCE} UTC. The zone remains available through the other 2 nameservers."
check "outage incident: components b.nic.dk and DNS (.dk)" \
  test "$(inc_field "$OUTAGE_INC" '[.components[].name] | sort | join(",")')" = "DNS (.dk),b.nic.dk"
wait_for "NsprobeNameserverDown fires for b.nic.dk" 40 alert_firing NsprobeNameserverDown/b.nic.dk
OUTAGE_ALERT=$WAITED
check "no other alert fires during the outage" firing_is "NsprobeNameserverDown/b.nic.dk "
lab_undrop 2
T0=$(now)
wait_for "b.nic.dk operational again" 15 server_is b.nic.dk operational
wait_for "outage incident resolved (incidents.json)" 10 resolved_named "$OUTAGE_NAME"
OUTAGE_DONE=$(incident_named "$OUTAGE_NAME")
OUTAGE_LAST=$(inc_field "$OUTAGE_DONE" '.incident_updates[0].body')
check "outage incident: same incident resolved" test "$(inc_field "$OUTAGE_DONE" .id)" = "$(inc_field "$OUTAGE_INC" .id)"
check "outage incident: last update 'Resolved — b.nic.dk is reachable again after …'" \
  grep -Eqx 'Resolved — b\.nic\.dk is reachable again after [0-9]+ (s|min)\.' <<<"$OUTAGE_LAST"
check "outage incident: resolved_at set" test "$(inc_field "$OUTAGE_DONE" .resolved_at)" != null
wait_for "NsprobeNameserverDown for b.nic.dk clears" 20 no_alert_firing

echo "# incident: c.nic.dk lags (publication reaches a and b only)"
publish_to 1 2
T0=$(now)
wait_for "c.nic.dk lag seen" 15 server_lag_positive c.nic.dk
wait_for "c.nic.dk degraded_performance (lag_after 5s)" 20 server_is c.nic.dk degraded_performance
LAG_STATUS=$WAITED
wait_for "NsprobeNameserverLagging fires for c.nic.dk" 40 alert_firing NsprobeNameserverLagging/c.nic.dk
LAG_ALERT=$WAITED
check "no other alert fires while c.nic.dk lags" firing_is "NsprobeNameserverLagging/c.nic.dk "
publish_to 1 2 3
T0=$(now)
wait_for "c.nic.dk caught up and operational" 15 server_is c.nic.dk operational
wait_for "NsprobeNameserverLagging clears" 20 no_alert_firing
check "propagation delay observed for c.nic.dk" \
  metrics_match '^nsprobe_serial_propagation_seconds_count\{server="c\.nic\.dk",zone="dk\."\} [1-9]'

echo "# incident: stalled zone publication (every server answers, the serial stops)"
publish_to
sleep "$PUBLISH_EVERY"
T0=$(cat "$LAB_DIR/last_publish")
wait_for "zone stale (stale_after 20s)" 40 zone_stale_is true
STALL_STATUS=$WAITED
check "zone degraded_performance while stale" zone_is degraded_performance
check "every answering server still operational" abc_operational
check "stalled publication is flagged not earlier than stale_after" \
  awk -v w="$STALL_STATUS" 'BEGIN { exit !(w >= 19) }'
STALL_NAME="Updates to the dk. zone are not being published"
wait_for "incident \"$STALL_NAME\" in unresolved.json" 10 unresolved_named "$STALL_NAME"
STALL_INC=$(unresolved_json | jq -c --arg n "$STALL_NAME" '[.incidents[] | select(.name == $n)][0]')
STALL_BODY=$(inc_field "$STALL_INC" '.incident_updates[-1].body')
STALL_SERIAL=$(cat "$LAB_DIR/serial")
STALL_PUB=$(sed -nE 's/.* published version is from ([0-9-]{10} [0-9:]{8}) UTC .*/\1/p' <<<"$STALL_BODY")
STALL_AGE=$(sed -nE 's/.*\), ([0-9]+) seconds ago\.$/\1/p' <<<"$STALL_BODY")
check "stall incident: status investigating, impact minor (every server answers)" \
  test "$(inc_field "$STALL_INC" .status)/$(inc_field "$STALL_INC" .impact)" = investigating/minor
check "stall incident: first update in the operator's words, with serial $STALL_SERIAL" \
  test "$STALL_BODY" = "Investigating — updates to the dk. zone are not being published. The zone is served normally by 3 of 4 nameservers, but the latest published version is from ${STALL_PUB} UTC (serial ${STALL_SERIAL}), ${STALL_AGE} seconds ago."
# The publisher stamps last_publish after its knotc reloads return (up to a few seconds
# under load), nsprobe's time is the first answer with the serial, in whole seconds.
check "stall incident: the published time is when the last serial went out (within 3 s)" \
  awk -v p="$(date -u -d "$STALL_PUB UTC" +%s)" -v l="$(cat "$LAB_DIR/last_publish")" 'BEGIN { d = p - l; exit !(d >= -3 && d <= 3) }'
check "stall incident: the age is at least stale_after (20 s) and below a minute" \
  awk -v a="${STALL_AGE:-0}" 'BEGIN { exit !(a >= 20 && a < 60) }'
check "stall incident: component DNS (.dk)" \
  test "$(inc_field "$STALL_INC" '[.components[].name] | join(",")')" = "DNS (.dk)"
wait_for "NsprobeZoneSerialStale fires for dk." 40 alert_firing NsprobeZoneSerialStale/dk.
STALL_ALERT=$WAITED
check "no other alert fires during the stall" firing_is "NsprobeZoneSerialStale/dk. "
publish_to 1 2 3
T0=$(now)
wait_for "zone fresh again" 15 zone_stale_is false
wait_for "stall incident resolved (incidents.json)" 10 resolved_named "$STALL_NAME"
STALL_DONE=$(incident_named "$STALL_NAME")
STALL_LAST=$(inc_field "$STALL_DONE" '.incident_updates[0].body')
check "stall incident: last update 'Resolved — updates to the dk. zone are published again (serial …, published …) after …'" \
  grep -Eqx 'Resolved — updates to the dk\. zone are published again \(serial [0-9]+, published [0-9-]{10} [0-9:]{8} UTC\) after [0-9]+ (s|min)\.' <<<"$STALL_LAST"
wait_for "NsprobeZoneSerialStale clears" 20 no_alert_firing

echo "# operations: a bad config reload keeps the old config running"
echo 'this is = not [valid' >"$CONFIG"
kill -HUP "$NSPROBE_PID"
T0=$(now)
wait_for "nsprobe_config_last_reload_successful is 0" 10 reload_metric_is 0
wait_for "NsprobeConfigReloadFailed fires" 30 alert_firing NsprobeConfigReloadFailed/-
check "nsprobe still probes with the old config" zone_is operational
cp "$LAB_DIR/nsprobe.toml.good" "$CONFIG"
kill -HUP "$NSPROBE_PID"
T0=$(now)
wait_for "good reload: nsprobe_config_last_reload_successful is 1" 10 reload_metric_is 1
wait_for "NsprobeConfigReloadFailed clears" 20 no_alert_firing

echo "# shutdown"
kill -TERM "$NSPROBE_PID"
rc=0
wait "$NSPROBE_PID" || rc=$?
NSPROBE_PID=""
check "nsprobe exits 0 on SIGTERM" test "$rc" = 0
check "state saved on shutdown (store beside the state path)" test -s "$LAB_DIR/nsprobe.db"
check "store holds the restart state" test "$(sqlite3 "file:$LAB_DIR/nsprobe.db?mode=ro" "SELECT count(*) FROM kv WHERE key = 'restart_state'")" = 1
if ((FAILED > 0)); then
  echo "--- nsprobe log (last 40 lines)"
  tail -n 40 "$LAB_DIR/nsprobe.log" || true
fi

echo
echo "incident texts nsprobe wrote (Statuspage /api/v2/incidents.json):"
for inc in "${OUTAGE_DONE:-null}" "${STALL_DONE:-null}"; do
  jq -r 'select(. != null) | "  \(.name) [status \(.status), impact \(.impact)]", (.incident_updates | reverse[] | "    \(.status): \(.body)")' <<<"$inc" || true
done
echo
echo "measured (seconds from incident start; interval 1s, fail_after 3, lag_after 5s, stale_after 20s, alert for: $ALERT_FOR):"
echo "  outage: status ${OUTAGE_STATUS:-n/a}, alert firing ${OUTAGE_ALERT:-n/a}"
echo "  lag:    status ${LAG_STATUS:-n/a}, alert firing ${LAG_ALERT:-n/a}"
echo "  stall:  status ${STALL_STATUS:-n/a}, alert firing ${STALL_ALERT:-n/a} (from the last publication)"
echo
echo "system: $PASSED passed, $FAILED failed"
((FAILED == 0))
