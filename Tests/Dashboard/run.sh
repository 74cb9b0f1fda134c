#!/usr/bin/env bash
# The dashboard in a real browser: starts BINARY on a fresh data directory with authentication on,
# seeds it (seed.py), and runs browser_test.py against it in headless Chromium.
#
#   bash Tests/Dashboard/run.sh BINARY                 # the checks (make test)
#   bash Tests/Dashboard/run.sh BINARY --screenshots DIR   # also every page at 1280×800 and 390×844
#
# Installs what it needs when missing: Debian's chromium (apt-get) and Playwright for Python (pip;
# it drives the system Chromium, so no browser download). The server and the temp directory go
# away on exit, whatever happens. About 30 s.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash Tests/Dashboard/run.sh BINARY [--screenshots DIR]" >&2
  exit 2
fi
binary="$1"; shift
here="$(cd "$(dirname "$0")" && pwd)"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v chromium >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -c 'import playwright, numpy, safetensors' 2>/dev/null || python3 -m pip install -q playwright numpy safetensors
work="$(mktemp -d "${TMPDIR:-/tmp}/lora-dashboard.XXXXXX")"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$binary" "$work/lora-squeeze"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
token="$("$work/lora-squeeze" token generate)"
LORA_SQUEEZE_ADMIN_TOKEN="$token" "$work/lora-squeeze" serve --host 127.0.0.1 --port "$port" --data "$work/data" \
  --min-free-disk 64M > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
ADMIN_TOKEN="$token" python3 "$here/seed.py" "$base" > "$work/seed.json"
args=()
if [ "${1:-}" = "--screenshots" ]; then
  mkdir -p "$2"
  args=(--screenshots "$(cd "$2" && pwd)")
fi
status=0
python3 "$here/browser_test.py" "$base" "$work/seed.json" "${args[@]}" || status=$?
if [ "$status" != 0 ]; then
  echo "== server warnings and errors"
  grep -E '"level":"(warning|error|critical)"|warning|error' "$work/server.log" | tail -20 || true
fi
exit "$status"
