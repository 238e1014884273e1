"""Write every raw answer of the API to a directory, safe to send to the maintainers.

With ``capture_dir`` set, each response the tap receives (retries and errors included)
becomes one JSON file: the request's path and query, the status, the headers the tap
reads, and the body exactly as received except that

- the key (and anything shaped like an Anthropic key) becomes ``[key]``, and
- every e-mail address becomes a pseudonym ``redacted-<8 hex>@example.invalid``, the
  same one for the same address throughout the capture (a keyed hash with a random
  key that is never written), so rows still join up but no address can be recovered.

``tap-claude-enterprise-sandbox --replay DIR`` serves such a directory back
(``sandbox/replay.py``), which turns a user's surprise into a regression test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from tap_claude_enterprise.http.first_contact import UserInputError
from tap_claude_enterprise.http.redaction import redact_capture

# The headers the tap reads; nothing else of the answer is kept.
CAPTURED_HEADERS = (
    "content-type",
    "retry-after",
    "request-id",
    "x-should-retry",
    "location",
)
FORMAT_VERSION = 1


class CaptureWriter:
    """Numbered, redacted response files in one directory (thread-safe)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._salt = secrets.token_bytes(32)
        self._lock = threading.Lock()
        start = 1 + max((_number(p) for p in directory.glob("*.json")), default=0)
        self._counter = itertools.count(start)
        self.written = 0

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A ``requests`` response hook: capture this answer."""
        del args, kwargs
        self.write(response)

    def write(self, response: requests.Response) -> Path:
        """Write one answer; returns the file."""
        url = response.request.url if response.request is not None else response.url
        parts = urlsplit(url or "")
        body = self.redact(response.content or b"")
        record = {
            "format": FORMAT_VERSION,
            # Report windows end at "now": a replay pins the clock to this moment.
            "captured_at": dt.datetime.now(tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "request": {
                "method": response.request.method if response.request is not None else "GET",
                "path": parts.path,
                "query": [
                    [self.redact_text(k), self.redact_text(v)]
                    for k, v in parse_qsl(parts.query, keep_blank_values=True)
                ],
            },
            "status": response.status_code,
            "headers": {
                name: self.redact_text(response.headers[name])
                for name in CAPTURED_HEADERS
                if name in response.headers
            },
            "body": body.decode("utf-8", errors="replace"),
        }
        endpoint = parts.path.rstrip("/").rsplit("/analytics/", 1)[-1].replace("/", "_")
        with self._lock:
            number = next(self._counter)
            path = self.directory / f"{number:06d}-{endpoint or 'root'}-{response.status_code}.json"
            path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            self.written += 1
        return path

    def redact(self, data: bytes) -> bytes:
        """``data`` without keys and with e-mail addresses pseudonymized (redaction.py)."""
        return redact_capture(data, self._pseudonym)

    def redact_text(self, text: str) -> str:
        """``redact`` for a string."""
        return self.redact(text.encode("utf-8")).decode("utf-8")

    def _pseudonym(self, match: re.Match[bytes]) -> bytes:
        digest = hmac.new(self._salt, match.group(0).lower(), hashlib.sha256).hexdigest()
        return f"redacted-{digest[:8]}@example.invalid".encode()


def _number(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


_writers: dict[str, CaptureWriter] = {}
_writers_lock = threading.Lock()


def shared_writer(directory: str) -> CaptureWriter:
    """The one writer this process uses for ``directory`` (every stream shares it)."""
    key = str(Path(directory).expanduser().resolve())
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None:
            try:
                writer = _writers[key] = CaptureWriter(Path(key))
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                msg = f"capture_dir {directory}: cannot be used ({reason})."
                raise UserInputError(msg) from None
        return writer
