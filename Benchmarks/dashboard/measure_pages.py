#!/usr/bin/env python3
"""Times the dashboard's pages against a filled catalog (Benchmarks/dashboard.sh's steps 4 and 5).
Standard library only.

    LORA_SQUEEZE_TOKEN=lsq_… measure_pages.py URL --manifest FILE [--runs 50] [--warmup 5]
                                                  [--target-ms 50] [--out results.json]

1. Gives the cache and jobs pages something to show: three normalize jobs (POST /v1/normalize) over
   25 and the next 25 adapters of the manifest (from a fifth of the way in, so none is on a measured
   listing page) at rank 4, and the first 25 again at rank 8, awaited until done (75 cache entries, 3
   jobs); the one-adapter page shows the first of them, with its two cached squeezes.
2. Signs in as a browser does: GET /ui/sign-in (keeps the lsq_session cookie, reads the hidden csrf
   input), POST /ui/sign-in as application/x-www-form-urlencoded with csrf and token, keeps the new
   cookie from the 303 (checked on /ui/jobs, so the adapters pages' first requests stay cold).
3. For each page, in the order of PAGES, on one keep-alive connection with that cookie: --warmup
   requests (the first of them reported apart as "cold") then --runs measured ones, one after
   another. Each records the Server-Timing `render;dur=` (server-side ms) and the client-side time
   from sending the request to the last byte of the body. Every answer must be 200 text/html with a
   Server-Timing header and the page's expected text (else the script exits non-zero).
4. The reference, in the same run: GET /v1/adapters?limit=50&offset=5000 with the bearer token
   (client-side time only), measured the same way; "÷ API" is a page's client median over its.
Prints the table (medians, min–max, PASS/FAIL of the server-side median against --target-ms) and
writes every sample to --out.
"""

import argparse
import csv
import http.client
import json
import os
import re
import statistics
import sys
import time
import urllib.parse


def log(msg=""):
    print(msg, flush=True)


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, host, port, headers=None):
        self.host, self.port, self.headers = host, port, dict(headers or {})
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                start = time.perf_counter()
                self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
                resp = self.conn.getresponse()
                data = resp.read()
                elapsed = (time.perf_counter() - start) * 1000
                if (resp.getheader("Connection") or "").lower() == "close":
                    self.close()
                return resp.status, resp.headers, data, elapsed
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def cookie_from(headers, name):
    for value in headers.get_all("Set-Cookie") or []:
        first = value.split(";", 1)[0]
        if first.startswith(name + "="):
            return first.split("=", 1)[1]
    return None


def seed_jobs(api, manifest):
    # From a fifth of the way in: none of these is on a measured page (whose first request would then
    # find its descriptions decoded already by the squeezes).
    start = len(manifest) // 5
    names = [row["name"] for row in manifest][start:start + 50]
    specs = [(names[0:25], 4), (names[25:50], 4), (names[0:25], 8)]
    t0 = time.monotonic()
    ids = []
    for adapters, rank in specs:
        status, _, data, _ = api.request("POST", "/v1/normalize", json.dumps({"adapters": adapters, "rank": rank}).encode(),
                                         {"Content-Type": "application/json"})
        if status != 202:
            sys.exit(f"POST /v1/normalize: {status} {data[:300]!r}")
        ids.append(json.loads(data)["id"])
    states = {}
    while time.monotonic() - t0 < 300:
        for job in ids:
            status, _, data, _ = api.request("GET", f"/v1/jobs/{job}")
            states[job] = json.loads(data)["state"] if status == 200 else f"HTTP {status}"
        if all(s not in ("queued", "running") for s in states.values()):
            break
        time.sleep(0.25)
    log(f"seeded: 3 normalize jobs over 75 adapter squeezes in {time.monotonic() - t0:.1f} s "
        f"(states: {', '.join(sorted(states.values()))})")
    return names[0]


