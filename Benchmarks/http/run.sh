#!/usr/bin/env bash
# HTTPServer vs nginx on loopback, measured by wrk in the same run, serving the same bytes:
#   /healthz   "ok\n" (3 bytes)     small responses, keep-alive
#   /big.bin   64 MiB file          throughput (both with sendfile)
# and 1,000 concurrent keep-alive connections on /healthz (errors are reported); then over TLS (the same
# self-signed P-256 certificate for both, TLS 1.2 and 1.3 allowed, wrk negotiating TLS 1.3): /big.bin
# with 4 connections and /healthz with 64.
#
#   Benchmarks/http/run.sh [DURATION_SECONDS]     (default 10)
#
# With SERVICE_BINARY=path/to/lora-squeeze (a release build), the service's own /healthz (router,
# metrics, access log at info to a file) is measured too, against an nginx `return 200` location with
# `access_log ... buffer=64k`: the first row of issue 10's table.
#
# Installs nginx and wrk with apt-get when missing. Builds the benchmark server in release mode:
# the `http-bench-server` product when Package.swift has it, otherwise a temporary package
# (under .build-bench/) made of Sources/HTTPServer and Benchmarks/http/BenchServer.
# Prints a table and the ratios; it is not a pass/fail test.
set -euo pipefail
duration="${1:-10}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/.build-bench"
ours_port=18080
nginx_port=18081
ours_tls_port=18443
nginx_tls_port=18444
mkdir -p "$work"

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

# --- the server under test ----------------------------------------------------------------
bench_server=""
if (cd "$root" && swift build -c release --scratch-path .build-bench/pkg-main --product http-bench-server) >"$work/build-main.log" 2>&1; then
    bench_server="$root/.build-bench/pkg-main/release/http-bench-server"
else
    pkg="$work/pkg"
    mkdir -p "$pkg/Sources"
    ln -sfn "$root/Sources/HTTPServer" "$pkg/Sources/HTTPServer"
    ln -sfn "$here/BenchServer" "$pkg/Sources/http-bench-server"
    cat > "$pkg/Package.swift" <<'SWIFT'
