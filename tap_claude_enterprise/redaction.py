"""Keep the API key out of every log line.

The SDK and its libraries log through ``logging``; a record factory that replaces the
key's value in each formatted message covers all of them, at every level, whatever
handlers Meltano or the SDK configure later.
"""

from __future__ import annotations

import logging
import threading

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
MIN_SECRET_LENGTH = 6


class _RedactingRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 - overrides logging's name
        message = super().getMessage()
        for secret in _secrets:
            if secret in message:
                message = message.replace(secret, "[redacted]")
        return message


def install_secret_filter(secret: object) -> None:
    """Redact ``secret`` from every log message of this process from now on."""
    global _installed  # noqa: PLW0603 - one process-wide switch
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(secret)
        if not _installed:
            logging.setLogRecordFactory(_RedactingRecord)
            _installed = True
