# Sourced by the CI scripts: a prickle server on a fresh SQLite database and a
# free loopback port, with an owner, their organization, a full-access key
# and a project. Sets PRICKLE_URL, PRICKLE_KEY, PRICKLE_ORG, PRICKLE_PROJECT,
# PRICKLE_DB and SERVER_PID; `stop_server` ends the server and removes the data.
# Needs PRICKLE_BIN (the binary) and python3.

ci_tmp="$(mktemp -d)"
PRICKLE_DB="sqlite://${ci_tmp}/prickle.db"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PRICKLE_URL="http://127.0.0.1:${port}"

admin() { "$PRICKLE_BIN" admin --database-url "$PRICKLE_DB" "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

admin create-user --email fuzz@example.com --first-name Fuzz >/dev/null
PRICKLE_ORG="$(admin create-organization --name Fuzzers --owner-email fuzz@example.com | json_field id)"
PRICKLE_KEY="$(admin create-personal-api-key --email fuzz@example.com --label ci --scopes '*' | json_field value)"

"$PRICKLE_BIN" serve --database-url "$PRICKLE_DB" --bind "127.0.0.1:${port}" \
  >"${ci_tmp}/server.log" 2>&1 &
SERVER_PID=$!
stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$ci_tmp"
}
for _ in $(seq 1 100); do
  curl -fsS "${PRICKLE_URL}/_health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "${PRICKLE_URL}/_health" >/dev/null

# A project through the API (there is no admin command for one).
new_project() {
  curl -fsS -X POST -H "Authorization: Bearer ${PRICKLE_KEY}" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$1\"}" "${PRICKLE_URL}/api/organizations/${PRICKLE_ORG}/projects/" | json_field id
}
PRICKLE_PROJECT="$(new_project Fixture)"
export PRICKLE_URL PRICKLE_KEY PRICKLE_ORG PRICKLE_PROJECT PRICKLE_DB
