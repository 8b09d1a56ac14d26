#!/usr/bin/env bash
# What the browser tests and `qingshan-bot docs` need beyond the Python packages: Debian's
# Chromium (never `playwright install`, which downloads a browser) and a CJK font so Chinese
# renders in screenshots. Safe to re-run; needs root (or sudo) the first time only.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
echo "setup-browser: installing ${need[*]} from Debian"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
