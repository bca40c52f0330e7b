#!/usr/bin/env bash
# Installs the pinned chain tools (solc-js 0.8.19, anvil 1.7.1) from npm into
# tools/node/node_modules, exactly as locked in tools/node/package-lock.json.
# Idempotent: does nothing when the lock file has not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../tools/node"
stamp=node_modules/.cipherproof-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "error: npm (Node.js) is needed for solc and anvil" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