def sign_in(host, port, token):
    browser = Client(host, port, {"Accept": "text/html", "User-Agent": "dashboard-bench"})
    status, headers, data, _ = browser.request("GET", "/ui/sign-in")
    session = cookie_from(headers, "lsq_session")
    match = re.search(rb'name="csrf" value="([0-9a-f]+)"', data)
    if status != 200 or not session or not match:
        sys.exit(f"GET /ui/sign-in: {status}, cookie {bool(session)}, csrf {bool(match)}")
    form = urllib.parse.urlencode({"csrf": match.group(1).decode(), "next": "/ui/adapters", "token": token}).encode()
    status, headers, data, _ = browser.request("POST", "/ui/sign-in", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"lsq_session={session}",
        "Origin": f"http://{host}:{port}", "Sec-Fetch-Site": "same-origin"})
    signed = cookie_from(headers, "lsq_session")
    if status != 303 or not signed or signed == session:
        sys.exit(f"POST /ui/sign-in: {status} {data[:300]!r}")
    browser.headers["Cookie"] = f"lsq_session={signed}"
    # Checked on the jobs page: the adapters pages' first requests are measured as cold.
    status, _, data, _ = browser.request("GET", "/ui/jobs")
    if status != 200 or b'action="/ui/sign-out"' not in data:
        sys.exit(f"signed-in GET /ui/jobs: {status} (no sign-out form: the session did not take)")
    log("signed in: session cookie from POST /ui/sign-in (303), CSRF checked")
    return browser


def server_ms(headers):
    match = re.search(r"render;dur=([0-9.]+)", headers.get("Server-Timing") or "")
    return float(match.group(1)) if match else None


def measure(client, path, expect, warmup, runs, html=True):
    cold, samples, size = None, [], 0
    for i in range(warmup + runs):
        status, headers, data, client_ms = client.request("GET", path)
        srv = server_ms(headers) if html else None
        problem = None
        if status != 200:
            problem = f"status {status}"
        elif html and srv is None:
            problem = "no Server-Timing"
        elif html and not (headers.get("Content-Type") or "").startswith("text/html"):
            problem = f"Content-Type {headers.get('Content-Type')}"
        elif expect and expect.encode() not in data:
            problem = f"no {expect!r} in the page"
        if problem:
            sys.exit(f"GET {path}: {problem}: {data[:400]!r}")
        size = len(data)
        if i == 0:
            cold = (srv, client_ms)
        if i >= warmup:
            samples.append((srv, client_ms))
    return {"path": path, "cold": cold, "samples": samples, "bytes": size, "body": data}


