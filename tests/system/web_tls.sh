#!/usr/bin/env bash
# System test of the secured listener: nsprobe with a --web.config.file (TLS from
# an openssl-made CA, bcrypt basic auth) probing a real Knot DNS, checked with curl
# and scraped by a real Prometheus over HTTPS with basic auth. A second scrape job
# with a wrong password must see 401. Loopback only; cleans up what it starts.
#
# Needs: knot knot-dnsutils prometheus openssl curl jq. Ends with "N passed, M failed".
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
export LAB_NET=127.0.7 LAB_PORT=5370 PROM_PORT=19370
# shellcheck source=tests/system/lab.sh
source tests/system/lab.sh

NSPROBE=${NSPROBE:-$REPO/target/release/nsprobe}
PORT=19371
PASSED=0
FAILED=0
NSPROBE_PID=""

# ok, not_ok, check: tests/system/lab.sh.

cleanup() {
  [[ -n $NSPROBE_PID ]] && kill "$NSPROBE_PID" 2>/dev/null && wait "$NSPROBE_PID" 2>/dev/null
  NSPROBE_PID=""
  lab_cleanup
}
trap cleanup EXIT INT TERM

lab_require openssl curl jq prometheus
lab_start 1
trap cleanup EXIT INT TERM # lab_start installed its own trap; ours also stops nsprobe
DIR=$LAB_DIR/web
mkdir -p "$DIR"

# A CA and a server certificate for 127.0.0.1 (openssl, as an operator would).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=nsprobe system test CA" -keyout "$DIR/ca.key" -out "$DIR/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=127.0.0.1" -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$DIR/ext.cnf"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
  -CAcreateserial -days 2 -extfile "$DIR/ext.cnf" -out "$DIR/server.crt" 2>/dev/null

# Password "s3cret" (htpasswd -nbBC 10 "" s3cret).
cat >"$DIR/web.yml" <<'EOF'
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: $2y$10$zLiRqFGzB9JuARNc2Vps5OUWkOsKQGnhlvOdP06WVN0c.bK6HcH5u
nsprobe:
  public_status_page: true
EOF
echo s3cret >"$DIR/pass"
echo wrong >"$DIR/wrong"
lab_nsprobe_config "$DIR/nsprobe.toml" "127.0.0.1:$PORT"

check "validate accepts the web config" "$NSPROBE" validate -c "$DIR/nsprobe.toml" --web.config.file "$DIR/web.yml"
"$NSPROBE" run -c "$DIR/nsprobe.toml" --web.config.file "$DIR/web.yml" 2>"$DIR/nsprobe.log" &
NSPROBE_PID=$!
for _ in $(seq 100); do
  curl -fsS --cacert "$DIR/ca.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca.crt" "$@"; }
check "curl: /metrics over TLS without a password is 401" test "$(code "https://127.0.0.1:$PORT/metrics")" = 401
check "curl: /metrics over TLS with a wrong password is 401" test "$(code -u prometheus:wrong "https://127.0.0.1:$PORT/metrics")" = 401
check "curl: /metrics over TLS with the password is 200" test "$(code -u prometheus:s3cret "https://127.0.0.1:$PORT/metrics")" = 200
check "curl: /api/v1/status needs the password" test "$(code "https://127.0.0.1:$PORT/api/v1/status")" = 401
check "curl: /healthz is public (public_status_page)" test "$(code "https://127.0.0.1:$PORT/healthz")" = 200
check "curl: 401 body is JSON" bash -c "curl -s --cacert '$DIR/ca.crt' https://127.0.0.1:$PORT/metrics | jq -e '.error' >/dev/null"
check "curl: plain HTTP is not served on the TLS port" bash -c "! curl -fsS -m 3 http://127.0.0.1:$PORT/healthz >/dev/null 2>&1"
check "curl: a client without the CA refuses the certificate" bash -c "! curl -fsS -m 3 https://127.0.0.1:$PORT/healthz >/dev/null 2>&1"

cat >"$DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: nsprobe
    scheme: https
    tls_config:
      ca_file: $DIR/ca.crt
    basic_auth:
      username: prometheus
      password_file: $DIR/pass
    static_configs:
      - targets: ['127.0.0.1:$PORT']
  - job_name: nsprobe_wrong_password
    # A wrong password is never cached: each scrape costs a bcrypt (slow in a debug build).
    scrape_interval: 5s
    scrape_timeout: 5s
    scheme: https
    tls_config:
      ca_file: $DIR/ca.crt
    basic_auth:
      username: prometheus
      password_file: $DIR/wrong
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
check "promtool accepts the scrape config" promtool check config "$DIR/prometheus.yml"
prom_start "$DIR/prometheus.yml"
trap cleanup EXIT INT TERM # prom_start installed the lab's trap again

up_of() { prom_query "up{job=\"$1\"}" | jq -r '.[0].value[1] // empty'; }
scraped_ok() { [[ $(up_of nsprobe) == 1 ]] && [[ $(prom_query 'count(nsprobe_target_up)' | jq -r '.[0].value[1] // 0') -gt 0 ]]; }
wrong_is_down() { [[ $(up_of nsprobe_wrong_password) == 0 ]]; }
for _ in $(seq 60); do
  scraped_ok && wrong_is_down && break
  sleep 0.5
done
check "prometheus: scrapes nsprobe over HTTPS with basic auth (up == 1, nsprobe_target_up present)" scraped_ok
check "prometheus: a wrong password is not scraped (up == 0)" wrong_is_down
last_error() {
  curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/targets" |
    jq -r '.data.activeTargets[] | select(.labels.job == "nsprobe_wrong_password") | .lastError'
}
for _ in $(seq 30); do
  grep -q 401 <<<"$(last_error)" && break
  sleep 0.5
done
check "prometheus: the wrong-password target reports 401 ($(last_error))" grep -q 401 <<<"$(last_error)"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
