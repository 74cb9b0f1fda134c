#!/usr/bin/env bash
# Deploy/check-runtime.sh — the container image's runtime, without Docker (make deploy-check; root):
#   1. the Dockerfile's builder image (FROM swift:X.Y-bookworm) is the Swift toolchain here;
#   2. a bare Debian root (debootstrap --variant=minbase bookworm, from the mirror in
#      /etc/apt/sources.list(.d)) gets the Dockerfile's runtime stage: its RUN, run as it is, so the
#      packages installed are exactly the image's (cached under .build-deploy/, keyed by that RUN);
#   3. the release binary, built as the Dockerfile builds it (--static-swift-stdlib), is copied in
#      and every shared library it needs must resolve there;
#   4. the settings both Kubernetes overlays give are checked by that binary (`serve --check`);
#   5. it serves from that root as the image does: chroot, uid/gid of the Dockerfile's USER, no
#      capabilities, no_new_privs, the root read-only with /data and /tmp writable (the Kubernetes
#      securityContext), --auth off on a free loopback port. A client uploads a small PEFT adapter,
#      asks for it squeezed to rank 2 and checks the answer (Deploy/check_runtime_client.py);
#      then SIGTERM, and the server must drain and exit 0.
# One line per step; exits non-zero on the first failure. Not part of `make test`: the first run
# downloads ~60 MB of Debian packages and builds the release binary (minutes); later runs reuse both.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

CACHE=.build-deploy
SCRATCH=$PWD/$CACHE/swift           # the release build's own scratch path: never the project's .build
SUITE=bookworm
PATH_IN_IMAGE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   # Docker's default PATH

say() { printf '%-9s %s\n' "$1" "$2"; }
die() { say FAIL "$1"; [ -n "${2:-}" ] && [ -s "$2" ] && tail -n 30 "$2" | sed 's/^/          /'; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: debootstrap and chroot need it (sudo make deploy-check)"
mkdir -p "$CACHE"
work=$(mktemp -d "$PWD/$CACHE/run.XXXXXX")
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# What the check needs on a fresh Debian machine.
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
python3 -c 'import numpy, safetensors, yaml' 2>/dev/null || python3 -m pip install -q numpy safetensors PyYAML

# 1. The builder's Swift against the local toolchain: the tag's version must be a prefix of
#    `swift --version`'s (6.3 or 6.3.1 for 6.3.1).
local_swift=$(swift --version 2>/dev/null | grep -o 'Swift version [0-9][0-9.]*' | head -1 | cut -d' ' -f3)
image_swift=$(sed -n 's/^FROM swift:\([0-9][0-9.]*\)-bookworm.*/\1/p' Dockerfile | head -1)
[ -n "$image_swift" ] || die "Dockerfile: no 'FROM swift:X.Y-bookworm' builder stage"
case "$local_swift." in
    "$image_swift".*) say ok "builder image swift:$image_swift-bookworm matches the local Swift $local_swift" ;;
    *) die "Dockerfile builds with swift:$image_swift-bookworm but this machine's Swift is $local_swift: set FROM swift:${local_swift%.*}-bookworm" ;;
esac

# 2. The runtime stage, read from the Dockerfile: its base (must be Debian $SUITE), its one RUN, its
#    ENV, USER and ENTRYPOINT.
python3 - Dockerfile "$work" <<'EOF'
import json, re, shlex, sys
text = open(sys.argv[1]).read()
lines = re.sub(r"\\\n", " ", text).splitlines()          # continuation lines joined, as Docker does
instructions = [l.strip() for l in lines if l.strip() and not l.lstrip().startswith("#")]
starts = [i for i, l in enumerate(instructions) if l.upper().startswith("FROM ")]
stage = instructions[starts[-1]:]
base = stage[0].split()[1]
runs = [l[4:].strip() for l in stage if l.upper().startswith("RUN ")]
if not re.fullmatch(r"debian:bookworm(-slim)?", base) or len(runs) != 1:
    sys.exit(f"the runtime stage must be FROM debian:bookworm[-slim] with one RUN (has FROM {base}, {len(runs)} RUN)")