def med(values):
    return statistics.median(values) if values else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url")
    p.add_argument("--manifest", required=True)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--target-ms", type=float, default=50)
    p.add_argument("--out")
    args = p.parse_args()
    token = os.environ["LORA_SQUEEZE_TOKEN"]
    url = urllib.parse.urlsplit(args.url)
    host, port = url.hostname, url.port

    with open(args.manifest) as f:
        manifest = list(csv.DictReader(f, delimiter="\t"))
    count = len(manifest)
    api = Client(host, port, {"Authorization": f"Bearer {token}"})
    one = seed_jobs(api, manifest)
    row = next(r for r in manifest if r["name"] == one)
    team3 = sum(1 for r in manifest if r["name"].startswith("team-03/"))
    bases = {}
    for r in manifest:
        bases[r["base_model"]] = bases.get(r["base_model"], 0) + 1
    base = sorted(bases)[0]
    last = (count - 1) // 50 * 50
    middle = count // 2 // 50 * 50
    time.sleep(1)  # let the hit writer's batch and the WAL settle after the jobs

    browser = sign_in(host, port, token)
    quoted_one = urllib.parse.quote(one, safe="/")
    # (label, path, text the answer must contain)
    pages = [
        ("first page", "/ui/adapters", f"{count} adapters"),
        ("a middle page", f"/ui/adapters?offset={middle}", f"{count} adapters"),
        ("the last page", f"/ui/adapters?offset={last}", f"{count} adapters"),
        ("a name prefix", "/ui/adapters?prefix=team-03/", f"{team3} adapters named team-03/"),
        ("a base model", "/ui/adapters?base_model=" + urllib.parse.quote(base, safe=""),
         f"{bases[base]} adapters on {base}"),
        (f"one adapter (r {row['rank']}, {row['modules']} modules), default rank",
         f"/ui/adapters/{quoted_one}", one),
        ("one adapter, rank 8", f"/ui/adapters/{quoted_one}?rank=8", "At rank 8"),
        ("the cache", "/ui/cache", "entries, most recently used first"),
        ("the jobs (3)", "/ui/jobs", "3 jobs"),
        (f"normalize preview ({min(team3, 500)} adapters' spectra read)", "/ui/normalize?prefix=team-03/",
         f"What {team3} adapters would keep"),
    ]
    log(f"measuring: {len(pages)} pages + the API listing, {args.warmup} warm-up (the first reported as cold) "
        f"then {args.runs} measured requests each, sequential, one keep-alive connection")
    t0 = time.monotonic()
    results = []
    for label, path, expect in pages:
        r = measure(browser, path, expect, args.warmup, args.runs)
        r["label"] = label
        results.append(r)
    ref_path = f"/v1/adapters?limit=50&offset={middle}"
    ref = measure(api, ref_path, '"items"', args.warmup, args.runs, html=False)
    ref["label"] = "reference: the JSON API's listing of the middle page (bearer token)"
    measuring = time.monotonic() - t0
    api_ms = med([c for _, c in ref["samples"]])
    for r in results + [ref]:
        body = r.pop("body")
        if r["path"] == "/ui/cache":
            m = re.search(rb'id="cache-entries">([0-9]+)<', body)
            r["label"] += f" ({m.group(1).decode() if m else '?'} entries, 50 a page)"
        elif r["path"].startswith(f"/ui/adapters/{quoted_one}"):
            m = re.search(rb'([0-9]+) cached form', body)
            r["label"] += f", {m.group(1).decode() if m else 'no'} cached squeezes listed"

    # The table.
    header = ("| page | cold: server / client ms | server ms, median (min–max) | client ms, median | KiB "
              f"| ÷ API (client) | server median ≤ {args.target_ms:g} ms |")
    lines = [header, "|" + "---|" * 7]
    failed = []
    for r in results:
        srv = [s for s, _ in r["samples"]]
        cli = [c for _, c in r["samples"]]
        ok = med(srv) <= args.target_ms
        if not ok:
            failed.append(r["label"])
        r["summary"] = {"server_median": med(srv), "server_min": min(srv), "server_max": max(srv),
                        "client_median": med(cli), "ratio_to_api": med(cli) / api_ms, "pass": ok}
        lines.append(f"| `{r['path']}`: {r['label']} | {r['cold'][0]:.2f} / {r['cold'][1]:.2f} "
                     f"| **{med(srv):.2f}** ({min(srv):.2f}–{max(srv):.2f}) | {med(cli):.2f} | {r['bytes'] / 1024:.1f} "
                     f"| {med(cli) / api_ms:.2f}× | {'PASS' if ok else 'FAIL'} |")
    cli = [c for _, c in ref["samples"]]
    ref["summary"] = {"client_median": api_ms, "client_min": min(cli), "client_max": max(cli)}
    lines.append(f"| `GET {ref_path}`: {ref['label']} | – / {ref['cold'][1]:.2f} | – | **{api_ms:.2f}** ({min(cli):.2f}–{max(cli):.2f}) "
                 f"| {ref['bytes'] / 1024:.1f} | 1 | – |")
    log("")
    log("\n".join(lines))
    log("")
    log(f"measured in {measuring:.1f} s; {'every page PASSES' if not failed else 'FAIL: ' + '; '.join(failed)} "
        f"(server-side median against {args.target_ms:g} ms)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"pages": results, "reference": ref, "adapters": count, "runs": args.runs,
                       "warmup": args.warmup, "target_ms": args.target_ms}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
