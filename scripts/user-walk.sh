#!/bin/sh
# The user walk (scripts/user-walk.ts) on this checkout, as a user runs it: `tabmesh start` (the README's `npm start`)
# on a fresh data folder and port 18080, the walk against it, both inside the network namespace (peer links). Run
# `npm ci` (or `npm install`) first, outside the namespace.  Usage: sh scripts/user-walk.sh [ROUNDS] [NESTED]
set -eu
cd "$(dirname "$0")/.."
rounds="${1:-5}"
nested="${2:-0}"
exec sh scripts/in-netns.sh sh -c '
  data=$(mktemp -d)
  log="$data/start.log"
  node bin/tabmesh.js start --port 18080 --data "$data" >"$log" 2>&1 &
  pid=$!
  trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf \"$data\"" EXIT
  i=0
  until [ -s "$data/token" ] && grep -q "local edge node" "$log"; do
    i=$((i + 1)); [ $i -gt 600 ] && { cat "$log"; echo "user-walk: tabmesh start did not come up" >&2; exit 1; }
    sleep 0.2
  done
  node dist/scripts/user-walk.js --url http://127.0.0.1:18080 --token "$(cat "$data/token")" --rounds "$1" --nested "$2"
' user-walk "$rounds" "$nested"
