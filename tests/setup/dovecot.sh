#!/usr/bin/env bash
# Installs a real IMAP server (Debian's dovecot-imapd) for the e-mail tests. The tests start
# their own dovecot on a free loopback port with a generated config; the system service the
# package would start is kept stopped and disabled so it never holds ports 143/993.
# Idempotent: a no-op when dovecot is already installed. Never fails the build: when the
# install is impossible it says why and exits 0, and the e-mail tests skip with a reason.
set -u

if command -v dovecot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "dovecot.sh: not root, cannot apt-get install dovecot-imapd; e-mail tests will skip"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "dovecot.sh: no apt-get (not Debian/Ubuntu); install dovecot yourself or e-mail tests skip"
    exit 0
fi

# Keep the package's maintainer scripts from starting the system service (invoke-rc.d asks
# policy-rc.d; 101 = "action forbidden"). Only when no policy is in place already.
POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && OUR_POLICY=1
fi
apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd
STATUS=$?
if [ "$OUR_POLICY" = 1 ]; then
    rm -f "$POLICY"
fi
if [ "$STATUS" != 0 ] || ! command -v dovecot >/dev/null 2>&1; then
    echo "dovecot.sh: apt-get install dovecot-imapd failed; e-mail tests will skip"
    exit 0
fi

# A service started anyway (an existing policy allowed it) is stopped and not started at boot.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
else
    if command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
    if [ -x /etc/init.d/dovecot ]; then
        /etc/init.d/dovecot stop >/dev/null 2>&1 || true
    fi
fi
echo "dovecot.sh: installed $(dovecot --version) (system service disabled)"
exit 0
