"""The errors the client raises: the service's problems (RFC 9457), and what the client finds itself."""

from __future__ import annotations

from typing import Any


class LoraSqueezeError(Exception):
    """Base of every error this package raises."""


class ProblemError(LoraSqueezeError):
    """The service answered with an error: its problem document, as sent.

    ``type`` is the stable problem type (``/problems/not-found``), ``detail`` names the field, tensor or
    module at fault, ``request_id`` is the ``X-Request-Id`` to quote in a bug report, and
    ``retry_after`` the seconds the service asked to wait (429 and 503), when it said.
    """

    def __init__(self, status: int, problem: dict[str, Any], *, method: str, url: str,
                 retry_after: float | None = None) -> None:
        self.status = status
        self.problem = problem
        self.type: str = str(problem.get("type", "about:blank"))
        self.title: str = str(problem.get("title", ""))
        self.detail: str = str(problem.get("detail", ""))
        self.request_id: str | None = problem.get("requestId")
        self.retry_after = retry_after
        self.method = method
        self.url = url
        super().__init__(f"{method} {url}: {status} {self.type}: {self.detail or self.title}"
                         + (f" (request {self.request_id})" if self.request_id else ""))


class IntegrityError(LoraSqueezeError):
    """A downloaded file's SHA-256 is not the one the service announced (its ETag or Content-Location)."""


class JobFailed(LoraSqueezeError):
    """A job ended in state ``failed``; ``job`` holds its last document (``error``, per-adapter outcomes)."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        failed = [a for a in job.get("adapters", []) if a.get("status") == "failed"]
        reasons = "; ".join(f"{a.get('digest', '?')[:12]}: {a.get('error', '?')}" for a in failed[:3])
        super().__init__(f"job {job.get('id')} failed: {job.get('error') or reasons or 'no reason given'}")


class SqueezeFailed(LoraSqueezeError):
    """The local command-line squeeze exited with an error (its standard error is the message)."""
