#!/usr/bin/env bash
# The hub benchmark: huggingface_hub's snapshot_download of the Gemma-2B-shaped adapter (r = 64, f32,
# ≈300 MiB) from /hub/r16 — cold (the squeeze included) and warm — against nginx serving the same
# protocol answers (the model info and tree JSON copied byte for byte from lora-squeeze, the same two
# files with the same X-Repo-Commit / X-Linked-Etag / X-Linked-Size headers), with the same client in
# the same run (Benchmarks/hub/bench_hub.py). Prints figures; asserts nothing but identical downloads.
#
#   Benchmarks/hub.sh [RUNS]      (default 5 warm runs per server; cold runs: max(3, RUNS/2))
#
# Uses the huggingface_hub 2.4.0 virtualenv Tests/Hub/run.sh makes (made here if missing) and a
# release build (.build/release/lora-squeeze, built if missing); installs nginx with apt-get when missing.
set -euo pipefail
runs="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SERVICE_BINARY:-$root/.build/release/lora-squeeze}"   # SERVICE_BINARY: another build
[ -x "$bin" ] || (cd "$root" && swift build -c release --product lora-squeeze)
venv="$root/.build/hub-venvs/hf-2.4.0"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q "huggingface_hub==2.4.0" numpy safetensors; }
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || {
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
work="$(mktemp -d)"
chmod 755 "$work"   # nginx workers run as an unprivileged user
port=18092; nginx_port=18093
repo="team-a/gemma"
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_TELEMETRY=1

echo "== writing the Gemma-2B-shaped adapter (r = 64, f32)"
"$bin" bench --runs 1 --dtype f32 --write-adapter "$work/src" >/dev/null
token="$("$bin" token generate)"
auth="Authorization: Bearer $token"
LORA_SQUEEZE_ADMIN_TOKEN="$token" "$bin" serve --host 127.0.0.1 --port $port --data "$work/data" --log-level warning &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
curl -sf -o /dev/null -H "$auth" -F "adapter_config.json=@$work/src/adapter_config.json" \
  -F "adapter_model.safetensors=@$work/src/adapter_model.safetensors" "$base/v1/adapters?name=$repo"

echo "== nginx: the same answers, copied from lora-squeeze"
www="$work/www"; mkdir -p "$www/api/models/$repo/revision" "$www/api/models/$repo/tree"
curl -sf -H "$auth" -o "$www/api/models/$repo/revision/main" "$base/hub/r16/api/models/$repo/revision/main"
commit=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sha'])" "$www/api/models/$repo/revision/main")
curl -sf -H "$auth" -o "$www/api/models/$repo/tree/$commit" "$base/hub/r16/api/models/$repo/tree/$commit?recursive=True"
mkdir -p "$www/$repo/resolve/$commit"
locations=""
for file in adapter_config.json adapter_model.safetensors; do
  curl -sf -H "$auth" -o "$www/$repo/resolve/$commit/$file" "$base/hub/r16/$repo/resolve/$commit/$file"
  sha=$(sha256sum "$www/$repo/resolve/$commit/$file" | cut -d' ' -f1); size=$(stat -c %s "$www/$repo/resolve/$commit/$file")
  locations+="    location = /$repo/resolve/$commit/$file { etag off; add_header ETag '\"$sha\"'; add_header X-Linked-Etag '\"$sha\"'; add_header X-Linked-Size $size; add_header X-Repo-Commit $commit; add_header Accept-Ranges bytes; }
"
done
chmod -R a+rX "$www"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on;
  server {
    listen 127.0.0.1:$nginx_port; root $www;
    location /api/ { default_type application/json; }
$locations  }
}
NGINX
"$nginx_bin" -c "$work/nginx.conf"
sleep 0.3

echo "== snapshot_download (huggingface_hub $("$venv/bin/python" -c 'import huggingface_hub as h; print(h.__version__)'))"
"$venv/bin/python" "$root/Benchmarks/hub/bench_hub.py" "$base" "$token" "http://127.0.0.1:$nginx_port" "$repo" "$work/src" "$runs"