run = runs[0]
m = re.search(r"apt-get install ((?:(?!&&|;|\|).)*)", run)
packages = [w for w in shlex.split(m.group(1)) if not w.startswith("-")] if m else []
env = {}
for l in stage:
    if l.upper().startswith("ENV "):
        for item in shlex.split(l[4:]):
            k, _, v = item.partition("=")
            env[k] = v
user = next((l.split()[1] for l in reversed(stage) if l.upper().startswith("USER ")), "root")
entry = next((json.loads(l[len("ENTRYPOINT "):]) for l in reversed(stage) if l.upper().startswith("ENTRYPOINT ")), None)
out = sys.argv[2]
open(f"{out}/run.sh", "w").write(run + "\n")
open(f"{out}/packages", "w").write(" ".join(packages) + "\n")
open(f"{out}/env", "w").write("".join(f"{k}={v}\n" for k, v in env.items()))
open(f"{out}/user", "w").write(user + "\n")
open(f"{out}/entrypoint", "w").write("".join(a + "\n" for a in entry or []))
EOF
packages=$(cat "$work/packages")
[ -n "$packages" ] || die "no 'apt-get install' in the runtime stage's RUN"
[ -s "$work/entrypoint" ] || die "the runtime stage has no ENTRYPOINT in exec form"

# The mirror: the host's apt sources for $SUITE, $SUITE-updates and $SUITE-security (one-line .list
# files and deb822 .sources), written into the root as they are here.
python3 - "$SUITE" >"$work/sources.list" <<'EOF'
import glob, sys
suite = sys.argv[1]
wanted = {suite, f"{suite}-updates", f"{suite}-security"}
entries = []
def add(uri, suites, components):
    for s in suites:
        if s in wanted and (uri, s) not in [(u, x) for u, x, _ in entries]:
            entries.append((uri.rstrip("/"), s, components))
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        words = line.split("#", 1)[0].split()
        if words[:1] != ["deb"]:
            continue
        words = words[1:]
        if words and words[0].startswith("["):                 # [signed-by=…] options
            while words and not words[0].endswith("]"):
                words.pop(0)
            words.pop(0)
        if len(words) >= 3:
            add(words[0], [words[1]], words[2:])
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            for uri in fields.get("uris", []):
                add(uri, fields.get("suites", []), fields.get("components", ["main"]))
if not any(s == suite for _, s, _ in entries):
    sys.exit(f"no apt source for {suite} in /etc/apt/sources.list(.d)")
for uri, s, components in entries:
    print(f"deb {uri} {s} {' '.join(components)}")
EOF
mirror=$(awk -v s="$SUITE" '$3 == s {print $2; exit}' "$work/sources.list")
# apt settings the mirror needs here (a snapshot mirror's Release files are past Valid-Until; a proxy).
apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' >"$work/apt.conf" || true

key=$(cat "$work/run.sh" "$work/sources.list" "$work/apt.conf" | sha256sum | cut -c1-16)
root=$CACHE/rootfs-$key
if [ -f "$root/.complete" ]; then
    say ok "runtime root cached: $root ($packages)"
else
    for old in "$CACHE"/rootfs-*; do [ -d "$old" ] && [ "$old" != "$root" ] && rm -rf "$old"; done
    rm -rf "$root"
    t=$SECONDS
    debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || die "debootstrap --variant=minbase $SUITE from $mirror" "$work/debootstrap.log"
    cp "$work/sources.list" "$root/etc/apt/sources.list"
    cp "$work/apt.conf" "$root/etc/apt/apt.conf.d/99deploy-check"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    # The RUN as Docker runs it: /bin/sh -c, as root, Docker's PATH and nothing else from here.
    unshare --mount --propagation private -- sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/env -i PATH="$2" HOME=/root /bin/sh -c "$3"' \
        sh "$root" "$PATH_IN_IMAGE" "$(cat "$work/run.sh")" >"$work/run.log" 2>&1 \
        || die "the Dockerfile's runtime RUN in the $SUITE root" "$work/run.log"
    touch "$root/.complete"
    say ok "runtime root: debootstrap minbase $SUITE + the Dockerfile's RUN ($packages) in $((SECONDS - t)) s"
fi

