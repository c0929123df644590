"""File download responses shared by the API and the pages."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response


def file_response(body: bytes, filename: str, mimetype: str | None, etag: str, disposition: str = "attachment") -> Response:
    """``body`` as a download named ``filename`` (an ASCII fallback plus the RFC 5987 UTF-8
    name, so Chinese file names survive), never content-sniffed, with ``etag``."""
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "") or "download"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(etag)
    return response
