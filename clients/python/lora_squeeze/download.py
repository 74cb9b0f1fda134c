"""A download that resumes with ``Range`` and is verified against the SHA-256 the service announced.

Every file the service serves carries its content's SHA-256 as its ``ETag`` (``"<64 hex>"``) and as
``Content-Location: /v1/blobs/<sha256>``. A download goes to ``DEST.part``, with the ETag it started
under in ``DEST.part.etag``; an interrupted one resumes from the part's end with ``Range`` and
``If-Range`` (a changed file answers 200, and the part starts over). The bytes are hashed as they are
written, the finished file is compared with the ETag (a resumed one that does not match is fetched again
whole, once: its earlier part was not this file's prefix), fsynced and renamed into place: ``DEST`` is
either the whole verified file or absent. An existing ``DEST`` is revalidated with ``If-None-Match``
(304: kept as it is).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from .errors import IntegrityError

CHUNK = 1 << 20
_SHA256 = re.compile(r'^(?:W/)?"?([0-9a-f]{64})(?:")?$')
_BLOB = re.compile(r"/v1/blobs/([0-9a-f]{64})$")


class Response(Protocol):
    status: int

    def getheader(self, name: str, default: str | None = None) -> str | None: ...
    def read(self, amt: int | None = None) -> bytes: ...


# A request: (headers to add) -> a response whose body has not been read yet. The caller owns retries
# of its own errors (problems raise); this module owns the bytes.
Fetch = Callable[[dict[str, str]], Response]


@dataclass(frozen=True)
class Transfer:
    """What one download did: its final HTTP status (200, 206 or 304), where it resumed, bytes read."""

    status: int
    resumed_from: int
    bytes_received: int
    sha256: str


def announced_sha256(response: Response) -> str | None:
    """The SHA-256 a response announces for its whole content (ETag first, then Content-Location)."""
    etag = response.getheader("ETag")
    if etag and (m := _SHA256.match(etag.strip())):
        return m.group(1)
    location = response.getheader("Content-Location")
    if location and (m := _BLOB.search(location.split("?", 1)[0])):
        return m.group(1)
    return None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download(fetch: Fetch, dest: Path) -> Transfer:
    """Fetch into ``dest`` (resuming a ``.part`` left by an earlier attempt), verified; see the module."""
    part = dest.with_name(dest.name + ".part")
    tag_file = dest.with_name(dest.name + ".part.etag")
    headers: dict[str, str] = {}
    have = 0
    if dest.exists():
        headers["If-None-Match"] = f'"{file_sha256(dest)}"'
    elif part.exists() and tag_file.exists():
        have = part.stat().st_size
        etag = tag_file.read_text().strip()
        if have > 0 and etag:
            headers["Range"] = f"bytes={have}-"
            headers["If-Range"] = etag
    response = fetch(headers)
    if response.status == 304:
        response.read()
        return Transfer(304, 0, 0, headers["If-None-Match"].strip('"'))
    if response.status == 416:  # the part is no prefix of what is served now: start over
        response.read()
        _discard(part, tag_file)
        return download(fetch, dest)
    expected = announced_sha256(response)
    if expected is None:
        raise IntegrityError(f"{dest.name}: the response announces no SHA-256 (no ETag or Content-Location)")
    hasher = hashlib.sha256()
    start = 0
    if response.status == 206:
        start = _content_range_start(response.getheader("Content-Range"))
        if start != have:
            raise IntegrityError(f"{dest.name}: asked to resume at byte {have}, the service sent from {start}")
        with part.open("rb") as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
    elif response.status != 200:
        raise IntegrityError(f"{dest.name}: unexpected status {response.status} for a download")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tag_file.write_text(f'"{expected}"')
    received = 0
    with part.open("r+b" if start else "wb") as f:
        f.seek(start)
        f.truncate()
        while chunk := response.read(CHUNK):
            f.write(chunk)
            hasher.update(chunk)
            received += len(chunk)
        f.flush()
        os.fsync(f.fileno())
    declared = response.getheader("Content-Length")
    if declared is not None and declared.isdigit() and received < int(declared):
        # http.client's read(n) returns what arrived when a connection closes early, without an error:
        # the part and its ETag stay for the next attempt to resume from.
        raise ConnectionError(f"{dest.name}: the connection closed after {received} of {declared} bytes")
    actual = hasher.hexdigest()
    if actual != expected:
        _discard(part, tag_file)
        if start:  # the earlier part was not this file's prefix: once more, from the first byte
            return download(fetch, dest)
        raise IntegrityError(f"{dest.name}: SHA-256 {actual} does not match the announced {expected}")
    os.replace(part, dest)
    tag_file.unlink(missing_ok=True)
    _fsync_dir(dest.parent)
    return Transfer(response.status, start, received, actual)


def _content_range_start(value: str | None) -> int:
    m = re.match(r"^bytes (\d+)-\d+/(?:\d+|\*)$", (value or "").strip())
    if not m:
        raise IntegrityError(f"a 206 answer without a usable Content-Range ({value!r})")
    return int(m.group(1))


def _discard(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
