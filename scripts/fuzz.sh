#!/usr/bin/env bash
# schemathesis over every operation of the API document, against a server
# started here with real fixtures for every path parameter
# (scripts/ci_server.sh): no 5xx, every response conforming to the document,
# at least 200 examples per operation. Operations that would use a fixture up
# (deletes, sign-ups) get a fresh object per call (scripts/fuzz_hooks.py), and
# deletes run last.
# Usage: scripts/fuzz.sh [VENV [SCHEMATHESIS OPTIONS...]]   (options go to
# every run, e.g. --include-tag projects; PRICKLE_BIN: the binary, built if unset)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
venv="${1:-${target}/ci-venv}"
shift || true
if [ -z "${PRICKLE_BIN:-}" ]; then
  cargo build --quiet --bin prickle
  PRICKLE_BIN="${target}/debug/prickle"
fi
export PRICKLE_BIN
# shellcheck source=scripts/ci_server.sh
source scripts/ci_server.sh
trap stop_server EXIT

examples="${PRICKLE_FUZZ_EXAMPLES:-200}"
reports="$(mktemp -d)"
trap 'stop_server; rm -rf "$reports"' EXIT
schema="${PRICKLE_URL}/api/schema/?format=json"
extra=("$@")
run() {
  local config="$1"
  shift
  local started=$SECONDS
  "${venv}/bin/schemathesis" --config-file "$config" run "$schema" \
    --url "$PRICKLE_URL" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" \
    --generation-database none \
    --seed "${PRICKLE_FUZZ_SEED:-20261130}" \
    --report ndjson --report-dir "$reports" \
    --no-color "$@" ${extra[@]+"${extra[@]}"}
  echo "(${SECONDS}s so far, this run $((SECONDS - started))s)"
}
# The operations without a key: sign-up (anonymous, to make accounts) and the
# signing webhook.
public='^/api/(signup/|legal_documents/signed/)'

# Creates run after updates: a name POST took would make most updates a 409
# (PostHog reports a duplicate name before other field errors).
echo "== schemathesis: reads and updates (fixtures in scripts/ci_server.sh)"
run scripts/schemathesis.toml --exclude-method POST --exclude-method DELETE \
  --exclude-path-regex "$public"
echo "== schemathesis: creates"
run scripts/schemathesis.toml --include-method POST --exclude-path-regex "$public"
echo "== schemathesis: public operations, anonymous (a fresh invite per sign-up)"
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH=scripts \
  run scripts/schemathesis-public.toml --include-path-regex "$public"
echo "== schemathesis: every operation, with generated path parameters"
# schemathesis reuses ids it saw in responses (its resource pool), so an
# organization DELETE here could take the fixtures' organization with it: it
# runs in the DELETE phase below, on organizations of its own.
run scripts/schemathesis-any-path.toml --exclude-operation-id organizations_destroy
echo "== schemathesis: DELETE (each on an object of its own, scripts/fuzz_hooks.py)"
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH=scripts \
  run scripts/schemathesis.toml --include-method DELETE
echo "== schemathesis: cases per operation"
"${venv}/bin/python" scripts/fuzz_summary.py "$reports"
