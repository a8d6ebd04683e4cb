#!/bin/sh
# npm test's checks before the suites, side by side: the type-check (test/ and client-web/ against the declarations the
# build wrote, whose tsc checked the rest; then shared/ without Node or DOM types), typescript-eslint with type
# information (one thread: on two it built the program twice, 125 CPU-seconds against 92) and prettier's format check.
# Each is one thread; run one after another they took ~160 s of a quiet 2-core machine, side by side ~95 (session 33).
# Each one's output is printed whole when it ends; the script fails if any failed.
# With --write-stamp (.ci/run, beside better-sqlite3's compile) it records the tree they passed on, and without it skips
# them when they passed on this exact tree (scripts/checks-stamp.ts; a developer's `npm test` writes none: session 37).
set -u
stamp=dist/scripts/checks-stamp.js
if [ "${1:-}" = --write-stamp ]; then
  digest=$(node "$stamp" digest) || exit 1
elif [ -f "$stamp" ] && node "$stamp" check; then
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {
  name=$1
  shift
  start=$(date +%s)
  if "$@" >"$dir/$name.out" 2>&1; then rc=0; else rc=$?; fi
  echo "== $name: exit $rc after $(($(date +%s) - start)) s" >>"$dir/$name.out"
  echo "$rc" >"$dir/$name.rc"
}
run typecheck npm run --silent typecheck &
run eslint npx eslint --concurrency=off . &
run prettier npx prettier --check . &
wait
failed=0
for name in typecheck eslint prettier; do
  cat "$dir/$name.out"
  [ "$(cat "$dir/$name.rc")" = 0 ] || failed=1
done
if [ $failed = 0 ] && [ -n "${digest:-}" ]; then node "$stamp" write "$digest" || failed=1; fi
exit $failed
