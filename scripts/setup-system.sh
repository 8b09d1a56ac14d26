#!/usr/bin/env bash
# System packages the test suite and `qingshan-bot docs` need beyond Python: Debian's Chromium
# for the browser tests (never `playwright install`, which downloads a browser), a CJK font so
# Chinese renders in screenshots, and PostgreSQL for the scale-out feedback test. Safe to
# re-run; needs root (or sudo) the first time only.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || need+=(fonts-wqy-microhei)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
echo "setup-system: installing ${need[*]} from Debian"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
