#!/usr/bin/env bash
# Contract test: schemathesis (PyPI) against the served /openapi.json with every check.
#
#   bash Tests/Contract/run.sh BINARY [SCHEMATHESIS ARGS...]
#   e.g. bash Tests/Contract/run.sh .build/debug/lora-squeeze
#
# BINARY is a built lora-squeeze; it is copied to a temp directory first, so a rebuild while the run
# goes on does not change it. The script:
#   1. installs schemathesis, numpy and safetensors from PyPI if missing;
#   2. makes an admin token with `BINARY token generate` (a fresh `lsq_…` recorded nowhere), starts
#      `BINARY serve --host 127.0.0.1 --port <free> --data <fresh temp dir>` with it in
#      LORA_SQUEEZE_ADMIN_TOKEN (the server installs it as an unlimited admin token at start-up) and
#      waits for /readyz (open, like /healthz, /openapi.json and /metrics);
#   3. seeds it (seed.py): a small PEFT adapter (numpy + safetensors, fixed seed) uploaded under the
#      name `contract-seed`, one finished normalize job over it, the admin token's id (GET
#      /v1/tokens) and a read token for DELETE /v1/tokens/{id} to revoke (POST /v1/tokens);
#   4. runs `schemathesis run http://127.0.0.1:PORT/openapi.json --checks all` with a fixed seed,
#      `-H "Authorization: Bearer <the admin token>"` on every request, a bounded number of examples
#      per operation, one worker (deterministic; two workers hit a CPython 3.11 AST race inside
#      Hypothesis) and --continue-on-failure (every finding, not the first per operation). hooks.py
#      (SCHEMATHESIS_HOOKS) makes `{ref}` often the seeded name or digest, `{id}` the seeded job (or,
#      for /v1/tokens/{id}, the read token) and never lets DELETE /v1/tokens/{id} revoke the admin
#      token the run authenticates with, adds the check that no problem `detail` carries Swift type
#      names, and drops the rejections the schema cannot express (see its filter_failure);
#   5. prints schemathesis's report and exits with its status: non-zero on any finding.
# The server is always stopped and the temp directory removed. About a minute on 2 cores.
#
# Extra arguments go to schemathesis (e.g. `--max-examples 200`, `--include-operation-id
# getSqueezedFile`, `--report junit --report-dir /abs/DIR`; it runs in the temp directory, so give
# absolute paths). Environment: CONTRACT_SEED (default 1); CONTRACT_EXAMPLES (examples per
# operation, default 100); CONTRACT_SPEC=FILE tests that spec file (e.g. the work tree's
# openapi.json) against the server instead of the /openapi.json it serves, which is embedded at
# build time; CONTRACT_SERVER_LOG=FILE keeps the server's log (its access log has every request).
# The server's warnings and errors are printed when the run fails.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash Tests/Contract/run.sh BINARY [SCHEMATHESIS ARGS...]   (BINARY: a built lora-squeeze)" >&2
  exit 2
fi
binary="$1"; shift
here="$(cd "$(dirname "$0")" && pwd)"

python3 -c 'import schemathesis, numpy, safetensors' 2>/dev/null \
  || python3 -m pip install -q schemathesis numpy safetensors
echo "== schemathesis $(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))')"

work="$(mktemp -d "${TMPDIR:-/tmp}/lora-contract.XXXXXX")"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -n "${CONTRACT_SERVER_LOG:-}" ] && [ -f "$work/server.log" ]; then cp "$work/server.log" "$CONTRACT_SERVER_LOG"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$binary" "$work/lora-squeeze"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Authentication is on by default: `token generate` prints a fresh token (recorded nowhere), the server
# installs it from LORA_SQUEEZE_ADMIN_TOKEN as an unlimited admin token at start-up, and seed.py,
# hooks.py (CONTRACT_TOKEN) and schemathesis (-H) send it as `Authorization: Bearer` on every request.
token="$("$work/lora-squeeze" token generate)"
# --min-free-disk 64M: a 507 from a nearly full /tmp would not be a contract finding.
LORA_SQUEEZE_ADMIN_TOKEN="$token" \
  "$work/lora-squeeze" serve --host 127.0.0.1 --port "$port" --data "$work/data" --min-free-disk 64M \
  > "$work/server.log" 2>&1 &
server=$!
ready=""
for _ in $(seq 200); do
  if curl -sf "$base/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "the server did not become ready:"; cat "$work/server.log"; exit 1
fi
echo "== server on $base (data $work/data)"

read -r seed_name seed_digest seed_job seed_admins seed_victim < <(CONTRACT_TOKEN="$token" python3 "$here/seed.py" "$base" contract-seed)
if [ -z "${seed_victim:-}" ]; then echo "seeding failed"; exit 1; fi
echo "== seeded: name $seed_name, digest $seed_digest, job $seed_job; admin token $seed_admins (never revoked), read token $seed_victim (revoked by DELETE /v1/tokens/{id})"

# CONTRACT_SPEC=FILE tests that file (e.g. an edited openapi.json) instead of the one BINARY serves,
# which is embedded at build time.
spec=("$base/openapi.json")
if [ -n "${CONTRACT_SPEC:-}" ]; then spec=("$(cd "$(dirname "$CONTRACT_SPEC")" && pwd)/$(basename "$CONTRACT_SPEC")" --url "$base"); fi
echo "== testing ${spec[*]}"
start=$(date +%s)
status=0
(
  cd "$work"  # schemathesis writes its report directory and example database into the cwd
  CONTRACT_BASE="$base" CONTRACT_NAME="$seed_name" CONTRACT_DIGEST="$seed_digest" CONTRACT_JOB="$seed_job" \
  CONTRACT_TOKEN="$token" CONTRACT_ADMIN_IDS="$seed_admins" CONTRACT_VICTIM="$seed_victim" \
  SCHEMATHESIS_HOOKS="$here/hooks.py" \
    schemathesis run "${spec[@]}" \
      -H "Authorization: Bearer $token" \
      --checks all \
      --seed "${CONTRACT_SEED:-1}" \
      --max-examples "${CONTRACT_EXAMPLES:-100}" \
      --workers 1 \
      --generation-database none \
      --request-timeout 30 \
      --continue-on-failure \
      --no-color \
      "$@"
) || status=$?
echo "== schemathesis exited $status after $(( $(date +%s) - start )) s"
if [ "$status" -ne 0 ]; then
  echo "== server log (warnings and errors)"
  grep -Ei 'warn|error|critical' "$work/server.log" | tail -n 40 || true
fi
kill -0 "$server" 2>/dev/null || { echo "the server died during the run"; status=1; }
exit "$status"
