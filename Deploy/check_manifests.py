#!/usr/bin/env python3
"""What a schema cannot see in the deployment files, checked against the server's own source.

    python3 Deploy/check_manifests.py SETTINGS_DIR UNIT RENDERED.yaml...

SETTINGS_DIR is Sources/lora-squeeze (where `serve` names the LORA_SQUEEZE_* variables it reads),
UNIT the systemd unit, each RENDERED.yaml the output of `kubectl kustomize` for one overlay. Checks:

- every LORA_SQUEEZE_* variable the manifests or the unit set is one `serve` reads (a misspelt one
  would leave the default in force, with only a warning in the log);
- every pod template turns service links off (a Service named lora-squeeze would otherwise put
  LORA_SQUEEZE_PORT=tcp://…, LORA_SQUEEZE_SERVICE_HOST, … into the pod's environment);
- the shutdown fits: terminationGracePeriodSeconds > preStop sleep + drain delay + shutdown grace,
  a preStop sleep equals the drain delay, and the drain delay outlasts the readiness probe's
  period × failureThreshold (the pod leaves the endpoints while it still serves);
- the admin token comes from a Secret (a file on a Secret volume, or a secretKeyRef);
- the unit's TimeoutStopSec outlasts the drain delay + shutdown grace it runs with.

Prints one line per finding and exits non-zero if there is any.
"""
import re
import sys
from pathlib import Path

import yaml

PREFIX = "LORA_SQUEEZE_"
# serve's defaults (ServeCommand / README "Settings") when a manifest leaves a duration unset.
DEFAULT_DRAIN, DEFAULT_GRACE = 5.0, 10.0


def known_settings(directory):
    """The variable names serve reads: SettingSource.known, and every `env: "NAME"` it resolves."""
    names = set()
    for path in Path(directory).glob("*.swift"):
        text = path.read_text()
        for block in re.findall(r"static let known[^=]*=\s*\[(.*?)\]", text, re.S):
            names.update(re.findall(r'"([A-Z0-9_]+)"', block))
        names.update(re.findall(r'\benv:\s*"([A-Z0-9_]+)"', text))
    return names


def seconds(text):
    """A serve duration (`500ms`, `10s`, `1m`, `24h`, `7d`, `0`) in seconds."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", str(text).strip())
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]
    return int(m.group(1)) * unit


def check_rendered(path, known, findings):
    documents = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in documents if d["kind"] == "ConfigMap"}
    for d in documents:
        if d["kind"] != "Deployment":
            continue
        where = f"overlay {Path(path).stem}: deployment/{d['metadata']['name']}"
        pod = d["spec"]["template"]["spec"]
        if pod.get("enableServiceLinks") is not False:
            findings.append(f"{where}: enableServiceLinks is not false: the Service lora-squeeze would set "
                            "LORA_SQUEEZE_PORT=tcp://…:80 in the pod, which serve takes for its port and stops on")
        secret_mounts = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
        for c in pod["containers"]:
            env = {}
            for source in c.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref not in config_maps:
                    findings.append(f"{where}: envFrom names ConfigMap {ref}, which the overlay does not make")
                    continue
                env.update({k: ("value", v) for k, v in config_maps[ref].items()})
            for e in c.get("env", []):
                env[e["name"]] = ("value", e["value"]) if "value" in e else ("from", e.get("valueFrom", {}))
            for name in sorted(env):
                if name.startswith(PREFIX) and name[len(PREFIX):] not in known:
                    findings.append(f"{where}: {name} is not a setting serve reads (the default stays in force)")

            # The admin token: a file on a Secret volume, or a secretKeyRef.
            token_file = env.get(PREFIX + "ADMIN_TOKEN_FILE")
            token = env.get(PREFIX + "ADMIN_TOKEN")
            if token_file and token_file[0] == "value":
                mounts = [m for m in c.get("volumeMounts", [])
                          if token_file[1].startswith(m["mountPath"].rstrip("/") + "/") and m["name"] in secret_mounts]
                if not mounts:
                    findings.append(f"{where}: {PREFIX}ADMIN_TOKEN_FILE {token_file[1]} is not on a Secret volume")
            elif not (token and token[0] == "from" and "secretKeyRef" in token[1]):
                findings.append(f"{where}: the admin token comes from no Secret ({PREFIX}ADMIN_TOKEN_FILE or a secretKeyRef)")

            # Shutdown: preStop, then SIGTERM, the drain delay and the shutdown grace, all inside the grace period.
            def duration(name, default):
                value = env.get(PREFIX + name)
                return seconds(value[1]) if value and value[0] == "value" else default
            drain, grace = duration("DRAIN_DELAY", DEFAULT_DRAIN), duration("SHUTDOWN_GRACE", DEFAULT_GRACE)
            pre_stop = c.get("lifecycle", {}).get("preStop")
            sleep = 0
            if pre_stop:
                if "sleep" not in pre_stop:
                    findings.append(f"{where}: preStop is not a sleep; only a sleep is checked here")
                else:
                    sleep = pre_stop["sleep"]["seconds"]
                    if sleep != drain:
                        findings.append(f"{where}: the preStop sleep ({sleep} s) differs from the drain delay ({drain:g} s)")
            period = pod.get("terminationGracePeriodSeconds", 30)
            if not period > sleep + drain + grace:
                findings.append(f"{where}: terminationGracePeriodSeconds {period} is not above preStop {sleep} s + "
                                f"drain {drain:g} s + shutdown grace {grace:g} s")
            probe = c.get("readinessProbe")
            if not probe:
                findings.append(f"{where}: no readinessProbe")
            elif not drain > probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3):
                findings.append(f"{where}: the drain delay ({drain:g} s) does not outlast the readiness probe "
                                f"(period × failureThreshold = {probe.get('periodSeconds', 10) * probe.get('failureThreshold', 3)} s)")


def check_unit(path, known, findings):
    env, timeout = {}, None
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            env.update(item.split("=", 1) for item in value.split())
        elif key == "TimeoutStopSec":
            timeout = seconds(value)
    for name in sorted(env):
        if name.startswith(PREFIX) and name[len(PREFIX):] not in known:
            findings.append(f"{path}: {name} is not a setting serve reads")
    drain = seconds(env.get(PREFIX + "DRAIN_DELAY", "5s"))
    grace = seconds(env.get(PREFIX + "SHUTDOWN_GRACE", "10s"))
    if timeout is None or not timeout > drain + grace:
        findings.append(f"{path}: TimeoutStopSec ({timeout}) is not above drain {drain:g} s + shutdown grace {grace:g} s")


def main():
    settings, unit, rendered = sys.argv[1], sys.argv[2], sys.argv[3:]
    known = known_settings(settings)
    findings = []
    if not known:
        findings.append(f"{settings}: found no LORA_SQUEEZE_* names (SettingSource.known, `env:` arguments)")
    for path in rendered:
        check_rendered(path, known, findings)
    check_unit(unit, known, findings)
    for f in findings:
        print(f)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
