"""Every redaction the tap does, in one place.

* ``redact``: error messages and log lines lose e-mail addresses and anything shaped
  like an Anthropic key, and are cut to a length (``errors.py``, retries, give-ups).
* ``redact_capture``: a captured response body (``capture.py``) loses keys, and its
  e-mail addresses become stable pseudonyms, so rows still join up.
* ``install_secret_filter``: the configured key itself (and ``email_hash_key``) is
  replaced in every log record of the process, whatever logged it.

The last one in detail: the SDK and its libraries log through ``logging``; a record
factory that replaces the key's value in each formatted message, and in the traceback
of a logged exception, covers all of them, at every level, whatever handlers Meltano or
the SDK configure later. A key of the wrong type (a number, a list) is redacted too:
settings validation quotes the offending value in its error message.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterator

_EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
# A key, but not a bare kind prefix such as ``sk-ant-api01-...`` in the help text.
_KEY_PATTERN = r"sk-ant-(?![a-z]+\d*-(?![A-Za-z0-9_]))[A-Za-z0-9_-]+"
_EMAIL = re.compile(_EMAIL_PATTERN)
_KEY = re.compile(_KEY_PATTERN)
_EMAIL_BYTES = re.compile(_EMAIL_PATTERN.encode())
_KEY_BYTES = re.compile(_KEY_PATTERN.encode())

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
MIN_SECRET_LENGTH = 6
REDACTED = "[redacted]"


def redact(text: str, limit: int = 300) -> str:
    """Remove e-mail addresses and key-like strings, and cut to ``limit`` characters."""
    text = _KEY.sub("[key]", _EMAIL.sub("[email]", text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def redact_capture(data: bytes, pseudonym: Callable[[re.Match[bytes]], bytes]) -> bytes:
    """A captured body or value: keys removed, e-mail addresses replaced by ``pseudonym``."""
    data = _KEY_BYTES.sub(b"[key]", data)
    data = redact_secrets(data.decode("utf-8", errors="surrogateescape")).encode(
        "utf-8", errors="surrogateescape"
    )
    return _EMAIL_BYTES.sub(pseudonym, data)


def redact_secrets(text: str) -> str:
    """``text`` with every registered secret replaced."""
    for secret in tuple(_secrets):  # a copy: another thread may add one
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class _RedactingRecord(logging.LogRecord):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.exc_info and self.exc_info[0] is not None and _secrets:
            # Formatters reuse ``exc_text`` when it is set, so this is what they print.
            text = "".join(traceback.format_exception(*self.exc_info)).rstrip("\n")
            self.exc_text = redact_secrets(text)

    def getMessage(self) -> str:  # noqa: N802 - overrides logging's name
        return redact_secrets(super().getMessage())


def _values(secret: object) -> Iterator[str]:
    """The strings a secret of any JSON type can show up as in a message."""
    if isinstance(secret, bool) or secret is None:
        return
    if isinstance(secret, (str, int, float)):
        yield str(secret)
    elif isinstance(secret, dict):
        for value in secret.values():
            yield from _values(value)
    elif isinstance(secret, (list, tuple)):
        for value in secret:
            yield from _values(value)


def install_secret_filter(secret: object) -> None:
    """Redact ``secret`` from every log message of this process from now on."""
    global _installed  # noqa: PLW0603 - one process-wide switch
    values = [v for v in _values(secret) if len(v) >= MIN_SECRET_LENGTH]
    if not values:
        return
    with _lock:
        _secrets.update(values)
        if not _installed:
            logging.setLogRecordFactory(_RedactingRecord)
            _installed = True
