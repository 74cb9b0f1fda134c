#!/usr/bin/env bash
# The service benchmark: upload → squeeze → download of the Gemma-2B-shaped r = 64 f32 adapter
# (≈300 MiB) to rank 16 over loopback, and the cached download against nginx serving the same file,
# measured with the same client (curl) in the same run. Prints figures; asserts nothing.
#
#   Benchmarks/service.sh [RUNS]      (default 5 downloads per server; medians)
#
# Installs nginx with apt-get when missing. Authentication is on (the server's default): the script
# makes an admin token with `lora-squeeze token generate` (a fresh token recorded nowhere), starts the
# server with it in LORA_SQUEEZE_ADMIN_TOKEN (installed as an unlimited admin token at start-up) and
# sends it as `Authorization: Bearer` on every /v1/ request (/healthz is open).
set -euo pipefail
runs="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.build/release/lora-squeeze"
[ -x "$bin" ] || (cd "$root" && swift build -c release --product lora-squeeze)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || {
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
work="$(mktemp -d)"
chmod 755 "$work"   # nginx workers run as an unprivileged user
port=18090; nginx_port=18091
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== writing the Gemma-2B-shaped adapter (r = 64, f32)"
"$bin" bench --runs 1 --dtype f32 --write-adapter "$work/src" >/dev/null
size=$(stat -c %s "$work/src/adapter_model.safetensors")

token="$("$bin" token generate)"
auth="Authorization: Bearer $token"
LORA_SQUEEZE_ADMIN_TOKEN="$token" "$bin" serve --host 127.0.0.1 --port $port --data "$work/data" --log-level warning &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "== bounds: SHA-256 and a durable disk write of the same bytes"
t_sha=$( { /usr/bin/time -f "%e" openssl dgst -sha256 "$work/src/adapter_model.safetensors" >/dev/null; } 2>&1 )
t_dd=$( { /usr/bin/time -f "%e" dd if="$work/src/adapter_model.safetensors" of="$work/dd.out" bs=1M conv=fsync status=none; } 2>&1 )
rm -f "$work/dd.out"
python3 -c "print(f'SHA-256 (openssl, one core): {$size/1048576/max($t_sha,1e-3):.0f} MiB/s; dd with fsync: {$size/1048576/max($t_dd,1e-3):.0f} MiB/s')"

echo "== upload ($((size / 1048576)) MiB, multipart)"
read -r t_up speed_up < <(curl -s -o /dev/null -w "%{time_total} %{speed_upload}\n" -H "$auth" \
  -F "adapter_config.json=@$work/src/adapter_config.json" -F "adapter_model.safetensors=@$work/src/adapter_model.safetensors" \
  "http://127.0.0.1:$port/v1/adapters?name=gemma")
python3 -c "print(f'upload: {$t_up:.2f} s, {$speed_up/1048576:.0f} MiB/s (hashing, full validation and spectra included)')"

url="http://127.0.0.1:$port/v1/adapters/gemma/squeezed/16/adapter_model.safetensors"
read -r t_first t_total < <(curl -s -o "$work/r16.safetensors" -w "%{time_starttransfer} %{time_total}\n" -H "$auth" "$url")
python3 -c "print(f'cold squeeze to rank 16: first byte after {$t_first:.3f} s, whole file after {$t_total:.3f} s')"

mkdir -p "$work/www" && chmod 755 "$work/www" && cp "$work/r16.safetensors" "$work/www/r16.safetensors" && chmod 644 "$work/www/r16.safetensors"
cp "$work/src/adapter_model.safetensors" "$work/www/full.safetensors" && chmod 644 "$work/www/full.safetensors"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
NGINX
"$nginx_bin" -c "$work/nginx.conf"
sleep 0.3

# Alternate the two servers so drift in the machine's load hits both alike.
for name in r16 full; do
  if [ $name = r16 ]; then ours_url="$url"; label="squeezed weights, 75 MiB"; else
    ours_url="http://127.0.0.1:$port/v1/adapters/gemma/files/adapter_model.safetensors"; label="stored weights, 299 MiB"; fi
  : > "$work/ours.txt"; : > "$work/theirs.txt"
  for _ in $(seq "$runs"); do
    curl -s -o /dev/null -w "%{speed_download}\n" -H "$auth" "$ours_url" >> "$work/ours.txt"
    curl -s -o /dev/null -w "%{speed_download}\n" "http://127.0.0.1:$nginx_port/$name.safetensors" >> "$work/theirs.txt"
  done
  ours=$(median < "$work/ours.txt"); theirs=$(median < "$work/theirs.txt")
  python3 -c "print(f'cached download ($label): lora-squeeze {$ours/1048576:.0f} MiB/s, nginx {$theirs/1048576:.0f} MiB/s, ratio {$ours/$theirs:.0%} (medians of $runs)')"
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
python3 -c "print(f'server peak RSS: {$hwm/1024:.0f} MiB = {$hwm*1024/$size:.2f}× the adapter')"