// swift-tools-version: 6.0
// Temporary package made by Benchmarks/http/run.sh until Package.swift has the http-bench-server target.
import PackageDescription
let package = Package(
    name: "http-bench",
    dependencies: [.package(url: "https://github.com/apple/swift-log", from: "1.6.0")],
    targets: [
        .target(name: "HTTPServer", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "http-bench-server",
                          dependencies: ["HTTPServer", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
SWIFT
    (cd "$pkg" && swift build -c release --product http-bench-server) >"$work/build.log" 2>&1 \
        || { cat "$work/build.log" >&2; exit 1; }
    bench_server="$pkg/.build/release/http-bench-server"
fi

# --- the same bytes for both --------------------------------------------------------------
www="$work/www"
mkdir -p "$www"
chmod 755 "$work" "$www"
printf 'ok\n' > "$www/healthz"
[ -f "$www/big.bin" ] && [ "$(stat -c %s "$www/big.bin")" = 67108864 ] \
    || head -c 67108864 /dev/urandom > "$www/big.bin"
chmod 644 "$www"/*
[ -f "$work/cert.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
    -out "$work/cert.pem" -days 30 -subj '/CN=localhost' -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' 2>/dev/null
chmod 644 "$work/key.pem" "$work/cert.pem"

cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
error_log $work/nginx-error.log warn;
pid $work/nginx.pid;
worker_rlimit_nofile 20000;
events { worker_connections 12000; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$nginx_port;
        root $www;
        location = /healthz { default_type text/plain; }
        location = /logged {
            access_log $work/nginx-access.log combined buffer=64k;
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
    server {
        listen 127.0.0.1:$nginx_tls_port ssl;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        root $www;
        location = /healthz { default_type text/plain; }
    }
}
NGINX

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$nginx_bin" -c "$work/nginx.conf" -p "$work" -g 'daemon off;' &
pids+=($!)
BENCH_TLS_CERT="$work/cert.pem" BENCH_TLS_KEY="$work/key.pem" BENCH_TLS_PORT=$ours_tls_port \
    "$bench_server" "$ours_port" "$www" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$ours_port/healthz" >/dev/null 2>&1 \
        && curl -sf "http://127.0.0.1:$nginx_port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
cmp <(curl -sf "http://127.0.0.1:$ours_port/big.bin") "$www/big.bin" \
    && cmp <(curl -sf "http://127.0.0.1:$nginx_port/big.bin") "$www/big.bin" \
    || { echo "the servers do not serve the same bytes" >&2; exit 1; }
cmp <(curl -sfk "https://127.0.0.1:$ours_tls_port/big.bin") "$www/big.bin" \
    && cmp <(curl -sfk "https://127.0.0.1:$nginx_tls_port/big.bin") "$www/big.bin" \
    || { echo "the servers do not serve the same bytes over TLS" >&2; exit 1; }

# --- wrk ----------------------------------------------------------------------------------
ulimit -n 20000 2>/dev/null || true
declare -A rps tput errors
run() {  # name server port path threads connections [scheme]
    local out
    out="$(wrk -t"$5" -c"$6" -d"${duration}s" --latency "${7:-http}://127.0.0.1:$3$4" 2>&1)"
    echo "$out" > "$work/wrk-$1-$2.txt"
    rps[$1-$2]="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    tput[$1-$2]="$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")"
    errors[$1-$2]="$(awk '/Socket errors|Non-2xx/ {printf "%s ", $0}' <<<"$out")"
}
for server in ours nginx; do
    port=$ours_port; [ "$server" = nginx ] && port=$nginx_port
    run small "$server" "$port" /healthz 2 100
    run large "$server" "$port" /big.bin 2 4
    run c1000 "$server" "$port" /healthz 2 1000
    tls_port=$ours_tls_port; [ "$server" = nginx ] && tls_port=$nginx_tls_port
    run tlslarge "$server" "$tls_port" /big.bin 2 4 https
    run tlssmall "$server" "$tls_port" /healthz 2 64 https
done

# --- memory per idle keep-alive connection: 10,000 held (one request each), plain and TLS ----
nginx_pids="$(pgrep -f 'nginx: worker' | paste -sd, -)"
ours_pid="${pids[1]}"
idle_plain_ours="$(python3 "$here/idle.py" "$ours_port" "$ours_pid" 10000 2>&1 | tail -1)"
idle_tls_ours="$(python3 "$here/idle.py" "$ours_tls_port" "$ours_pid" 10000 --tls 2>&1 | tail -1)"
idle_plain_nginx="$(python3 "$here/idle.py" "$nginx_port" "$nginx_pids" 10000 2>&1 | tail -1)"
idle_tls_nginx="$(python3 "$here/idle.py" "$nginx_tls_port" "$nginx_pids" 10000 --tls 2>&1 | tail -1)"

# --- the service's /healthz (when SERVICE_BINARY is given) ---------------------------------------
if [ -n "${SERVICE_BINARY:-}" ]; then
    service_port=18090
    rm -rf "$work/service-data"
    "$SERVICE_BINARY" serve --host 127.0.0.1 --port $service_port --data "$work/service-data" --log-level info \
        --scrub-interval 0 --min-free-disk 0 >"$work/service.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$service_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    run service ours "$service_port" /healthz 2 100
    run service nginx "$nginx_port" /logged 2 100
fi

to_mib() {  # wrk's "123.45MB" → MiB/s
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "GB") n *= 1024; else if (u == "KB") n /= 1024; else if (u == "B") n /= 1048576; printf "%.1f", n }'
}
echo
echo "HTTPServer vs nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///'), wrk ${duration}s each, $(nproc) cores"
printf '%-34s %14s %14s %8s\n' "" "HTTPServer" "nginx" "ratio"
for test in small c1000; do
    label="/healthz req/s, 100 conns"; [ "$test" = c1000 ] && label="/healthz req/s, 1000 conns"
    printf '%-34s %14s %14s %7.0f%%\n' "$label" "${rps[$test-ours]}" "${rps[$test-nginx]}" \
        "$(awk -v a="${rps[$test-ours]}" -v b="${rps[$test-nginx]}" 'BEGIN { print (b > 0 ? 100 * a / b : 0) }')"
done
ours_mib="$(to_mib "${tput[large-ours]}")"; nginx_mib="$(to_mib "${tput[large-nginx]}")"
printf '%-34s %14s %14s %7.0f%%\n' "64 MiB file MiB/s, 4 conns" "$ours_mib" "$nginx_mib" \
    "$(awk -v a="$ours_mib" -v b="$nginx_mib" 'BEGIN { print (b > 0 ? 100 * a / b : 0) }')"
if [ -n "${SERVICE_BINARY:-}" ]; then
    printf '%-34s %14s %14s %7.0f%%\n' "service /healthz (logged), 100 conns" "${rps[service-ours]}" "${rps[service-nginx]}" \
        "$(awk -v a="${rps[service-ours]}" -v b="${rps[service-nginx]}" 'BEGIN { print (b > 0 ? 100 * a / b : 0) }')"
fi
ours_mib="$(to_mib "${tput[tlslarge-ours]}")"; nginx_mib="$(to_mib "${tput[tlslarge-nginx]}")"
printf '%-34s %14s %14s %7.0f%%\n' "TLS: 64 MiB file MiB/s, 4 conns" "$ours_mib" "$nginx_mib" \
    "$(awk -v a="$ours_mib" -v b="$nginx_mib" 'BEGIN { print (b > 0 ? 100 * a / b : 0) }')"
printf '%-34s %14s %14s %7.0f%%\n' "TLS: /healthz req/s, 64 conns" "${rps[tlssmall-ours]}" "${rps[tlssmall-nginx]}" \
    "$(awk -v a="${rps[tlssmall-ours]}" -v b="${rps[tlssmall-nginx]}" 'BEGIN { print (b > 0 ? 100 * a / b : 0) }')"
echo
echo "idle keep-alive connections (RSS of the server's processes):"
echo "  HTTPServer plain: $idle_plain_ours"
echo "  HTTPServer TLS:   $idle_tls_ours"
echo "  nginx plain:      $idle_plain_nginx"
echo "  nginx TLS:        $idle_tls_nginx"
echo
for key in "${!errors[@]}"; do
    [ -n "${errors[$key]}" ] && echo "$key: ${errors[$key]}"
done
echo "targets (issue 10): /healthz ≥ 80 % of nginx req/s, the service's logged /healthz ≥ 50 %, the 64 MiB file ≥ 90 %"
echo "  (≥ 80 % over TLS), TLS /healthz ≥ 50 %, 1000 connections and 10,000 idle ones without errors"
echo "raw wrk output: $work/wrk-*.txt"
