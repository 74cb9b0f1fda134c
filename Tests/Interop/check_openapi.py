#!/usr/bin/env python3
"""OpenAPI check: the service's openapi.json is a valid OpenAPI 3.1 document (openapi-spec-validator,
an implementation independent of ours), and holds together the way the service promises.

    pip install openapi-spec-validator        # once; this script installs nothing
    python3 Tests/Interop/check_openapi.py Sources/Service/Resources/openapi.json

Checks: JSON with 2-space indentation; the 3.1 meta-schema and the validator's semantic rules;
info; every operation has a unique operationId, a summary, declared path parameters and problem+json
errors; every $ref resolves; the components the issue names exist; schema examples validate
against their schemas; and, when the Swift sources sit beside the file, the paths equal the routes
registered in Sources/Service/Routes (`t.add(.method, "/path/:param")`). The Swift test
OpenAPITests checks the same set against the running code's `AdapterService.registeredRoutes`.

Prints one 'ok'/'FAIL' line per check and ends with 'openapi: N passed, N failed'; exits non-zero
on any failure.
"""
import json
import os
import re
import sys

RESULTS = {"passed": 0, "failed": 0}
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
REQUIRED_SCHEMAS = ("Adapter", "AdapterModule", "Candidate", "AdapterPage", "Job", "NormalizeRequest",
                    "NormalizeOutcome", "Spectrum", "Problem")


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    return ok


