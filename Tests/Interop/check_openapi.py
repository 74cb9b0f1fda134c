#!/usr/bin/env python3
"""OpenAPI check: the service's openapi.json is a valid OpenAPI 3.1 document (openapi-spec-validator,
an implementation independent of ours), and holds together the way the service promises.

    pip install openapi-spec-validator        # once; this script installs nothing
    python3 Tests/Interop/check_openapi.py Sources/Service/Resources/openapi.json

Checks: JSON with 2-space indentation; the 3.1 meta-schema and the validator's semantic rules;
info; every operation has a unique operationId, a summary, declared path parameters and problem+json
errors; every $ref resolves; the components the issue names exist; every example (schema `examples`
anywhere in a schema, parameter, header and media-type `example`/`examples`) validates against its
schema; access: the bearer security scheme, `security: []` on open operations, and on every scoped
one `security: [{bearer: []}]`, `x-required-scope`, a description ending "Needs a token with scope
X." and 401/403/429 responses referenced from components; namespaced twins (`{namespace}/{ref}`,
`{namespace}/{name}`) answer as their originals and take one name part that is never a digest nor
a reserved word; and, when the Swift sources sit beside the file, the paths equal the routes
registered in Sources/Service/Routes (`t.add(.method, "/path/:param", access: …)`, `t.addOpen(…)`, and for
`t.addNamed` also its twin with `:namespace` before the first `:ref`/`:name`), each with the
registered access (`.open`, `.metrics`, `.scope(.read|.write|.admin)`). The Swift tests
OpenAPITests and RouteAccessTableTests check the same against the running code.

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
                    "NormalizeOutcome", "Spectrum", "Problem", "Token", "TokenCreated", "AuditEntry")
SCOPES = ("read", "write", "admin")
BEARER = {"bearer": []}
# Words that follow a name in the paths: never the second part of a namespaced name (AdapterName).
RESERVED_LOCAL_PARTS = ("files", "squeezed", "merged", "merged.safetensors", "delta.safetensors", "spectrum", "spectrum.svg", "pin")
# The parameters `addNamed` splits in two (RouteTable.namedParameters).
NAMED_PARAMETERS = ("ref", "name")


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


REGISTRATION = re.compile(r'\b(?:t\.(add|addNamed|addOpen)\(|(addPage)\(&t,)\s*\.(\w+)\s*,\s*"([^"]+)"')
ACCESS = re.compile(r'^\s*,\s*access:\s*\.(open|metrics|scope\(\s*\.(\w+)\s*\))')


def namespaced(pattern):
    """`/v1/adapters/:ref/spectrum` → `/v1/adapters/:namespace/:ref/spectrum` (RouteTable.namespaced)."""
    segments = pattern.split("/")
    for i, segment in enumerate(segments):
        if segment.startswith(":") and segment[1:] in NAMED_PARAMETERS:
            return "/".join(segments[:i] + [":namespace"] + segments[i:])
    return pattern


def openapi_path(pattern):
    return "/".join("{" + s[1:] + "}" if s.startswith(":") else s for s in pattern.split("/"))


def registered_routes(spec_path):
    """{(method, OpenAPI path): access} of every `t.add(.method, "pattern", access: …)` and
    `t.addNamed(…)` (both the route and its namespaced twin) in Sources/Service/Routes, with access
    "open", "metrics", a scope, or None when the registration's access cannot be read; None when
    there are no sources beside the file."""
    routes_dir = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(spec_path)), "..", "Routes"))
    if not os.path.isdir(routes_dir):
        return None
    found = {}
    for name in sorted(os.listdir(routes_dir)):
        if not name.endswith(".swift"):
            continue
        with open(os.path.join(routes_dir, name), encoding="utf-8") as f:
            text = f.read()
        for match in REGISTRATION.finditer(text):
            kind, page, method, pattern = match.groups()
            kind = kind or page
            following = text[match.end():match.end() + 200]
            access_match = ACCESS.match(following)
            if kind == "addPage" and re.match(r'^[^{]*named:\s*true', following):   # a dashboard page with its twin
                kind = "addNamed"
            access = None
            if access_match:
                access = access_match.group(2) if access_match.group(2) else access_match.group(1)
            elif kind == "addOpen":   # RouteTable.addOpen: open by definition (the fast-path probes)
                access = "open"
            patterns = [pattern, namespaced(pattern)] if kind == "addNamed" else [pattern]
            for p in patterns:
                found[(method.lower(), openapi_path(p))] = access
    return found


SESSION = {"session": []}


def doc_access(op):
    """The access an operation documents: "open", "metrics" (optional bearer), its x-required-scope
    (a dashboard page: its x-session-scope), or None."""
    security = op.get("security")
    if security == []:
        return "open"
    if security == [SESSION]:
        return op.get("x-session-scope")
    if isinstance(security, list) and {} in security and BEARER in security:
        return "metrics"
    return op.get("x-required-scope")


def subschemas(schema):
    """The schemas directly inside a schema (JSON Schema 2020-12 applicators)."""
    if not isinstance(schema, dict):
        return
    for key in ("properties", "patternProperties", "dependentSchemas", "$defs"):
        for value in (schema.get(key) or {}).values():
            yield value
    for key in ("items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "not", "if",
                "then", "else", "contains", "propertyNames"):
        if isinstance(schema.get(key), dict):
            yield schema[key]
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for value in schema.get(key) or []:
            yield value


def example_errors(doc, validator_class):
    """Every example in the document that does not validate against its schema: `examples` of any
    schema (components, parameters, headers, media types, and every subschema), and `example` /
    `examples` of parameters, headers and media types."""
    errors = []

    def validate(schema, value, where):
        resolver_doc = dict(schema) if isinstance(schema, dict) else {}
        resolver_doc["components"] = doc.get("components", {})  # "#/components/…" resolves inside the validator
        if isinstance(schema, dict) and "$ref" in schema:
            resolver_doc = {"allOf": [schema], "components": doc.get("components", {})}
        for e in validator_class(resolver_doc).iter_errors(value):
            errors.append(f"{where}: {e.message}")

    seen = set()

    def walk_schema(schema, where):
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        examples = schema.get("examples")
        if isinstance(examples, list):
            for i, example in enumerate(examples):
                validate(schema, example, f"{where} example {i}")
        if "example" in schema:
            validate(schema, schema["example"], f"{where} example")
        for sub in subschemas(schema):
            walk_schema(sub, where + "/…")

    def walk_holder(holder, where):
        """A parameter, header or media type: `schema` with `example` or `examples` beside it."""
        holder = deref(doc, holder)
        if not isinstance(holder, dict) or "schema" not in holder:
            return
        schema = holder["schema"]
        walk_schema(schema, where + "/schema")
        if "example" in holder:
            validate(schema, holder["example"], f"{where} example")
        for key, example in (holder.get("examples") or {}).items():
            example = deref(doc, example)
            if isinstance(example, dict) and "value" in example:
                validate(schema, example["value"], f"{where} example {key}")

    components = doc.get("components", {})
    for name, schema in components.get("schemas", {}).items():
        walk_schema(schema, name)
    for name, parameter in components.get("parameters", {}).items():
        walk_holder(parameter, f"parameters/{name}")
    for name, header in components.get("headers", {}).items():
        walk_holder(header, f"headers/{name}")

    def walk_response(response, where):
        response = deref(doc, response)
        for name, header in (response.get("headers") or {}).items():
            walk_holder(header, f"{where} header {name}")
        for media, content in (response.get("content") or {}).items():
            walk_holder(content, f"{where} {media}")

    for name, response in components.get("responses", {}).items():
        walk_response(response, f"responses/{name}")
    for p, m, item, op in operations(doc):
        where = f"{m.upper()} {p}"
        for parameter in item.get("parameters", []) + op.get("parameters", []):
            walk_holder(parameter, f"{where} parameter")
        body = deref(doc, op.get("requestBody", {}))
        for media, content in (body.get("content") or {}).items():
            walk_holder(content, f"{where} body {media}")
        for code, response in op.get("responses", {}).items():
            walk_response(response, f"{where} {code}")
    return errors


def main():
    if len(sys.argv) != 2:
        print("usage: " + __doc__.strip().splitlines()[4].strip(), file=sys.stderr)
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
            if "dashboard" in op.get("tags", []) and "text/html" in content:
                continue  # a dashboard page answers an error with a page a person reads
            schema = content.get("application/problem+json", {}).get("schema", {})
            if schema.get("$ref") != "#/components/schemas/Problem":
                bad_errors.append(f"{m.upper()} {p} {code}: not application/problem+json with Problem")
    check("every operation's errors are application/problem+json Problems", not bad_errors, bad_errors[:10])

    # A deprecated operation may instead only redirect (a moved route answers 301 to its successor); a
    # dashboard form answers its success with a redirect (303, post/redirect/get).
    no_success = [f"{m.upper()} {p}" for p, m, _, op in ops
                  if not any(c[:1] == "2" or (op.get("deprecated") and c == "301")
                             or ("dashboard" in op.get("tags", []) and m == "post" and c == "303")
                             for c in op.get("responses", {}))]
    check("every operation has a 2xx response (a deprecated one: 2xx or 301; a dashboard form: 303)", not no_success, no_success)

    schemas = doc.get("components", {}).get("schemas", {})
    absent = [s for s in REQUIRED_SCHEMAS if s not in schemas]
    check("components/schemas has " + ", ".join(REQUIRED_SCHEMAS), not absent, absent)

    problem = schemas.get("Problem", {})
    check("Problem has RFC 9457 type, title, status, detail and requestId",
          all(k in problem.get("properties", {}) for k in ("type", "title", "status", "detail", "requestId"))
          and set(problem.get("required", [])) >= {"type", "title", "status", "detail"},
          sorted(problem.get("properties", {})))

    bad_examples = example_errors(doc, OAS31Validator)
    check("every example validates against its schema", not bad_examples, bad_examples[:5])

    check_access(doc, ops, OAS31Validator)

    routes = registered_routes(path)
    if routes is None:
        print("skip paths equal the routes in Sources/Service/Routes (no sources beside the file)")
        print("skip access equals the access registered in Sources/Service/Routes (no sources beside the file)")
    else:
        unread = sorted(f"{m.upper()} {p}" for (m, p), access in routes.items() if access is None)
        check("every registration in Sources/Service/Routes declares its access", not unread, unread)
        documented = {(m, p) for p, m, _, _ in ops}
        check(f"paths equal the {len(routes)} routes registered in Sources/Service/Routes (namespaced twins included)",
              documented == set(routes) and len(routes) > 0,
              f"not documented: {sorted(set(routes) - documented)}; not registered: {sorted(documented - set(routes))}")
        wrong = [f"{m.upper()} {p}: registered {routes[(m, p)]}, documented {doc_access(op)}"
                 for p, m, _, op in ops if (m, p) in routes and routes[(m, p)] != doc_access(op)]
        check("every operation documents the access registered (open, metrics or x-required-scope)", not wrong, wrong[:10])
    finish()


def check_access(doc, ops, validator_class):
    """The access rules of the document itself: the bearer scheme, open and scoped operations, the
    401/403/429 answers, and the namespaced twins."""
    components = doc.get("components", {})
    bearer = components.get("securitySchemes", {}).get("bearer", {})
    check("components/securitySchemes/bearer is HTTP bearer with a bearerFormat",
          bearer.get("type") == "http" and str(bearer.get("scheme", "")).lower() == "bearer"
          and bool(bearer.get("bearerFormat")), repr(bearer))
    check("security: [{bearer: []}] at the top level (scoped by default)", doc.get("security") == [BEARER],
          repr(doc.get("security")))

    problem_ref = "#/components/schemas/Problem"
    wanted = {"Unauthorized": ("401", "WWW-Authenticate"), "Forbidden": ("403", "WWW-Authenticate"),
              "TooManyAuthFailures": ("429", "Retry-After")}
    bad_components = []
    for name, (_, header) in wanted.items():
        response = components.get("responses", {}).get(name)
        if not isinstance(response, dict):
            bad_components.append(f"{name}: missing")
            continue
        schema = response.get("content", {}).get("application/problem+json", {}).get("schema", {})
        if schema.get("$ref") != problem_ref:
            bad_components.append(f"{name}: not application/problem+json with Problem")
        if header not in response.get("headers", {}):
            bad_components.append(f"{name}: no {header} header")
    check("components/responses has Unauthorized, Forbidden and TooManyAuthFailures (Problem, with their headers)",
          not bad_components, bad_components)

    # Dashboard pages: a session cookie, not a bearer token; refused with a redirect to sign in (303)
    # or a page (403), not problem+json.
    pages = [(p, m, op) for p, m, _, op in ops if op.get("security") == [SESSION]]
    bad_pages = [f"{m.upper()} {p}" for p, m, op in pages
                 if op.get("x-session-scope") not in SCOPES or "303" not in op.get("responses", {})
                 or "403" not in op.get("responses", {}) or "x-required-scope" in op
                 or not str(op.get("description", "")).endswith(f"Needs a dashboard session with scope {op.get('x-session-scope')}.")]
    check(f"dashboard pages ({len(pages)}) have security [session], x-session-scope, 303 and 403, and say the scope",
          not bad_pages and len(pages) > 0, bad_pages)
    session = components.get("securitySchemes", {}).get("session", {})
    check("components/securitySchemes/session is the lsq_session cookie",
          session.get("type") == "apiKey" and session.get("in") == "cookie" and session.get("name") == "lsq_session", repr(session))
    scoped = [(p, m, op) for p, m, _, op in ops if doc_access(op) not in ("open", "metrics") and op.get("security") != [SESSION]]
    open_ops = [(p, m, op) for p, m, _, op in ops if doc_access(op) == "open"]
    optional = [(p, m, op) for p, m, _, op in ops if doc_access(op) == "metrics"]
    bad_open = [f"{m.upper()} {p}" for p, m, op in open_ops + optional if "x-required-scope" in op]
    check(f"open operations ({len(open_ops)}, and {len(optional)} with an optional token) have no x-required-scope",
          not bad_open, bad_open)

    bad_scoped = []
    for p, m, op in scoped:
        where = f"{m.upper()} {p}"
        scope = op.get("x-required-scope")
        if scope not in SCOPES:
            bad_scoped.append(f"{where}: x-required-scope {scope!r} (security {op.get('security')!r})")
            continue
        if op.get("security", doc.get("security")) != [BEARER]:
            bad_scoped.append(f"{where}: security {op.get('security')!r}, not [{{bearer: []}}]")
        if not str(op.get("description", "")).endswith(f"Needs a token with scope {scope}."):
            bad_scoped.append(f"{where}: description does not end 'Needs a token with scope {scope}.'")
    check(f"scoped operations ({len(scoped)}) have security [bearer], x-required-scope and 'Needs a token with scope X.'",
          not bad_scoped, bad_scoped[:10])

    bad_answers = []
    for p, m, op in scoped:
        where = f"{m.upper()} {p}"
        responses = op.get("responses", {})
        # The hub protocol's routes answer the same with the Hub's X-Error-* headers added (Hub… responses).
        prefix = "Hub" if p.startswith("/hub/") else ""
        for status, name in (("401", "Unauthorized"), ("403", "Forbidden")):
            if responses.get(status) != {"$ref": f"#/components/responses/{prefix}{name}"}:
                bad_answers.append(f"{where}: {status} is not #/components/responses/{prefix}{name}")
        too_many = responses.get("429", {})
        target = deref(doc, too_many) if isinstance(too_many, dict) else {}
        if not str(too_many.get("$ref", "")).startswith("#/components/responses/") \
                or "too-many-auth-failures" not in target.get("description", "") \
                or "Retry-After" not in target.get("headers", {}):
            bad_answers.append(f"{where}: 429 is not a components response covering /problems/too-many-auth-failures with Retry-After")
    for p, m, op in optional:
        responses = op.get("responses", {})
        if responses.get("401") != {"$ref": "#/components/responses/Unauthorized"} or "429" not in responses:
            bad_answers.append(f"{m.upper()} {p}: an optional token can still be refused (401, 429)")
    check("scoped operations reference 401 Unauthorized, 403 Forbidden and a 429 for auth failures",
          not bad_answers, bad_answers[:10])

    # Namespaced twins: `/…/{namespace}/{ref}/…` is its original with the name as two segments.
    by_key = {(m, p): op for p, m, _, op in ops}
    items = doc.get("paths", {})
    bad_twins = []
    twins = [(p, m, op) for p, m, _, op in ops if "{namespace}" in p]
    for p, m, op in twins:
        where = f"{m.upper()} {p}"
        original = None
        for name in NAMED_PARAMETERS:
            if "{namespace}/{" + name + "}" in p:
                original = p.replace("{namespace}/{" + name + "}", "{" + name + "}", 1)
                local = name
        if original is None or (m, original) not in by_key:
            bad_twins.append(f"{where}: no original operation")
            continue
        source = by_key[(m, original)]
        if sorted(op.get("responses", {})) != sorted(source.get("responses", {})):
            bad_twins.append(f"{where}: responses {sorted(op.get('responses', {}))} differ from the original's")
        if doc_access(op) != doc_access(source):
            bad_twins.append(f"{where}: access {doc_access(op)} differs from the original's {doc_access(source)}")
        declared = {}
        for prm in items[p].get("parameters", []) + op.get("parameters", []):
            prm = deref(doc, prm)
            if prm.get("in") == "path":
                declared[prm["name"]] = prm.get("schema", {})
        for name, accepts, refuses in (
                ("namespace", ["team-a", "a", "A_b.c-d", "x" * 128, "squeezed"],
                 ["", "-a", ".a", "a/b", "0" * 64, "x" * 129]),
                (local, ["chat-v2", "base", "x" * 128],
                 ["", "-a", ".a", "a/b", "0" * 64, "x" * 129] + list(RESERVED_LOCAL_PARTS))):
            schema = dict(declared.get(name, {}))
            if not schema:
                bad_twins.append(f"{where}: {{{name}}} has no schema")
                continue
            validator = validator_class({"allOf": [schema], "components": doc.get("components", {})})
            wrongly_refused = [v for v in accepts if not validator.is_valid(v)]
            wrongly_accepted = [v for v in refuses if validator.is_valid(v)]
            if wrongly_refused or wrongly_accepted:
                bad_twins.append(f"{where}: {{{name}}} refuses {wrongly_refused}, accepts {[v[:20] for v in wrongly_accepted]}")
    check(f"namespaced twins ({len(twins)}) answer as their originals; {{namespace}} and the name are one name part,"
          " never a digest or a reserved word", bool(twins) and not bad_twins, bad_twins[:10] or "no twins")

    # A name (AdapterName): one or two parts, the second never a reserved word.
    name_schema = components.get("schemas", {}).get("AdapterName")
    if name_schema is None:
        check("AdapterName takes `name` and `namespace/name`", False, "no AdapterName schema")
    else:
        validator = validator_class({"allOf": [{"$ref": "#/components/schemas/AdapterName"}],
                                     "components": components})
        accepts = ["my-adapter", "team-a/chat-v2", "squeezed/x", "x" * 128 + "/" + "y" * 128]
        refuses = ["", "a/b/c", "/a", "a/", "-a", "a/.b", "0" * 64, "a/" + "0" * 64, "0" * 64 + "/a",
                   "x" * 129] + ["team-a/" + w for w in RESERVED_LOCAL_PARTS]
        wrongly_refused = [v for v in accepts if not validator.is_valid(v)]
        wrongly_accepted = [v for v in refuses if validator.is_valid(v)]
        check("AdapterName takes `name` and `namespace/name`, refusing digests and reserved second parts",
              not wrongly_refused and not wrongly_accepted,
              f"refuses {wrongly_refused}, accepts {wrongly_accepted}")

    token = components.get("schemas", {}).get("Token", {})
    created = components.get("schemas", {}).get("TokenCreated", {})
    token_keys = {"id", "name", "scope", "namespace", "createdAt", "expiresAt", "lastUsedAt", "revokedAt", "state"}
    check("Token requires all of its keys (always present, null when empty); TokenCreated adds the secret `token`",
          set(token.get("required", [])) == set(token.get("properties", {})) == token_keys
          and set(created.get("required", [])) == set(created.get("properties", {})) == token_keys | {"token"},
          f"Token {sorted(token.get('required', []))}, TokenCreated {sorted(created.get('required', []))}")


if __name__ == "__main__":
    main()
