#!/usr/bin/env bash
# Installs everything Kaleido needs on a fresh Debian machine: system packages, the
# virtual environment (torch first, exactly 2.13.0, in its own pip call), the project,
# and the front-end packages. Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

need_apt=()
for pkg in fonts-noto-cjk chromium pgbouncer; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.kaleido-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing Python packages (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch alone first, exactly this version: any other spec pulls gigabytes of CUDA.
  "$VENV/bin/python" -m pip install -q torch==2.13.0
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  touch "$stamp"
fi

if [ -f frontend/package.json ] && command -v npm >/dev/null; then
  if [ ! -d frontend/node_modules ] || [ frontend/package.json -nt frontend/node_modules ]; then
    echo "==> npm install (frontend)"
    (cd frontend && npm install --no-audit --no-fund --loglevel=error)
    touch frontend/node_modules
  fi
  if [ -f frontend/dashboard/package.json ] || grep -q '"build"' frontend/package.json; then
    (cd frontend && npm run --silent build)
  fi
fi
