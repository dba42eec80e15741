# shellcheck shell=bash
# Test reporting shared by the system-test scripts (run.sh, statuses.sh and web_tls.sh
# through lab.sh; store.sh directly). ok/not_ok print one "ok - …"/"not ok - …" line
# and count into PASSED/FAILED (set them to 0 first);
# check DESCRIPTION COMMAND... is one assertion; now is the time in seconds (for since).
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
status_json() { curl -fsS "http://$HTTP/api/v1/status"; }
server_status() { status_json | jq -r --arg s "$1" '.zones[0].servers[] | select(.name == $s) | .status'; }
server_is() { [[ $(server_status "$1") == "$2" ]]; }