def finish():
    print(f"openapi: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item, item[method]


def walk_refs(node, where="#"):
    """Every ("$ref" value, JSON pointer of the node holding it) in the document."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"], where
        for key, value in node.items():
            yield from walk_refs(value, where + "/" + key.replace("~", "~0").replace("/", "~1"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk_refs(value, f"{where}/{i}")


def resolve(doc, pointer):
    """The node at a local JSON pointer ("#/components/schemas/Adapter"), or raises KeyError."""
    if not pointer.startswith("#"):
        raise KeyError(f"not a local reference: {pointer}")
    node = doc
    for raw in pointer[1:].split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 16:
        node = resolve(doc, node["$ref"])
        seen += 1
    return node


def registered_routes(spec_path):
    """(method, OpenAPI path) of every `t.add(.method, "pattern")` in Sources/Service/Routes, or None."""
    routes_dir = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(spec_path)), "..", "Routes"))
    if not os.path.isdir(routes_dir):
        return None
    found = set()
    for name in sorted(os.listdir(routes_dir)):
        if not name.endswith(".swift"):
            continue
        with open(os.path.join(routes_dir, name), encoding="utf-8") as f:
            for method, pattern in re.findall(r'\bt\.add\(\s*\.(\w+)\s*,\s*"([^"]+)"', f.read()):
                path = "/".join("{" + s[1:] + "}" if s.startswith(":") else s for s in pattern.split("/"))
                found.add((method.lower(), path))
    return found


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        sys.exit(2)
    path = sys.argv[1]
    try:
        from openapi_spec_validator import OpenAPIV31SpecValidator
        from openapi_schema_validator import OAS31Validator
    except ImportError as e:
        check("import openapi_spec_validator", False, f"{e} (pip install openapi-spec-validator)")
        finish()

    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        check("parses as JSON", False, str(e))
        finish()
    check("parses as JSON", isinstance(doc, dict), "the top level is not an object")
    check("formatted with 2-space indentation",
          text == json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
          "differs from json.dumps(indent=2) (reformat it)")
    check("openapi is 3.1.0", doc.get("openapi") == "3.1.0", repr(doc.get("openapi")))

    unresolved = []
    for pointer, where in walk_refs(doc):
        try:
            resolve(doc, pointer)
        except (KeyError, IndexError, ValueError, TypeError):
            unresolved.append(f"{pointer} (at {where})")
    check("every $ref resolves", not unresolved, unresolved[:10])
    if unresolved:
        finish()  # the checks below follow references

    try:
        errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                  for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    except Exception as e:  # the validator raises rather than reports on some broken documents
        errors = [f"the validator stopped: {type(e).__name__}: {str(e)[:300]}"]
    check("valid OpenAPI 3.1 (openapi-spec-validator)", not errors, "; ".join(errors[:5]))

    info = doc.get("info", {})
    check("info: title lora-squeeze, version 0.1.0, a description",
          info.get("title") == "lora-squeeze" and info.get("version") == "0.1.0" and bool(info.get("description")),
          repr({k: info.get(k) for k in ("title", "version")}))

    ops = list(operations(doc))
    check("has operations", len(ops) > 0, "no operations under paths")
    check("no HEAD operations (GET answers HEAD)", all(m != "head" for _, m, _, _ in ops),
          [f"HEAD {p}" for p, m, _, _ in ops if m == "head"])

    ids = [op.get("operationId") for _, _, _, op in ops]
    missing = [f"{m.upper()} {p}" for p, m, _, op in ops if not op.get("operationId")]
    dupes = sorted({i for i in ids if i and ids.count(i) > 1})
    check("every operation has an operationId", not missing, missing)
    check("operationIds are unique", not dupes, dupes)
    no_text = [f"{m.upper()} {p}" for p, m, _, op in ops if not op.get("summary") or not op.get("description")]
    check("every operation has a summary and a description", not no_text, no_text)

    undeclared = []
    for p, m, item, op in ops:
        declared = {deref(doc, prm)["name"] for prm in item.get("parameters", []) + op.get("parameters", [])
                    if deref(doc, prm).get("in") == "path"}
        for name in re.findall(r"\{([^}]+)\}", p):
            if name not in declared:
                undeclared.append(f"{m.upper()} {p}: {{{name}}}")
        for name in declared - set(re.findall(r"\{([^}]+)\}", p)):
            undeclared.append(f"{m.upper()} {p}: declares path parameter {name} not in the template")
    check("path parameters match the path templates", not undeclared, undeclared)

    bad_errors = []
    for p, m, _, op in ops:
        codes = [c for c in op.get("responses", {}) if c == "default" or c[:1] in ("4", "5")]
        if "default" not in codes and not any(c[:1] == "4" for c in codes):
            bad_errors.append(f"{m.upper()} {p}: no error responses")
        for code in codes:
            response = deref(doc, op["responses"][code])
            content = response.get("content", {})
            if p == "/readyz" and code == "503":
                continue  # readiness reports its state as JSON, not as a problem (documented)
            schema = content.get("application/problem+json", {}).get("schema", {})
            if schema.get("$ref") != "#/components/schemas/Problem":
                bad_errors.append(f"{m.upper()} {p} {code}: not application/problem+json with Problem")
    check("every operation's errors are application/problem+json Problems", not bad_errors, bad_errors[:10])

    no_success = [f"{m.upper()} {p}" for p, m, _, op in ops
                  if not any(c[:1] == "2" for c in op.get("responses", {}))]
    check("every operation has a 2xx response", not no_success, no_success)

    schemas = doc.get("components", {}).get("schemas", {})
    absent = [s for s in REQUIRED_SCHEMAS if s not in schemas]
    check("components/schemas has " + ", ".join(REQUIRED_SCHEMAS), not absent, absent)

    problem = schemas.get("Problem", {})
    check("Problem has RFC 9457 type, title, status, detail and requestId",
          all(k in problem.get("properties", {}) for k in ("type", "title", "status", "detail", "requestId"))
          and set(problem.get("required", [])) >= {"type", "title", "status", "detail"},
          sorted(problem.get("properties", {})))

    bad_examples = []
    for name, schema in schemas.items():
        resolver_doc = dict(schema)
        resolver_doc["components"] = doc["components"]  # so "#/components/…" resolves inside the validator
        validator = OAS31Validator(resolver_doc)
        for i, example in enumerate(schema.get("examples", [])):
            for e in validator.iter_errors(example):
                bad_examples.append(f"{name} example {i}: {e.message}")
    check("schema examples validate against their schemas", not bad_examples, bad_examples[:5])

    routes = registered_routes(path)
    if routes is None:
        print("skip paths equal the routes in Sources/Service/Routes (no sources beside the file)")
    else:
        documented = {(m, p) for p, m, _, _ in ops}
        check(f"paths equal the {len(routes)} routes registered in Sources/Service/Routes",
              documented == routes and len(routes) > 0,
              f"not documented: {sorted(routes - documented)}; not registered: {sorted(documented - routes)}")
    finish()


if __name__ == "__main__":
    main()
