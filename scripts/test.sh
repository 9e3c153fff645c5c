#!/usr/bin/env bash
# The whole suite: Python tests on PostgreSQL, then on SQLite, then the front-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

ruff check .
echo "==> import contracts and types"
PYTHONPATH=platform lint-imports
mypy
# Both pytest runs spread the tests over one process per core (pytest-xdist; each worker has its own test
# database, and the tests that share a Redis db take turns). PYTEST_WORKERS=0 runs them in this one process.
xdist=(-n "${PYTEST_WORKERS:-auto}" --dist worksteal)
echo "==> pytest on PostgreSQL"
DATABASE_URL=${PG_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kaleido} REDIS_URL_FOR_TESTS=redis://127.0.0.1:6379/15 \
  pytest -p no:cacheprovider "${xdist[@]}" "$@"
echo "==> pytest on SQLite: the tests that use a database (slow ones ran above, once, on PostgreSQL; KALEIDO_SQLITE_SLOW=1 runs them here too)"
sqlite_marks="not postgres and not slow"
[ "${KALEIDO_SQLITE_SLOW:-0}" = "1" ] && sqlite_marks="not postgres"
# The front-end tests run beside this stage: they mostly wait on their own Django servers and Chromium
# (their own SQLite files, no Redis), so the two share the cores well. pytest runs niced, so the browser
# checks get the CPU when they need it and stay within their time limits.
frontend_log=""
frontend_pid=""
if [ -f frontend/package.json ]; then
  frontend_log=$(mktemp)
  echo "==> frontend tests (beside the SQLite stage; their output follows it)"
  (cd frontend && npm test --silent) >"$frontend_log" 2>&1 &
  frontend_pid=$!
fi
sqlite_rc=0
# Only the tests that use a database run again here: the others gave their answer in the first stage.
DATABASE_URL=sqlite:///$(mktemp -d)/kaleido.sqlite3 KALEIDO_DATABASE_TESTS_ONLY=1 nice -n 10 pytest -p no:cacheprovider "${xdist[@]}" \
  -m "$sqlite_marks" "$@" || sqlite_rc=$?
frontend_rc=0
if [ -n "$frontend_pid" ]; then
  wait "$frontend_pid" || frontend_rc=$?
  echo "==> frontend tests: output"
  cat "$frontend_log"
  [ "$frontend_rc" = "0" ] || echo "frontend tests failed (exit $frontend_rc)"
fi
[ "$sqlite_rc" = "0" ] || echo "pytest on SQLite failed (exit $sqlite_rc)"
[ "$sqlite_rc" = "0" ] && [ "$frontend_rc" = "0" ]
