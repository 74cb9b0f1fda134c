"""``Client``: the lora-squeeze service over HTTP, with the standard library only.

Every request opens its own connection, so one ``Client`` may be shared between threads. A 429 or
503 that says ``Retry-After`` is retried after that long (at most ``max_retry_wait`` seconds, at most
``retries`` times), as is a connection that fails before an answer on a request that is safe to repeat
(every GET, and uploads: the service stores content once, by digest). Any other error answer raises
``ProblemError`` with the service's problem document.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import ssl
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from .download import Transfer, download
from .errors import JobFailed, LoraSqueezeError, ProblemError
from .multipart import FilePart, MultipartBody
from .plan import AnnealPlan, plan_request

log = logging.getLogger("lora_squeeze")

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PROJECTIONS = "projections.safetensors"
_UPLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class Adapter:
    """A stored adapter: ``digest`` identifies its content; ``created`` is False when an upload found it stored."""

    digest: str
    names: tuple[str, ...]
    format: str
    base_model: str | None
    raw: dict[str, Any] = field(repr=False)
    created: bool | None = None

    @classmethod
    def from_json(cls, doc: dict[str, Any], created: bool | None = None) -> Adapter:
        return cls(digest=str(doc["digest"]), names=tuple(doc.get("names", ())), format=str(doc.get("format", "peft")),
                   base_model=doc.get("baseModel"), raw=doc, created=created)


@dataclass(frozen=True)
class Job:
    """A background job (normalize, extract): ``state`` is queued, running, succeeded or failed."""

    id: str
    kind: str
    state: str
    done: int
    total: int
    raw: dict[str, Any] = field(repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")

    @property
    def adapters(self) -> list[dict[str, Any]]:
        """Per adapter: ``digest``, ``status`` (pending, done, failed), ``error``, ``urls`` and ``blobs``."""
        return list(self.raw.get("adapters", []))

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Job:
        return cls(id=str(doc["id"]), kind=str(doc.get("kind", "")), state=str(doc["state"]), done=int(doc["done"]),
                   total=int(doc["total"]), raw=doc)


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """The service at ``url`` (``http://host:8080`` or ``https://…``), with a bearer ``token``.

    ``token`` defaults to the ``LORA_SQUEEZE_TOKEN`` environment variable; a service with access
    control off needs none. ``timeout`` bounds each socket operation (a squeeze computed on first
    request can take minutes before its first byte). ``ssl_context`` verifies HTTPS (default: the
    system's trust store).
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 600.0, retries: int = 5,
                 max_retry_wait: float = 60.0, ssl_context: ssl.SSLContext | None = None) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"url must be http:// or https:// with a host, not {url!r}")
        self.url = url.rstrip("/")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port
        self._base_path = parsed.path.rstrip("/")
        self.token = token if token is not None else os.environ.get("LORA_SQUEEZE_TOKEN")
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self._ssl = ssl_context

    # -- adapters ---------------------------------------------------------------------------------

    def upload(self, source: str | os.PathLike[str] | Any, name: str | None = None, *,
               adapter_name: str = "default") -> Adapter:
        """Store an adapter: a PEFT directory, a kohya ``.safetensors`` file, or a PEFT model.

        A model (anything with ``save_pretrained``, such as a ``PeftModel``) is saved to a temporary
        directory first (its ``adapter_name`` adapter). ``name`` tags it (``team-a/chat-v2`` for a
        namespace). Uploading content already stored answers it again with ``created=False``.
        """
        if hasattr(source, "save_pretrained") and not isinstance(source, (str, os.PathLike)):
            with tempfile.TemporaryDirectory(prefix="lora-squeeze-upload-") as tmp:
                source.save_pretrained(tmp, selected_adapters=[adapter_name])
                saved = Path(tmp) if adapter_name == "default" else Path(tmp) / adapter_name
                return self.upload(saved, name)
        path = Path(source)
        query = f"?name={urllib.parse.quote(name, safe='/')}" if name is not None else ""
        if path.is_dir():
            missing = [f for f in (CONFIG, WEIGHTS) if not (path / f).is_file()]
            if missing:
                extra = " (adapter_model.bin is not read: save with safe_serialization=True)" \
                    if (path / "adapter_model.bin").exists() else ""
                raise LoraSqueezeError(f"{path} is not a PEFT adapter directory: no {' or '.join(missing)}{extra}")
            body = MultipartBody([FilePart(CONFIG, path / CONFIG, "application/json"),
                                  FilePart(WEIGHTS, path / WEIGHTS, "application/octet-stream")])
            answer = self._send("POST", "/v1/adapters" + query, body=body, idempotent=True)
        elif path.is_file():
            answer = self._send("POST", "/v1/adapters" + query, body=path, idempotent=True,
                                headers={"Content-Type": "application/octet-stream"})
        else:
            raise LoraSqueezeError(f"{path}: no such file or directory")
        return Adapter.from_json(answer.json(), created=answer.status == 201)

    def adapter(self, ref: str) -> Adapter:
        """One adapter by name or digest, with its modules and candidate ranks in ``raw``."""
        return Adapter.from_json(self._send("GET", self._adapter_path(ref)).json())

    def adapters(self, *, prefix: str | None = None, base_model: str | None = None,
                 page_size: int = 100) -> Iterator[Adapter]:
        """Every adapter matching the filters, newest first, page by page."""
        offset: int | None = 0
        while offset is not None:
            query = {"limit": str(page_size), "offset": str(offset)}
            if prefix is not None:
                query["name"] = prefix
            if base_model is not None:
                query["base_model"] = base_model
            page = self._send("GET", "/v1/adapters?" + urllib.parse.urlencode(query)).json()
            for item in page["items"]:
                yield Adapter.from_json(item)
            offset = page.get("nextOffset")

    # -- squeezed files ---------------------------------------------------------------------------

    def squeezed(self, ref: str, rank: int, *, dtype: str | None = None, method: str | None = None,
                 energy: float | None = None, oversample: int | None = None, power_iters: int | None = None,
                 seed: int | None = None, out: str | os.PathLike[str] | None = None) -> Path:
        """The adapter squeezed to ``rank``, as a PEFT directory (``adapter_config.json`` and weights).

        The name is resolved to a digest once, so both files come from the same adapter even if the
        name moves meanwhile. Each file is downloaded into ``out`` (default ``./<name>-r<rank>``),
        resuming a download an earlier call left unfinished and verifying its SHA-256 against the
        ETag; files already there are revalidated (304) rather than fetched again. A kohya adapter
        gets only its ``.safetensors``.
        """
        adapter = self.adapter(ref)
        options = _squeeze_query(dtype=dtype, method=method, energy=energy, oversample=oversample,
                                 power_iters=power_iters, seed=seed)
        directory = Path(out) if out is not None else Path.cwd() / f"{ref.replace('/', '--')}-r{rank}"
        directory.mkdir(parents=True, exist_ok=True)
        files = [WEIGHTS] if adapter.format == "kohya" else [CONFIG, WEIGHTS]
        for f in files:
            self.fetch_file(f"/v1/adapters/{adapter.digest}/squeezed/{int(rank)}/{f}{options}", directory / f)
        return directory

    def projections(self, ref: str, rank: int, *, out: str | os.PathLike[str]) -> Path:
        """``T_A`` (t×r) and ``T_B`` (r×t) of every module of the exact squeeze to ``rank``, into file ``out``."""
        path = Path(out)
        self.fetch_file(f"{self._adapter_path(ref)}/squeezed/{int(rank)}/{PROJECTIONS}?method=exact", path)
        return path

    def fetch_file(self, path: str, dest: Path) -> Transfer:
        """Download the service's ``path`` to ``dest``: resumable, verified, atomic (see ``download``).

        A connection lost midway is resumed from where it stopped (``retries`` times).
        """
        def fetch(extra: dict[str, str]) -> Any:
            # Not repeated by _open: a lost connection, before or during the body, is this loop's to retry.
            return self._open("GET", path, headers=extra, ok=(200, 206, 304, 416), idempotent=False)

        for attempt in range(self.retries + 1):
            try:
                transfer = download(fetch, dest)
                log.debug("fetched %s: %s", path, transfer)
                return transfer
            except (ConnectionError, TimeoutError, http.client.HTTPException) as error:
                if attempt >= self.retries:
                    raise
                log.warning("%s: %s; resuming", dest.name, error)
                self._back_off(attempt)
        raise AssertionError("unreachable")

    # -- jobs and plans ---------------------------------------------------------------------------

    def normalize(self, rank: int, *, prefix: str | None = None, adapters: Iterable[str] | None = None,
                  all: bool = False, method: str | None = None, dtype: str | None = None,
                  energy: float | None = None) -> Job:
        """Start a job squeezing a fleet to ``rank``: exactly one of ``prefix``, ``adapters`` or ``all``."""
        chosen = [prefix is not None, adapters is not None, all]
        if sum(chosen) != 1:
            raise ValueError("give exactly one of prefix=, adapters= or all=True")
        body: dict[str, Any] = {"rank": rank}
        if prefix is not None:
            body["prefix"] = prefix
        if adapters is not None:
            body["adapters"] = list(adapters)
        if all:
            body["all"] = True
        for key, value in (("method", method), ("dtype", dtype), ("energy", energy)):
            if value is not None:
                body[key] = value
        return Job.from_json(self._send("POST", "/v1/normalize", json_body=body).json())

    def job(self, job: Job | str) -> Job:
        job_id = job.id if isinstance(job, Job) else job
        return Job.from_json(self._send("GET", f"/v1/jobs/{urllib.parse.quote(job_id, safe='')}").json())

    def wait(self, job: Job | str, *, timeout: float | None = None, poll: float = 0.5,
             raise_on_failure: bool = True) -> Job:
        """Poll ``job`` until it succeeds (returned) or fails (``JobFailed``, or returned when not raising).

        Polling starts at ``poll`` seconds and backs off to 5 s; ``timeout`` raises ``TimeoutError``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = poll
        while True:
            current = self.job(job)
            if current.finished:
                if current.state == "failed" and raise_on_failure:
                    raise JobFailed(current.raw)
                return current
            if deadline is not None and time.monotonic() + delay > deadline:
                raise TimeoutError(f"job {current.id} still {current.state} ({current.done}/{current.total}) "
                                   f"after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def anneal_plan(self, from_rank: int, to_rank: int, total_steps: int, *, phases: int | None = None,
                    schedule: str | None = None, final_fraction: float | None = None) -> AnnealPlan:
        """The rank-annealing schedule (``POST /v1/anneal/plan``)."""
        body = plan_request(from_rank, to_rank, total_steps, phases, schedule, final_fraction)
        return AnnealPlan.from_json(self._send("POST", "/v1/anneal/plan", json_body=body).json())

    # -- transport --------------------------------------------------------------------------------

    def _adapter_path(self, ref: str) -> str:
        segments = ref.split("/")
        if not 1 <= len(segments) <= 2 or not all(segments):
            raise ValueError(f"{ref!r} is not a digest, a name or a namespace/name")
        return "/v1/adapters/" + "/".join(urllib.parse.quote(s, safe="") for s in segments)

    def _back_off(self, attempt: int) -> None:
        """The wait before retry ``attempt + 1`` of a lost connection: 1, 2, 4 … s, at most ``max_retry_wait``."""
        time.sleep(min(2.0 ** attempt, self.max_retry_wait))

    def _connection(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            context = self._ssl or ssl.create_default_context()
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=context)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _send(self, method: str, path: str, *, json_body: Any = None, body: MultipartBody | Path | None = None,
              headers: Mapping[str, str] | None = None, idempotent: bool | None = None) -> _Answer:
        """A request whose answer is read whole (JSON): 2xx returned, problems raised."""
        extra = dict(headers or {})
        if json_body is not None:
            extra["Content-Type"] = "application/json"
        response = self._open(method, path, headers=extra, json_body=json_body, body=body, idempotent=idempotent)
        try:
            data = response.read()
            return _Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            response.close()

    def _open(self, method: str, path: str, *, headers: Mapping[str, str] | None = None, json_body: Any = None,
              body: MultipartBody | Path | None = None, idempotent: bool | None = None,
              ok: tuple[int, ...] = ()) -> http.client.HTTPResponse:
        """Send, retrying as the module says; returns a response whose body is not read yet."""
        repeatable = method in ("GET", "HEAD") if idempotent is None else idempotent
        for attempt in range(self.retries + 1):
            connection = self._connection()
            try:
                response = self._exchange(connection, method, path, headers or {}, json_body, body)
            except (ConnectionError, TimeoutError, http.client.HTTPException):
                connection.close()
                if not repeatable or attempt >= self.retries:
                    raise
                self._back_off(attempt)
                continue
            if response.status < 400 or response.status in ok:
                return response
            problem = _problem(response)
            retry_after = _retry_after(response.getheader("Retry-After"))
            response.close()
            connection.close()
            error = ProblemError(response.status, problem, method=method, url=self.url + path, retry_after=retry_after)
            if response.status in (429, 503) and retry_after is not None and attempt < self.retries:
                log.info("%s %s: %s, retrying in %.1f s", method, path, response.status, retry_after)
                time.sleep(min(retry_after, self.max_retry_wait))
                continue
            raise error
        raise AssertionError("unreachable")

    def _exchange(self, connection: http.client.HTTPConnection, method: str, path: str, headers: Mapping[str, str],
                  json_body: Any, body: MultipartBody | Path | None) -> http.client.HTTPResponse:
        connection.putrequest(method, self._base_path + path, skip_accept_encoding=True)
        # One connection per request: the response owns the socket and closes it with its last byte.
        all_headers = {"Accept": "application/json", "User-Agent": "lora-squeeze-python/0.1.0",
                       "Connection": "close", **headers}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        payload: bytes | None = None
        if json_body is not None:
            payload = json.dumps(json_body).encode()
            all_headers["Content-Length"] = str(len(payload))
        elif isinstance(body, MultipartBody):
            all_headers["Content-Type"] = body.content_type
            all_headers["Content-Length"] = str(len(body))
        elif isinstance(body, Path):
            all_headers["Content-Length"] = str(body.stat().st_size)
        elif method in ("POST", "PUT"):
            all_headers["Content-Length"] = "0"
        for key, value in all_headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        if payload is not None:
            connection.send(payload)
        elif isinstance(body, MultipartBody):
            for chunk in body.chunks():
                connection.send(chunk)
        elif isinstance(body, Path):
            with body.open("rb") as f:
                while chunk := f.read(_UPLOAD_CHUNK):
                    connection.send(chunk)
        response = connection.getresponse()
        return response


def _squeeze_query(**options: Any) -> str:
    present = {k: str(v) for k, v in options.items() if v is not None}
    return "?" + urllib.parse.urlencode(present) if present else ""


def _problem(response: http.client.HTTPResponse) -> dict[str, Any]:
    data = response.read(1 << 20)
    try:
        doc = json.loads(data)
        if isinstance(doc, dict):
            return doc
    except ValueError:
        pass
    return {"type": "about:blank", "title": response.reason, "detail": data[:500].decode("utf-8", "replace")}


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
