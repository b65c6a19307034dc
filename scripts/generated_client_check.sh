#!/usr/bin/env bash
# Generates a Python client from a running server's /api/schema/ with
# openapi-python-client (a standard generator, pinned in requirements-ci.txt)
# and lists projects (and members) with it against that server.
# Usage: scripts/generated_client_check.sh [VENV]   (PRICKLE_BIN: the binary, built if unset)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
venv="${1:-${target}/ci-venv}"
if [ -z "${PRICKLE_BIN:-}" ]; then
  cargo build --quiet --bin prickle
  PRICKLE_BIN="${target}/debug/prickle"
fi
export PRICKLE_BIN
# shellcheck source=scripts/ci_server.sh
source scripts/ci_server.sh
out="$(mktemp -d)"
trap 'stop_server; rm -rf "$out"' EXIT

curl -fsS "${PRICKLE_URL}/api/schema/?format=json" -o "${out}/openapi.json"
"${venv}/bin/openapi-spec-validator" "${out}/openapi.json"
printf 'project_name_override: prickle-client\npackage_name_override: prickle_client\nliteral_enums: true\npost_hooks: []\n' >"${out}/config.yml"
"${venv}/bin/openapi-python-client" generate --path "${out}/openapi.json" \
  --config "${out}/config.yml" --meta none --output-path "${out}/prickle_client" >/dev/null
"${venv}/bin/python" scripts/generated_client_check.py "$out" "$PRICKLE_URL" "$PRICKLE_KEY" \
  "$PRICKLE_ORG" "$PRICKLE_PROJECT"
