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
echo "==> pytest on SQLite (slow tests ran above, once, on PostgreSQL; KALEIDO_SQLITE_SLOW=1 runs them here too)"
sqlite_marks="not postgres and not slow"
[ "${KALEIDO_SQLITE_SLOW:-0}" = "1" ] && sqlite_marks="not postgres"
DATABASE_URL=sqlite:///$(mktemp -d)/kaleido.sqlite3 pytest -p no:cacheprovider "${xdist[@]}" -m "$sqlite_marks" "$@"
if [ -f frontend/package.json ]; then
  echo "==> frontend tests"
  (cd frontend && npm test --silent)
fi
