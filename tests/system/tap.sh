# shellcheck shell=bash
# Test reporting shared by the system-test scripts (run.sh, statuses.sh and web_tls.sh
# through lab.sh; store.sh directly). ok/not_ok print one "ok - …"/"not ok - …" line
# and count into PASSED/FAILED (set them to 0 first);
# check DESCRIPTION COMMAND... is one assertion; now is the time in seconds (for since);
# wait_for polls for one (below).
# status_json, server_status NAME and server_is NAME STATUS read nsprobe's /api/v1/status
# at $HTTP (the first zone).
ok() {
  PASSED=$((PASSED + 1))
  echo "ok - $*"
}
not_ok() {
  FAILED=$((FAILED + 1))
  echo "not ok - $*"
}
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
now() { date +%s.%N; }
# since T: the seconds from T (a `now` value) to now, two decimals.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# wait_for DESCRIPTION LIMIT_S COMMAND...: polls COMMAND every 0.2 s until it succeeds
# (ok, after how long) or LIMIT_S pass (not_ok). WAITED holds the seconds since T0 (the
# current fault's timestamp; since the call when T0 is unset), "n/a" on time-out. Always
# returns 0: the remaining checks still say what works.
WAITED=""
wait_for() {
  local what=$1 limit=$2 start
  shift 2
  start=$(now)
  while true; do
    if "$@" 2>/dev/null; then
      WAITED=$(since "${T0:-$start}")
      ok "$what (after ${WAITED}s)"
      return 0
    fi
    if awk -v s="$(since "$start")" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
      WAITED="n/a"
      not_ok "$what (not within ${limit}s)"
      return 0
    fi
    sleep 0.2
  done
}
status_json() { curl -fsS "http://$HTTP/api/v1/status"; }
server_status() { status_json | jq -r --arg s "$1" '.zones[0].servers[] | select(.name == $s) | .status'; }
server_is() { [[ $(server_status "$1") == "$2" ]]; }
