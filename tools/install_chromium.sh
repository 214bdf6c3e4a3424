#!/bin/sh
# Install Debian's chromium package (the headless browser tests/integration/test_dr_report.py renders the DR
# report in) when it is missing. Idempotent: does nothing when `chromium` is already on PATH.
#
#   tools/install_chromium.sh          # as root, or with sudo available
set -eu

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || echo unknown version)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install_chromium.sh: chromium is missing and this is not root (no sudo either): run as root" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium.sh: no apt-get: install the chromium browser with this system's package manager" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium
echo "chromium installed: $(chromium --version 2>/dev/null || echo unknown version)"
