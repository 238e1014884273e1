"""Keep the API key out of every log line.

The SDK and its libraries log through ``logging``; a record factory that replaces the
key's value in each formatted message, and in the traceback of a logged exception,
covers all of them, at every level, whatever handlers Meltano or the SDK configure
later. A key of the wrong type (a number, a list) is redacted too: settings validation
quotes the offending value in its error message.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterator

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
MIN_SECRET_LENGTH = 6
REDACTED = "[redacted]"


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
