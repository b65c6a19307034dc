# Sourced by the CI scripts: a prickle server on a fresh SQLite database and a
# free loopback port, with real fixtures for every path parameter of the API:
# an owner (PRICKLE_KEY is their full-access key, PRICKLE_KEY_ID its id), their
# organization PRICKLE_ORG, a member PRICKLE_MEMBER (user uuid), a project
# PRICKLE_PROJECT, a pending invite PRICKLE_INVITE (also the sign-up id, with
# its sign-up token PRICKLE_INVITE_TOKEN), a
# legal document PRICKLE_LEGAL_DOCUMENT, an OAuth application, and a role
# PRICKLE_ROLE held by the member (PRICKLE_ROLE_MEMBERSHIP). Also sets
# PRICKLE_URL, PRICKLE_DB and SERVER_PID; `stop_server` ends the server and
# removes the data. Needs PRICKLE_BIN (the binary) and python3.
# PRICKLE_CI_DATABASE_URL: an empty PostgreSQL database to use instead.
# PRICKLE_CI_PORT: the port to serve on (a free one when unset), for a caller
# that must know it before the server starts (SITE_URL).

ci_tmp="$(mktemp -d)"
PRICKLE_DB="${PRICKLE_CI_DATABASE_URL:-sqlite://${ci_tmp}/prickle.db}"
port="${PRICKLE_CI_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
PRICKLE_URL="http://127.0.0.1:${port}"

admin() { "$PRICKLE_BIN" admin --database-url "$PRICKLE_DB" "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

admin create-user --email fuzz@example.com --first-name Fuzz >/dev/null
PRICKLE_ORG="$(admin create-organization --name Fuzzers --owner-email fuzz@example.com | json_field id)"
key="$(admin create-personal-api-key --email fuzz@example.com --label ci --scopes '*')"
PRICKLE_KEY="$(json_field value <<<"$key")"
PRICKLE_KEY_ID="$(json_field id <<<"$key")"
PRICKLE_MEMBER="$(admin create-user --email member@example.com --first-name Member | json_field uuid)"
admin add-member --organization "$PRICKLE_ORG" --email member@example.com --level 1 >/dev/null
admin create-oauth-application --organization "$PRICKLE_ORG" --name Fuzz \
  --redirect-uris https://example.com/callback >/dev/null

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

# The rest through the API (there are no admin commands for them).
api_post() {
  curl -fsS -X POST -H "Authorization: Bearer ${PRICKLE_KEY}" -H 'Content-Type: application/json' \
    -d "$2" "${PRICKLE_URL}$1"
}
new_project() {
  api_post "/api/organizations/${PRICKLE_ORG}/projects/" "{\"name\": \"$1\"}" | json_field id
}
PRICKLE_PROJECT="$(new_project Fixture)"
# The invite's sign-up token is in its link, shown once: on create.
invite="$(api_post "/api/organizations/${PRICKLE_ORG}/invites/" \
  '{"target_email": "invited@example.com", "level": 1}')"
PRICKLE_INVITE="$(json_field id <<<"$invite")"
PRICKLE_INVITE_TOKEN="$(json_field signup_url <<<"$invite" | sed 's/.*[?]token=//')"
PRICKLE_LEGAL_DOCUMENT="$(api_post "/api/organizations/${PRICKLE_ORG}/legal_documents/" \
  '{"document_type": "DPA", "company_name": "Fuzzers", "company_address": "1 Main St",
    "representative_name": "Fuzz", "representative_title": "CEO",
    "representative_email": "fuzz@example.com", "dpa_mode": "pretty"}' | json_field id)"
PRICKLE_ROLE="$(api_post "/api/organizations/${PRICKLE_ORG}/roles/" '{"name": "Fixture"}' | json_field id)"
PRICKLE_ROLE_MEMBERSHIP="$(api_post "/api/organizations/${PRICKLE_ORG}/roles/${PRICKLE_ROLE}/role_memberships/" \
  "{\"user_uuid\": \"${PRICKLE_MEMBER}\"}" | json_field id)"
export PRICKLE_URL PRICKLE_KEY PRICKLE_KEY_ID PRICKLE_ORG PRICKLE_MEMBER PRICKLE_PROJECT \
  PRICKLE_INVITE PRICKLE_INVITE_TOKEN PRICKLE_LEGAL_DOCUMENT PRICKLE_ROLE PRICKLE_ROLE_MEMBERSHIP PRICKLE_DB