# 3. The release binary, as the Dockerfile builds it. --static-swift-stdlib works with this
#    toolchain (its lib/swift_static has the runtime and Foundation), so the image needs no Swift
#    runtime: what is left are the C libraries the RUN installs.
t=$SECONDS
nice swift build -c release --product lora-squeeze --static-swift-stdlib --scratch-path "$SCRATCH" >"$work/build.log" 2>&1 \
    || die "swift build -c release --product lora-squeeze --static-swift-stdlib" "$work/build.log"
binary=$SCRATCH/release/lora-squeeze
say ok "release build (--static-swift-stdlib) in $((SECONDS - t)) s: $(du -m "$binary" | cut -f1) MB"
install -m 0755 "$binary" "$root/usr/local/bin/lora-squeeze"
chroot "$root" /usr/bin/ldd /usr/local/bin/lora-squeeze >"$work/ldd" 2>&1 || die "ldd in the runtime root" "$work/ldd"
if grep -q 'not found' "$work/ldd"; then
    grep 'not found' "$work/ldd" >"$work/missing"
    die "libraries the binary needs that the runtime stage does not install:" "$work/missing"
fi
if grep -q 'libswift' "$work/ldd"; then die "the binary links the Swift runtime dynamically" "$work/ldd"; fi
say ok "every shared library resolves in the root ($(grep -c '=>' "$work/ldd") libraries, no Swift runtime)"

# The process as the image and Kubernetes run it: the Dockerfile's USER, no capabilities,
# no_new_privs, a read-only root with /data (the volume) and /tmp (an emptyDir) writable, the
# secret directory of the admin token mounted read-only.
user=$(cat "$work/user")
uid=$(chroot "$root" /usr/bin/id -u "${user%%:*}") || die "USER $user does not exist in the runtime root"
gid=${user#*:}; [ "$gid" != "$user" ] || gid=$(chroot "$root" /usr/bin/id -g "$uid")
case $gid in *[!0-9]*) gid=$(chroot "$root" /usr/bin/getent group "$gid" | cut -d: -f3) ;; esac
[ -n "$gid" ] || die "USER $user: its group does not exist in the runtime root"
mkdir -p "$work/data" "$work/secrets"
chown "$uid:$gid" "$work/data"
mapfile -t entrypoint <"$work/entrypoint"
mapfile -t image_env <"$work/env"
in_image() {   # in_image ENV_FILE COMMAND…: run COMMAND in the root as the image would (exec: same PID)
    local environment; mapfile -t environment <"$1"; shift
    exec unshare --mount --propagation private -- sh -c '
        root=$1 data=$2 secrets=$3 uid=$4 gid=$5; shift 5
        mount --bind "$root" "$root" && mount -o remount,bind,ro "$root"
        mount -t proc proc "$root/proc"
        mount --bind "$data" "$root/data"
        mount -t tmpfs -o size=64m,mode=1777 tmpfs "$root/tmp"
        mount -t tmpfs -o size=1m,mode=0755 tmpfs "$root/run"
        mkdir -p "$root/run/secrets/lora-squeeze" && mount --bind -o ro "$secrets" "$root/run/secrets/lora-squeeze"
        exec chroot "$root" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups \
            --inh-caps=-all --bounding-set=-all --no-new-privs -- /usr/bin/env -i "$@"' \
        sh "$root" "$work/data" "$work/secrets" "$uid" "$gid" "${environment[@]}" "$@"
}
printf '%s\n' "PATH=$PATH_IN_IMAGE" "${image_env[@]}" >"$work/image.env"

# 4. The overlays' settings, checked by the binary itself: the ConfigMap and plain env values of
#    each rendered overlay (a Secret's value replaced by a stand-in of its form).
( in_image "$work/image.env" lora-squeeze token generate ) >"$work/secrets/token" 2>"$work/token.log" \
    || die "lora-squeeze token generate in the root" "$work/token.log"
chmod 0444 "$work/secrets/token"
if ! command -v kubectl >/dev/null; then
    say skip "serve --check of the overlays' settings: kubectl is not installed (make deploy-lint says how to get it)"
else
    ( in_image "$work/image.env" "${entrypoint[@]}" --help ) >"$work/serve-help" 2>&1 || die "serve --help in the root" "$work/serve-help"
    for overlay in single fleet; do
        kubectl kustomize "Deploy/overlays/$overlay" >"$work/$overlay.yaml" || die "kubectl kustomize Deploy/overlays/$overlay"
        python3 - "$work/$overlay.yaml" >"$work/$overlay.env" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
