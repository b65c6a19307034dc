#!/usr/bin/env bash
# Instructions per request, and where they go, for the routes issue 16
# profiles (docs/PERFORMANCE.md): a release `prickle` under valgrind's
# callgrind, requests sent one at a time over one keep-alive connection,
# counters zeroed after a warm-up. Instruction counts do not depend on what
# else the machine runs, so two builds compare in one sitting.
#
#   scripts/profile.sh [BIN] [OUT]    (defaults: target/release/prickle, target/profile)
#
# Needs valgrind, curl and python3. Prints, per route, Ir per request and the
# costliest functions of prickle (inclusive, per request).
set -euo pipefail
BIN=${1:-target/release/prickle}
OUT=${2:-target/profile}
rm -rf "$OUT"; mkdir -p "$OUT"
export DATABASE_URL="sqlite://$(realpath "$OUT")/profile.db"
json() { python3 -c "import sys,json;print(json.load(sys.stdin)$1)"; }
"$BIN" admin create-user --email owner@example.com >/dev/null
ORG=$("$BIN" admin create-organization --name Profile --owner-email owner@example.com | json '["id"]')
KEY=$("$BIN" admin create-personal-api-key --email owner@example.com --scopes '*' | json '["value"]')
for i in $(seq 1 50); do
  "$BIN" admin create-user --email "m$i@example.com" >/dev/null
  "$BIN" admin add-member --organization "$ORG" --email "m$i@example.com" --level 1 >/dev/null
done
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.%p" \
  "$BIN" serve --bind "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
VG=$!
trap 'kill $VG 2>/dev/null || true' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do curl -sf -o /dev/null "$BASE/_health" && break; sleep 0.5; done
AUTH="Authorization: Bearer $KEY"
P="$BASE/api/organizations/$ORG/projects"
for i in $(seq 1 100); do
  curl -sf -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' -d "{\"name\":\"p$i\"}" "$P/"
done
ID=$(curl -sf -H "$AUTH" "$P/?limit=1" | json '["results"][0]["id"]')

# route N METHOD URL [BODY...]: N requests on one connection (curl -K).
profile() {
  local name=$1 n=$2 method=$3 url=$4; shift 4
  local cfg="$OUT/$name.curl"; : >"$cfg"
  for i in $(seq 1 "$n"); do
    printf 'url = "%s"\noutput = /dev/null\nrequest = "%s"\nheader = "%s"\nwrite-out = "%%{http_code}\\n"\n' \
      "$url" "$method" "$AUTH" >>"$cfg"
    if [ $# -gt 0 ]; then
      local body=${*:$(( (i % $#) + 1 )):1}
      printf 'data = "%s"\nheader = "Content-Type: application/json"\n' "${body//\"/\\\"}" >>"$cfg"
    fi
    [ $i -lt "$n" ] && printf 'next\n' >>"$cfg"
  done
  curl -s -K "$cfg" >/dev/null
  callgrind_control -z "$VG" >/dev/null 2>&1
  local codes; codes=$(curl -s -K "$cfg" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
  callgrind_control -d "$name" "$VG" >/dev/null 2>&1
  local file; file=$(ls -t "$OUT"/callgrind.*.* | head -1)
  local total; total=$(awk '/^summary:/ {print $2; exit}' "$file")
  echo "== $name: $((total / n)) Ir per request (statuses:$codes)"
  callgrind_annotate --inclusive=yes "$file" 2>/dev/null \
    | awk -v n="$n" '/prickle::/ {ir=$1; gsub(",","",ir); f=$0; sub(/^.*\?\?\?:/,"",f); sub(/ \[.*$/,"",f); printf "%10d  %s\n", ir/n, f}' \
    | grep -v "server::\|routes::Routes::\|http::request_log" | head -12
}
profile health 200 GET "$BASE/_health"
profile get_project 200 GET "$P/$ID/"
profile list_100 50 GET "$P/?limit=100"
profile patch 100 PATCH "$P/$ID/" '{"timezone":"Europe/Berlin"}' '{"timezone":"America/New_York"}'
profile members 200 GET "$BASE/api/organizations/$ORG/members/"
