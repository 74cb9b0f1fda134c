"""Schemathesis hooks for Tests/Contract/run.sh (loaded through SCHEMATHESIS_HOOKS).

The server is seeded with one adapter (a name and its digest) and one finished normalize job; run.sh
passes them in CONTRACT_NAME, CONTRACT_DIGEST and CONTRACT_JOB. Generated path parameters are random
strings that almost never name anything stored, so without help every `{ref}` request is a 404. Here
a case whose path parameters were generated valid (positive) gets, in two cases out of three, `{ref}`
replaced by the seeded name or digest (and `{id}` by the seeded job; in /v1/tokens/{id}, by the read
token seed.py made, CONTRACT_VICTIM; the hub routes' `{view}`, `{revision}` and `{file}` by ones that
exist), so that the 200/204/206/304/416/422 paths of every operation
are reached too. The choice is a function of the generated value (CRC-32), so a run with a fixed
--seed makes the same requests.

Authentication: run.sh starts the server with an admin token (CONTRACT_TOKEN) that schemathesis sends
on every request (-H) and seed.upload sends too. DELETE /v1/tokens/{id} must never revoke it (every
later request would be a 401): before_call, the last word before any request is sent (generated,
explicit example or stateful link alike), replaces an `{id}` that is one of the admin tokens' ids
(CONTRACT_ADMIN_IDS, comma-separated) by the read token's. The spec the binary serves may not
describe the token routes at all; then none of this applies.

`/v1/bases/{ref}` gets the seeded base model's name instead (seed.BASE_NAME), and the base and merged
routes' `{file}` a file the base has. Left alone: DELETE /v1/adapters/{ref}, DELETE /v1/names/{name},
DELETE /v1/bases/{ref} and DELETE /v1/base-names/{name} (they would remove the seed for
every later request), cases whose path parameters are the negated part (those test rejection), and
the stateful phase (its links carry real identifiers). A positive body of PUT /v1/names/{name} or
POST /v1/normalize gets the same treatment for its `adapter` / `adapters`, so that naming and
normalize jobs hit a real adapter (and POST /v1/extract's `base` and `tuned` the seeded base). A name pointed at the seed can then delete it through
DELETE /v1/adapters/{name}: after_call uploads it again (same content, same digest and name).
"""
import os
import re
import re
import sys
import zlib

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed  # noqa: E402  (this directory's seed.py)

BASE = os.environ.get("CONTRACT_BASE", "")
NAME = os.environ.get("CONTRACT_NAME", "")
DIGEST = os.environ.get("CONTRACT_DIGEST", "")
JOB = os.environ.get("CONTRACT_JOB", "")
ADMIN_IDS = {i for i in os.environ.get("CONTRACT_ADMIN_IDS", "").split(",") if i}
VICTIM = os.environ.get("CONTRACT_VICTIM", "")
TOKEN_PATH = "/v1/tokens/{id}"
# What an admin token's id becomes: the revocable read token, or a well-formed id that names nothing.
NOT_ADMIN = VICTIM if VICTIM and VICTIM not in ADMIN_IDS else "0" * 16


def _pick(value, choices):
    """The seeded value to use instead of `value`, or None to keep it (1 in 3)."""
    k = zlib.crc32(repr(value).encode()) % (len(choices) + 1)
    return choices[k] if k < len(choices) else None


def _positive(case, location):
    meta = case.meta
    if meta is None:  # an explicit example: valid by construction
        return True
    component = meta.components.get(location)
    return component is None or component.mode == GenerationMode.POSITIVE


