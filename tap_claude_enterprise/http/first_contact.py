"""First contact: bad input answered in one line, and a wrong key told from a missing endpoint.

**A wrong key or a missing endpoint** (``FirstContact``). Engagement endpoints answer
404 both to a wrong key and to an organization that lacks them; report endpoints answer
401 to a wrong key. So the run's first request goes out alone, and if its answer is a
403/404 before any endpoint has answered, one request to a report endpoint decides: 401
there means the key is wrong and the run stops (two requests in all); any other answer
means the key works and only that endpoint is missing (it is skipped). Nothing is read
from the wording of an answer, only statuses. A run whose key works pays nothing: its
first request is the first stream's own, and the others wait only for that answer.

**Bad input met on the command line**, answered with one line each instead of a traceback.

A config or STATE file that is missing or not JSON, a bookmark that is not a date, and
errors the sync stops on (a refused key, a bad ``api_url``, a give-up after retries)
all end the same way: one line naming the file or the cause and what to do, exit 1.
Messages never quote a config value (it may be the key).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError

from tap_claude_enterprise.endpoints import ENDPOINTS, Endpoint
from tap_claude_enterprise.http import transport
from tap_claude_enterprise.http.errors import AUTH_HELP, AuthenticationError
from tap_claude_enterprise.http.redaction import redact
from tap_claude_enterprise.sync.key_access import is_admin_key


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


# --- a wrong key or a missing endpoint -------------------------------------------------


class FirstContact:
    """One run's first request, and the verdict on the key it leads to (thread-safe)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = False
        self.settled = False
        self.key_refused: AuthenticationError | None = None
        # The endpoint whose answer showed that the key works, when one had to be asked.
        self.answered_by: str | None = None

    def enter(self, cancelled: threading.Event | None = None) -> bool:
        """Wait while the run's first request is out; True for the caller who sends it.

        Raises the run's verdict when the key was refused; returns False (without
        waiting for a slot) once ``cancelled`` is set, so the caller can stop.
        """
        with self._cond:
            while not self.settled:
                if not self._in_flight:
                    self._in_flight = True
                    return True
                if cancelled is not None and cancelled.is_set():
                    return False
                self._cond.wait(0.05)
            if self.key_refused is not None:
                raise AuthenticationError(str(self.key_refused))
            return False

    def settle(self) -> None:
        """The first request is answered (or given up): let the others go."""
        with self._cond:
            self.settled = True
            self._in_flight = False
            self._cond.notify_all()

    def refuse_key(self, status: int) -> AuthenticationError:
        """Record that the key is wrong; every waiting request gets this error."""
        with self._cond:
            if self.key_refused is None:
                self.key_refused = AuthenticationError(AUTH_HELP.format(status=status))
            return self.key_refused

    def decide(
        self, refused_path: str, api_key: object, probe: Callable[[Endpoint], int | None]
    ) -> bool | None:
        """After a 403/404 on the first request: is the key wrong? None: undecided.

        ``probe`` sends one request to an endpoint and returns its status (None when
        nothing came back). Only called while no other request is out.
        """
        decider = decider_for(refused_path, api_key)
        if decider is None:
            return None
        status = probe(decider)
        if status is None or status in {403, 404}:
            return None  # the decider is missing too, or unreachable: the run decides later
        if status == 401:
            return True
        self.answered_by = decider.path
        return False


def decider_for(refused_path: str, api_key: object) -> Endpoint | None:
    """An endpoint whose refusal of a wrong key is unambiguous (401): a report endpoint."""
    kind = "admin" if is_admin_key(api_key) else "analytics"
    for endpoint in ENDPOINTS:
        if endpoint.family == "report" and endpoint.path != refused_path and kind in endpoint.keys:
            return endpoint
    return None


_runs: weakref.WeakKeyDictionary[object, FirstContact] = weakref.WeakKeyDictionary()
_runs_lock = threading.Lock()


def first_contact_of(run: object) -> FirstContact:
    """The ``FirstContact`` of one run (keyed by its tap object)."""
    with _runs_lock:
        contact = _runs.get(run)
        if contact is None:
            contact = _runs[run] = FirstContact()
        return contact
