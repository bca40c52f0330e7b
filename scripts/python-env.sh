#!/usr/bin/env bash
# Creates (once) the project's Python virtualenv at .venv with the pinned packages
# of scripts/requirements.txt and prints the path of its python.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/scripts/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up Python environment in .venv (pinned: scripts/requirements.txt)" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/requirements.txt" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
