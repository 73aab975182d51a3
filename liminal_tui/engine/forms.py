"""Request bodies built for the user: ``form`` (URL-encoded) and ``multipart`` (files and values).

Both render to the bytes every client sends as they are, with the ``Content-Type`` set once at compile
time, so the fast client, aiohttp and httpx send identical requests. Files are read once per worker.
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlencode

from ..profile.flow_models import Part
from ..profile.templates import compile_template

__all__ = ["FormBody", "MultipartBody", "FORM_TYPE"]

FORM_TYPE = "application/x-www-form-urlencoded"


class FormBody:
    """``form = { ... }``: ``render(ctx)`` gives ``a=1&b=x%20y``."""

    __slots__ = ("fields",)
    content_type = FORM_TYPE

    def __init__(self, form: dict[str, str]) -> None:
        self.fields = [(k, compile_template(v)) for k, v in form.items()]

    def render(self, ctx: Mapping[str, Any]) -> bytes:
        return urlencode([(k, t.render(ctx)) for k, t in self.fields]).encode()


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


class MultipartBody:
    """``multipart = [ ... ]``: ``render(ctx)`` gives a ``multipart/form-data`` body (RFC 7578)."""

    __slots__ = ("boundary", "parts", "content_type")

    def __init__(self, parts: list[Part]) -> None:
        self.boundary = "liminal" + uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self.parts: list[tuple[bytes, Any]] = []
        for part in parts:
            head = f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quoted(part.name)}"'
            if part.file is not None:
                path = Path(part.file)
                data = path.read_bytes()
                filename = part.filename or os.path.basename(part.file)
                ctype = part.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
                head += f'; filename="{_quoted(filename)}"\r\nContent-Type: {ctype}\r\n\r\n'
                self.parts.append((head.encode(), data))
            else:
                if part.content_type:
                    head += f"\r\nContent-Type: {part.content_type}"
                head += "\r\n\r\n"
                self.parts.append((head.encode(), compile_template(part.value or "")))

    def render(self, ctx: Mapping[str, Any]) -> bytes:
        out = []
        for head, value in self.parts:
            out.append(head)
            out.append(value if isinstance(value, bytes) else value.render(ctx).encode())
            out.append(b"\r\n")
        out.append(f"--{self.boundary}--\r\n".encode())
        return b"".join(out)