@schemathesis.hook
def map_case(context, case):
    if not (NAME and DIGEST):
        return case
    method = case.method.upper()
    path = case.operation.path
    meta = case.meta
    if meta is not None and meta.phase.name.value == "stateful":
        return case
    if method == "DELETE" and path in ("/v1/adapters/{ref}", "/v1/names/{name}", "/v1/bases/{ref}", "/v1/base-names/{name}"):
        return case
    params = case.path_parameters
    if params and _positive(case, ParameterLocation.PATH):
        updated = dict(params)
        if "ref" in updated:
            # /v1/bases/{ref} names the seeded base; every other {ref}, the seeded adapter.
            choices = [seed.BASE_NAME] if path.startswith("/v1/bases/") else [NAME, DIGEST]
            choice = _pick(updated["ref"], choices)
            if choice is not None:
                updated["ref"] = choice
        # A file the seeded base (and so its merged model) has.
        if (path.startswith("/v1/bases/") or "/merged/" in path) and "file" in updated:
            choice = _pick(updated["file"], ["config.json", "model.safetensors"])
            if choice is not None:
                updated["file"] = choice
        # The hub routes: a view that exists (original, squeezed to rank 2: the seed has rank 4, or
        # merged at rank 2 into the seeded base), revision main, and a file an adapter repository or
        # the merged model repository has.
        if "view" in updated:
            choice = _pick(updated["view"], ["original", "r2", "r2-bf16", "merged-r2"])
            if choice is not None:
                updated["view"] = choice
        if "revision" in updated and _pick(updated["revision"], ["main"]) is not None:
            updated["revision"] = "main"
        if path.startswith("/hub/") and "file" in updated:
            choice = _pick(updated["file"], ["adapter_config.json", "adapter_model.safetensors", "config.json", "model.safetensors"])
            if choice is not None:
                updated["file"] = choice
        if "id" in updated:
            target = VICTIM if path == TOKEN_PATH else JOB
            if target and _pick(updated["id"], [target]) is not None:
                updated["id"] = target
        if updated != params:
            case.path_parameters = updated
    body = case.body
    if isinstance(body, dict) and _positive(case, ParameterLocation.BODY):
        if path == "/v1/names/{name}" and "adapter" in body:
            choice = _pick(body["adapter"], [NAME, DIGEST])
            if choice is not None:
                case.body = {**body, "adapter": choice}
        elif path == "/v1/base-names/{name}" and "base" in body:
            if _pick(body["base"], [seed.BASE_NAME]) is not None:
                case.body = {**body, "base": seed.BASE_NAME}
        elif path == "/v1/extract" and "base" in body and "tuned" in body:
            # The seeded base against itself: a job that runs (and fails: nothing changed).
            if _pick(body["base"], [seed.BASE_NAME]) is not None:
                case.body = {**body, "base": seed.BASE_NAME, "tuned": seed.BASE_NAME}
        elif path == "/v1/normalize" and isinstance(body.get("adapters"), list):
            choice = _pick(body["adapters"], [NAME, DIGEST])
            if choice is not None:
                case.body = {**body, "adapters": [choice]}
    return case


@schemathesis.hook
def before_call(context, case, **kwargs):
    """Never revokes the admin token the run authenticates with (see the module's text)."""
    if not ADMIN_IDS or case.operation.path != TOKEN_PATH:
        return
    params = case.path_parameters
    if isinstance(params, dict) and str(params.get("id", "")).strip().lower() in ADMIN_IDS:
        case.path_parameters = {**params, "id": NOT_ADMIN}


@schemathesis.hook
def after_call(context, case, response):
    if not (BASE and DIGEST) or case.method.upper() != "DELETE" or case.operation.path != "/v1/adapters/{ref}":
        return
    if response.status_code == 200:
        try:
            deleted = response.json().get("digest")
        except ValueError:
            return
        if deleted == DIGEST:
            seed.upload(BASE, NAME)


# Words only Swift's own descriptions put in a message: a type's module path, DecodingError's cases
# and its Context, a CodingKey, an Optional's description.
SWIFT_WORDS = re.compile(r"Swift\.|Foundation\.|DecodingError|EncodingError|CodingKeys|_JSONKey|codingPath|"
                         r"debugDescription|underlyingError|typeMismatch\(|valueNotFound\(|keyNotFound\(|"
                         r"dataCorrupted\(|Optional\(|Error Domain=|NSCocoaErrorDomain")


