"""A ``multipart/form-data`` body streamed from files: its length known up front, its bytes never all in memory."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

CHUNK = 1 << 20


@dataclass(frozen=True)
class FilePart:
    """One file part: its form name (also its file name) and where its bytes are."""

    name: str
    path: Path
    content_type: str


class MultipartBody:
    """The parts, a random boundary, the total length, and the bytes in chunks."""

    def __init__(self, parts: list[FilePart]) -> None:
        self.parts = parts
        self.boundary = "lora-squeeze-" + secrets.token_hex(16)
        self._heads = [(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{p.name}"; '
                        f'filename="{p.name}"\r\nContent-Type: {p.content_type}\r\n\r\n').encode()
                       for p in parts]
        self._tail = f"--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return sum(len(h) + p.path.stat().st_size + 2 for h, p in zip(self._heads, self.parts)) + len(self._tail)

    def chunks(self) -> Iterator[bytes]:
        for head, part in zip(self._heads, self.parts):
            yield head
            with part.path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
            yield b"\r\n"
        yield self._tail
