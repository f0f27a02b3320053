#!/usr/bin/env bash
# Installs a real Synapse homeserver (PyPI) into its own venv, .venv-synapse, for the Matrix
# tests. Idempotent: a no-op when that venv already runs Synapse. Never fails the build: when
# the install is impossible it says why and exits 0, and the Matrix tests skip with a reason.
set -u
cd "$(dirname "$0")/../.."
VENV=.venv-synapse
PYTHON=${SYNAPSE_PYTHON:-python3.11}
VERSION=1.163.2  # the version the Matrix tests were run against

if "$VENV/bin/python" -m synapse.app.homeserver --help >/dev/null 2>&1; then
    exit 0
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "synapse.sh: $PYTHON not found; Matrix tests will skip"
    exit 0
fi
if ! "$PYTHON" -m venv "$VENV"; then
    echo "synapse.sh: could not create $VENV; Matrix tests will skip"
    exit 0
fi
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "matrix-synapse==$VERSION"; then
    echo "synapse.sh: pip install matrix-synapse==$VERSION failed; Matrix tests will skip"
    exit 0
fi
if ! "$VENV/bin/python" -m synapse.app.homeserver --help >/dev/null 2>&1; then
    echo "synapse.sh: Synapse installed but does not start; Matrix tests will skip"
fi
exit 0