stand_in = {"LORA_SQUEEZE_CATALOG": "postgresql://lora@127.0.0.1:1/lora?sslmode=require",
            "LORA_SQUEEZE_REPLICA_ID": "lora-squeeze-0"}
for d in docs:
    if d["kind"] == "Deployment":
        c = d["spec"]["template"]["spec"]["containers"][0]
        env = {}
        for source in c.get("envFrom", []):
            env.update(maps[source["configMapRef"]["name"]])
        for e in c.get("env", []):
            env[e["name"]] = e["value"] if "value" in e else stand_in.get(e["name"], "stand-in")
        for k, v in env.items():
            print(f"{k}={v}")
EOF
        # A setting the binary does not have yet (the fleet's catalog, blobs and replica id are
        # being added to serve) makes this a skip, named, rather than a failure.
        missing=$(grep -o '^LORA_SQUEEZE_[A-Z_]*' "$work/$overlay.env" | while read -r name; do
            flag=--$(echo "${name#LORA_SQUEEZE_}" | tr 'A-Z_' 'a-z-')
            [ "$flag" = --admin-token ] || grep -q -- "$flag\b" "$work/serve-help" || echo "$flag"
        done | tr '\n' ' ')
        if [ -n "$missing" ]; then
            say skip "serve --check of overlays/$overlay: this binary has no ${missing% }"
            continue
        fi
        cat "$work/image.env" "$work/$overlay.env" >"$work/check.env"
        ( in_image "$work/check.env" "${entrypoint[@]}" --check ) >"$work/check.log" 2>&1 \
            || die "serve --check with the settings of Deploy/overlays/$overlay" "$work/check.log"
        say ok "serve --check accepts the settings of overlays/$overlay ($(grep -c . "$work/$overlay.env") variables)"
    done
fi

# 5. Serve, upload, squeeze, stop.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
( in_image "$work/image.env" "${entrypoint[@]}" --host 127.0.0.1 --port "$port" --auth off --drain-delay 1s ) >"$work/serve.log" 2>&1 &
server=$!
t=$SECONDS
until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    kill -0 "$server" 2>/dev/null || die "the server exited before /healthz answered" "$work/serve.log"
    [ $((SECONDS - t)) -lt 30 ] || die "/healthz did not answer within 30 s" "$work/serve.log"
    sleep 0.2
done
# What the line below claims, read back from the running process.
status_of() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$server/status"; }
[ "$(status_of Uid)" = "$uid" ] && [ "$(status_of Gid)" = "$gid" ] \
    || die "the server runs as uid $(status_of Uid) gid $(status_of Gid), not $uid:$gid"
[ "$(status_of CapBnd)" = 0000000000000000 ] && [ "$(status_of CapEff)" = 0000000000000000 ] && [ "$(status_of NoNewPrivs)" = 1 ] \
    || die "the server has capabilities (bounding $(status_of CapBnd)) or no no_new_privs"
awk '$5 == "/" {print $6}' "/proc/$server/mountinfo" | grep -q '^ro' || die "the server's root is writable"
say ok "serve in the root as uid $uid:$gid, read-only /, no capabilities: /healthz in $((SECONDS - t)) s"
python3 Deploy/check_runtime_client.py "http://127.0.0.1:$port" >"$work/client.log" 2>&1 \
    || { cat "$work/client.log" >>"$work/serve.log"; die "upload and squeeze (Deploy/check_runtime_client.py)" "$work/serve.log"; }
sed 's/^ok   /ok        /; s/^FAIL /FAIL      /' "$work/client.log"
t=$SECONDS
kill -TERM "$server"
status=0; wait "$server" || status=$?
server=""
[ "$status" = 0 ] || die "after SIGTERM the server exited with status $status" "$work/serve.log"
grep -q 'stopped' "$work/serve.log" || die "the server exited without its 'stopped' line" "$work/serve.log"
say ok "SIGTERM: drained and exited 0 in $((SECONDS - t)) s"

say done "Deploy/check-runtime.sh passed in $((SECONDS - started)) s"
