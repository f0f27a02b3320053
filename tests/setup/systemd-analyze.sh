#!/usr/bin/env bash
# `systemd-analyze verify` checks the generated service units (tests/test_service_units.py).
# Installs the Debian `systemd` package when it is missing and we can (root + apt-get);
# otherwise says why it skipped. Idempotent; always exits 0 (those tests skip with a reason).
set -u

if command -v systemd-analyze >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "systemd-analyze.sh: skipped (not root); the unit verify tests will skip"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "systemd-analyze.sh: skipped (no apt-get); the unit verify tests will skip"
    exit 0
fi
echo "systemd-analyze.sh: installing systemd (for systemd-analyze verify)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 \
        && apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1; }; }; then
    echo "systemd-analyze.sh: apt-get could not install systemd; the unit verify tests will skip"
fi
exit 0