@schemathesis.check
def problem_detail_without_swift_names(ctx, response, case):
    """A problem's `detail` is written for the API's client: no Swift type names or error dumps."""
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return
    try:
        problem = response.json()
    except ValueError:
        raise AssertionError("a problem+json body that is not JSON") from None
    for field in ("detail", "title"):
        text = problem.get(field) if isinstance(problem, dict) else None
        if isinstance(text, str):
            found = SWIFT_WORDS.search(text)
            if found:
                raise AssertionError(f"the problem's `{field}` carries Swift's own text ({found.group(0)!r}): {text[:300]}")


def _problem(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# What a schema-valid multipart upload can still be refused for: its bytes. "A string" is all JSON
# Schema can say about a file part; whether it is a safetensors file, a PEFT config, and whether
# the two agree (for a base model: whether the files make a model directory, and the part names
# plain file names) is the server's validation, documented as 400/422 problems on uploadAdapter
# and uploadBase.
UPLOAD_CONTENT_PROBLEMS = {400, 422}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but the rejections the schema cannot express (each documented above)."""
    if getattr(failure, "code", None) != "ST202":
        return True
    operation = case.operation.definition.raw.get("operationId") if hasattr(case.operation, "definition") else None
    problem = _problem(response)
    kind = str(problem.get("type", ""))
    if (operation in ("uploadAdapter", "uploadBase") and response.status_code in UPLOAD_CONTENT_PROBLEMS and kind.startswith("/problems/")
            and kind not in ("/problems/invalid-name", "/problems/invalid-request")):  # those are about `?name=`
        return False
    # delta.safetensors: method, energy, oversample, power_iters and seed only mean something for
    # the squeezed form (?rank=); OpenAPI has no way to say one query parameter needs another.
    if (operation in ("getDelta", "getDeltaInNamespace") and response.status_code == 400 and kind == "/problems/invalid-options"
            and "rank" not in case.query and "applies to the squeezed form" in str(problem.get("detail", ""))):
        return False
    # merged/original (and original.tar): the adapter as uploaded, so the squeeze options mean nothing
    # there; OpenAPI cannot make a query parameter depend on a path parameter's value.
    if (operation and operation.startswith(("getMergedFile", "getMergedArchive")) and response.status_code == 400
            and kind == "/problems/invalid-options" and "merges the adapter as uploaded" in str(problem.get("detail", ""))):
        return False
    # extract: whether the two stored models match, and whether a target names one of their weights,
    # is a property of the models, not of the request's shape.
    if (operation == "extractAdapter" and response.status_code == 422 and kind == "/problems/model-mismatch"):
        return False
    # expiresIn: its form is a pattern, but its range (1 s to 3650 days, so not "0d" or "99999d") is
    # not something a pattern says well.
    if (operation == "createToken" and response.status_code == 400 and kind == "/problems/invalid-token-request"
            and str(problem.get("detail", "")).startswith("expiresIn")):
        return False
    # projections.safetensors exist for the exact method only; OpenAPI cannot make a query parameter's
    # allowed values depend on a path parameter's value.
    if (operation and operation.startswith("getSqueezedFile") and response.status_code == 400 and kind == "/problems/invalid-options"
            and "projections come from the exact method" in str(problem.get("detail", ""))):
        return False
    # anneal/plan: fromRank above toRank, enough ranks between them for the phases, and a step for
    # every phase relate fields to each other, which a JSON schema of independent fields cannot say.
    if (operation == "planAnnealing" and response.status_code == 400 and kind == "/problems/invalid-plan"):
        return False
    # A stateful link can carry a digest into a namespaced twin's {namespace} or {ref}, which the
    # schema excludes (a 64-hex part would read as a digest); the server refuses it as it should.
    params = case.path_parameters if isinstance(case.path_parameters, dict) else {}
    if ("{namespace}" in case.operation.path and response.status_code == 400
            and any(re.fullmatch(r"[0-9a-f]{64}", str(params.get(k, ""))) for k in ("namespace", "ref", "name"))):
        return False
    return True
