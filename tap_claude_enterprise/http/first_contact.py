"""Bad input met on the command line, answered with one line each instead of a traceback.

A config or STATE file that is missing or not JSON, a bookmark that is not a date, and
errors the sync stops on (a refused key, a bad ``api_url``, a give-up after retries)
all end the same way: one line naming the file or the cause and what to do, exit 1.
Messages never quote a config value (it may be the key).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError

from tap_claude_enterprise.http import transport
from tap_claude_enterprise.http.errors import redact


class UserInputError(Exception):
    """A file or value given on the command line that the tap cannot use."""


def read_json_object(path: str, what: str) -> dict[str, Any]:
    """The JSON object in ``path``, or a one-line ``UserInputError`` saying what is wrong.

    ``what`` names the file's role ("config file", "STATE file", "catalog file"). For
    a broken file the position of the problem is given, never its content.
    """
    file = Path(path)
    hint = _START_OVER if what == "STATE file" else ""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{what} {path}: no such file.{hint}") from None
    except IsADirectoryError:
        raise UserInputError(f"{what} {path}: is a directory, not a file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        raise UserInputError(f"{what} {path}: cannot be read ({reason}).{hint}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"{what} {path}: not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}).{hint}"
        ) from None
    if not isinstance(value, dict):
        raise UserInputError(f"{what} {path}: must hold a JSON object {{...}}.{hint}")
    return value


def check_state(state: Mapping[str, Any], path: str) -> None:
    """Refuse a STATE whose bookmarks the streams could not read."""
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise UserInputError(f"STATE file {path}: 'bookmarks' is not an object.{_START_OVER}")
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            raise UserInputError(
                f"STATE file {path}: the bookmark of stream '{stream}' is not an object."
                f"{_START_OVER}"
            )
        value = bookmark.get("replication_key_value")
        if value is not None and not _is_day_or_time(value):
            raise UserInputError(
                f"STATE file {path}: the bookmark of stream '{stream}' is not a date or "
                f"timestamp (YYYY-MM-DD or RFC 3339).{_START_OVER}"
            )


def one_line(exc: BaseException) -> str | None:
    """The single line to print for an error the tap explains, or None for a bug."""
    if isinstance(exc, UserInputError):
        return str(exc)
    if isinstance(exc, ConfigValidationError):
        return redact(str(exc), limit=2000)
    if isinstance(exc, (FatalAPIError, RetriableAPIError)):
        return "Sync failed: " + redact(str(exc), limit=2000)
    if isinstance(exc, requests.RequestException):
        cause = transport.network_cause(exc) or redact(str(exc))
        return f"Sync failed: {type(exc).__name__}: {cause}"
    return None


_START_OVER = (
    " To start over, run without --state (Meltano: meltano state clear <state id>); "
    "the sync then begins at start_date."
)


def _is_day_or_time(value: object) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        if len(value) == 10:
            dt.date.fromisoformat(value)
        else:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
