#!/usr/bin/env bash
# Self-test of tests/system/lab.sh against real knotd, nftables and Prometheus.
# Run as root: bash tests/system/lab_selftest.sh   (about 20 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/system/lab.sh
source tests/system/lab.sh

fail() {
  echo "lab_selftest: FAIL: $*" >&2
  exit 1
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# One SOA query over a connected UDP socket (bash /dev/udp), so an ICMP port
# unreachable is seen as "refused". udp_probe I [TIMEOUT_S]: prints answer, refused or timeout.
udp_probe() {
  local fd rc=0 _ans
  exec {fd}<>"/dev/udp/$(lab_addr "$1")/$LAB_PORT"
  printf '\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02dk\x00\x00\x06\x00\x01' >&"$fd"
  IFS= read -r -t "${2:-1}" -N 2 _ans <&"$fd" 2>/dev/null || rc=$?
  exec {fd}>&-
  if ((rc == 0)); then echo answer; elif ((rc > 128)); then echo timeout; else echo refused; fi
}

pass=0
ok() {
  echo "ok: $*"
  pass=$((pass + 1))
}

lab_start 4
for i in 1 2 3 4; do
  out=$(kdig @"$(lab_addr "$i")" -p "$LAB_PORT" dk. SOA +norec +nsid +dnssec +time=1 +retry=0)
  grep -q "\"$(lab_name "$i")\"" <<<"$out" || fail "instance $i: NSID $(lab_name "$i") missing: $out"
  grep -qE 'RRSIG[[:space:]]+SOA' <<<"$out" || fail "instance $i: no RRSIG over the SOA"
  grep -qiE 'flags: qr aa' <<<"$out" || fail "instance $i: answer not authoritative"
  [[ $(lab_serial_of "$i") == "$LAB_SERIAL" ]] || fail "instance $i: serial"
done
keytags=$(for i in 1 2 3 4; do kdig @"$(lab_addr "$i")" -p "$LAB_PORT" dk. SOA +dnssec +short | awk '$1 == "SOA" { print $7 }'; done | sort -u | wc -l)
[[ $keytags == 1 ]] || fail "instances sign with different keys"
ok "4 instances: own NSID, AA, RRSIG over SOA with one shared key, serial $LAB_SERIAL"

lab_set_serial 2026010101
for i in 1 2 3 4; do [[ $(lab_serial_of "$i") == 2026010101 ]] || fail "serial on $i"; done
lab_set_serial 2026010102 1 3
[[ "$(for i in 1 2 3 4; do lab_serial_of "$i"; done | tr '\n' ' ')" == "2026010102 2026010101 2026010102 2026010101 " ]] ||
  fail "lab_set_serial on a subset"
kdig @"$(lab_addr 2)" -p "$LAB_PORT" +tcp dk. SOA +short | grep -q 2026010101 || fail "TCP answer"
ok "lab_set_serial: all and subset, UDP and TCP"

lab_stop 2
[[ $(udp_probe 2) == refused ]] || fail "stopped instance: UDP not refused"
t0=$(date +%s%N)
out=$(kdig @"$(lab_addr 2)" -p "$LAB_PORT" +tcp dk. SOA +time=2 +retry=0 2>&1 || true)
if ! grep -q "can't connect" <<<"$out" || (($(ms_since "$t0") >= 500)); then
  fail "stopped instance: TCP not refused at once"
fi
[[ $(udp_probe 1) == answer ]] || fail "instance 1 affected by stopping 2"
lab_set_serial 2026010103 2
lab_start_one 2
[[ $(lab_serial_of 2) == 2026010103 ]] || fail "restarted instance serial"
ok "lab_stop: refused at once; lab_start_one: back with the new serial"

lab_drop 3
[[ $(udp_probe 3) == timeout ]] || fail "dropped instance: UDP did not time out"
t0=$(date +%s%N)
kdig @"$(lab_addr 3)" -p "$LAB_PORT" +tcp dk. SOA +time=1 +retry=0 >/dev/null 2>&1 && fail "dropped instance answered TCP"
(($(ms_since "$t0") >= 900)) || fail "dropped instance: TCP failed before the timeout"
[[ $(udp_probe 4) == answer ]] || fail "instance 4 affected by dropping 3"
lab_set_serial 2026010104 3
lab_undrop 3
[[ $(lab_serial_of 3) == 2026010104 ]] || fail "undropped instance"
ok "lab_drop: silent (timeouts, UDP and TCP); lab_undrop"

lab_drop 4 50
answered=0
for ((k = 0; k < 40; k++)); do [[ $(udp_probe 4 0.2) == answer ]] && answered=$((answered + 1)); done
((answered > 5 && answered < 35)) || fail "50 % loss: $answered/40 answered"
lab_undrop 4
[[ -n $(lab_serial_of 4) ]] || fail "undrop after loss"
ok "lab_drop 4 50: $answered/40 answered"

lab_nsprobe_config "$LAB_DIR/nsprobe.toml"
[[ $(grep -c '^\[\[zone.nameservers\]\]' "$LAB_DIR/nsprobe.toml") == 4 ]] || fail "nsprobe config: nameservers"
grep -q '^addresses = \["127.0.1.4:5300"\]' "$LAB_DIR/nsprobe.toml" || fail "nsprobe config: addresses"
grep -q '^name = "d.nic.dk"' "$LAB_DIR/nsprobe.toml" || fail "nsprobe config: names"
ok "lab_nsprobe_config"

prom_start "$LAB_DIR/nsprobe.toml" # nothing listens on its [http] listen: up == 0
[[ $(prom_query 'up{job="nsprobe"}' | jq -r '.[0].value[1]') == 0 ]] || fail "prometheus: up{job=nsprobe} != 0"
[[ $(prom_alerts '[.[] | select(.labels.alertname == "NsprobeAbsent")] | length') == 1 ]] ||
  fail "prometheus: NsprobeAbsent not pending"
ok "prometheus: scrapes, loads dashboards/alerts.yml, NsprobeAbsent pending"

pids=$(for i in 1 2 3 4; do cat "$(lab_dir "$i")/pid"; done)
pids="$pids $PROM_PID"
dir=$LAB_DIR
lab_cleanup
trap - EXIT INT TERM
for p in $pids; do
  ! kill -0 "$p" 2>/dev/null || fail "process $p still running after lab_cleanup"
done
[[ ! -e $dir ]] || fail "$dir left behind"
! nft list table inet "$LAB_NFT_TABLE" >/dev/null 2>&1 || fail "nft table left behind"
ok "lab_cleanup: no process, temp dir or nft table left"

echo "lab_selftest: $pass passed, 0 failed"
