#!/usr/bin/env bash
# `make test`'s two passes side by side, one per core: the whole suite on SQLite (browser tests included),
# and the data layer on PostgreSQL. Each pass writes its own log; both logs are printed when both are done,
# and the exit code is non-zero when either failed. Without PostgreSQL the second pass is skipped, unless
# CI=true (then the run fails: CI must run it).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
LOGS=$(mktemp -d)
PG_DIRS="tests/core tests/accounts tests/geo tests/events tests/fieldwork tests/dashboard tests/tracking tests/corrections"

pg_rc=0
pg_pid=
if $BIN/python -c "import psycopg,sys; psycopg.connect('$PG_URL', connect_timeout=3).close()" 2>/dev/null; then
  # shellcheck disable=SC2086
  PINGAN_ENV=test DATABASE_URL=$PG_URL $BIN/pytest -m "not browser and not scratch_db and not no_db" $PG_DIRS >"$LOGS/pg.log" 2>&1 &
  pg_pid=$!
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL at $PG_URL is not reachable, and CI=true: failing"
  exit 1
else
  echo "SKIPPED: data layer on PostgreSQL — $PG_URL is not reachable (set PG_URL)" >"$LOGS/pg.log"
fi

echo "== the suite on SQLite (and, beside it, the data layer on PostgreSQL: $PG_URL)"
PINGAN_ENV=test $BIN/pytest "$@"
sqlite_rc=$?
if [ -n "$pg_pid" ]; then
  wait "$pg_pid"
  pg_rc=$?
fi
echo "== data layer on PostgreSQL ($PG_URL)"
cat "$LOGS/pg.log"
rm -rf "$LOGS"
[ "$sqlite_rc" -eq 0 ] && [ "$pg_rc" -eq 0 ]
