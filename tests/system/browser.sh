#!/usr/bin/env bash
# System test: the status page in a real browser (tests/browser.rs). The real nsprobe
# binary probes three Knot DNS servers on 127.0.4.1-3 (a free port) and two service
# components; headless Chromium, driven over WebDriver by chromedriver, checks that the
# page loads with no console error, the charts have points, killing one Knot server
# turns its row to Major Outage within README's bound with an incident on top, the page
# works with JavaScript disabled, and the real page passes tidy.
#
#   flock /tmp/nsprobe-systest.lock bash tests/system/browser.sh
#   NSPROBE_SCREENSHOTS=docs bash tests/system/browser.sh   # also re-takes README's screenshots
#
# Needs: knot knot-dnsutils chromium chromium-driver tidy (`.ci/run` installs them). A
# missing tool is a failure, never a skip. Takes about half a minute after the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

missing=()
for tool in knotd:knot kdig:knot-dnsutils chromium:chromium chromedriver:chromium-driver tidy:tidy; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if ((${#missing[@]} > 0)); then
  echo "browser: missing tools: apt-get install ${missing[*]}" >&2
  echo "browser: 0 passed, 1 failed"
  exit 1
fi
cargo test --quiet --test browser -- --ignored --nocapture --test-threads=1
