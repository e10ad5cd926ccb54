#!/usr/bin/env bash
# Makes sure Debian's `chromium` package is installed for the UI end-to-end test (test/e2e/ui.e2e.test.ts).
# No test downloads a browser: this installs the distribution package through apt, once, and only when
# /usr/bin/chromium is missing (CHROMIUM_PATH overrides the path checked).
set -euo pipefail
BIN="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[e2e] $BIN is missing and apt-get is not available: install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "[e2e] $BIN is missing: run 'apt-get install -y chromium' as root" >&2
    exit 1
  fi
fi
echo "[e2e] installing Debian's chromium package (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
[ -x "$BIN" ] || { echo "[e2e] chromium installed but $BIN not found; set CHROMIUM_PATH" >&2; exit 1; }
echo "[e2e] $("$BIN" --version 2>/dev/null || echo chromium) ready" >&2
