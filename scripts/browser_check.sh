#!/usr/bin/env bash
# The browser suite (issue 18): headless Chromium drives the pages of a running
# prickle (tests/browser/run.py). Starts the server with scripts/ci_server.sh
# (SQLite, or the empty PostgreSQL database in PRICKLE_CI_DATABASE_URL), with
# SITE_URL and an SMTP server on loopback that the suite itself listens on, so
# the invite email is caught. Screenshots go to target/screenshots/LABEL/.
# Usage: scripts/browser_check.sh VENV [LABEL]; needs PRICKLE_BIN, chromium and
# chromium-driver (Debian's; .ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$1"
label="${2:-sqlite}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PRICKLE_CI_PORT="$(free_port)"
export SITE_URL="http://127.0.0.1:${PRICKLE_CI_PORT}"
export EMAIL_HOST=127.0.0.1
EMAIL_PORT="$(free_port)"
while [ "$EMAIL_PORT" = "$PRICKLE_CI_PORT" ]; do EMAIL_PORT="$(free_port)"; done
export EMAIL_PORT EMAIL_DEFAULT_FROM="prickle@example.com"

# shellcheck source=scripts/ci_server.sh
source scripts/ci_server.sh
trap stop_server EXIT

status=0
PYTHONDONTWRITEBYTECODE=1 "${venv}/bin/python" tests/browser/run.py --label "$label" \
  --screenshots "${CARGO_TARGET_DIR:-target}/screenshots" || status=$?
if [ "$status" -ne 0 ]; then
  echo "-- the server's log (last 40 lines)"
  tail -n 40 "${ci_tmp}/server.log" || true
fi
exit "$status"
