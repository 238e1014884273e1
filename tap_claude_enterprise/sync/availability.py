"""What each endpoint serves: days not available yet, endpoints an organization lacks.

The documentation does not pin down the wording of the API's refusals, so nothing
here reads the text of a message except to pick out a day it names:

* **Not available yet.** A 400 for a request that reaches into the last
  ``RECENT_DAYS`` days means "not served yet", whatever it says (the real API has been
  seen answering a report window that starts today with "Invalid date range: ending
  date must be after starting date"). The stream that got it stops at its last
  complete day; the latest day the message names, if any, is where it may stop instead.
  A 400 for an older request stays an error.
* **Per endpoint.** Availability is learned per stream and never shared: the day one
  endpoint serves says nothing about another, so one endpoint refusing a day never
  ends or caps another stream.
* **Endpoints an organization does not have.** A 403 or 404 on one endpoint while the
  key is accepted on another means that endpoint is missing for this organization (or
  this key's scopes do not cover it, as with an Admin key on the older endpoints): that
  stream is skipped with one warning and the run goes on. Only a key that no endpoint
  accepts is fatal (``EndpointAccess.raise_if_key_refused``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tap_claude_enterprise.http.errors import (
    AUTH_HELP,
    AuthenticationError,
    DateNotAvailableError,
    redact,
)
from tap_claude_enterprise.sync import windows

# A refused request whose last day is at most this many days back is "not available yet".
RECENT_DAYS = 7
# A 400 for a report window starting within this many days of the 365-day limit is
# taken as "too far back": the start moves forward one day, at most this many times.
REPORT_EDGE_DAYS = 7

_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})")
UTC = dt.timezone.utc


class EndpointRefusedError(AuthenticationError):
    """403/404 on one endpoint: skipped when the key works elsewhere, else fatal."""

    def __init__(self, message: str, *, endpoint: str, status: int, api_message: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.api_message = api_message


# --- which days a request covers ----------------------------------------------------


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _moment(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def requested_days(url: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The first and last UTC day a request asks for (``None`` where it names none).

    ``date`` is one day; ``ending_date`` and ``ending_at`` are exclusive; a range
    without an end runs up to today.
    """
    query = parse_qs(urlsplit(url).query)
    day = _day(_param(query, "date"))
    if day is not None:
        return day, day
    start = _day(_param(query, "starting_date"))
    if start is not None:
        end = _day(_param(query, "ending_date"))
        return start, (end - dt.timedelta(days=1)) if end else today
    start_at = _moment(_param(query, "starting_at"))
    if start_at is not None:
        end_at = _moment(_param(query, "ending_at"))
        last = (end_at - dt.timedelta(microseconds=1)).astimezone(UTC).date() if end_at else today
        return start_at.astimezone(UTC).date(), last
    return None, None


def first_recent_day(today: dt.date) -> dt.date:
    """The oldest day a refusal counts as "not available yet" for."""
    return today - dt.timedelta(days=RECENT_DAYS)


def reaches_recent_days(url: str, today: dt.date) -> bool:
    """Whether a request asks for a day in the last ``RECENT_DAYS`` days (or later)."""
    _, last = requested_days(url, today)
    return last is not None and last >= first_recent_day(today)


def latest_day_named(message: str, url: str, today: dt.date) -> dt.date | None:
    """The latest day a refusal names that comes before the last day requested.

    "date 2026-11-30 is not yet available; the most recent available day is
    2026-11-28" names the requested day and the answer: only days before the requested
    one can be the latest available day. A message that names no such day gives None.
    """
    _, last = requested_days(url, today)
    named = [d for d in (_day(m) for m in _DAY.findall(message)) if d is not None]
    if last is not None:
        named = [d for d in named if d < last]
    return max(named, default=None)


def near_report_age_limit(start: dt.datetime, now: dt.datetime) -> bool:
    """Whether a report window starts within ``REPORT_EDGE_DAYS`` of the 365-day limit."""
    edge = now - dt.timedelta(days=windows.REPORT_MAX_AGE_DAYS - REPORT_EDGE_DAYS)
    return start < edge


# --- per-endpoint state -------------------------------------------------------------


class DayLimit:
    """The latest day one endpoint is known to serve in this run (thread-safe).

    Chains of the same stream run in parallel; once one learns that a day is refused,
    the others skip later days instead of spending requests on them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.refused_from: dt.date | None = None

    def refuse(self, day: dt.date) -> None:
        """Remember that ``day`` (and so every later day) is not served yet."""
        with self._lock:
            if self.refused_from is None or day < self.refused_from:
                self.refused_from = day

    def refuses(self, day: dt.date) -> bool:
        """Whether ``day`` is known not to be served yet."""
        return self.refused_from is not None and day >= self.refused_from


@dataclass
class Refusal:
    """One endpoint that answered 403/404 in this run."""

    stream: str
    endpoint: str
    status: int
    api_message: str

    def describe(self) -> str:
        """One line: what happened and what it means."""
        meaning = (
            "this organization does not have this endpoint, or the key's scopes do not "
            "cover it (an Admin key reads only /usage and /cost)"
        )
        message = f": {self.api_message}" if self.api_message else ""
        return f"/{self.endpoint} answered {self.status}{message}; {meaning}"


class EndpointAccess:
    """Which endpoints accepted the key in this run, and which refused it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted: set[str] = set()
        self.refused: dict[str, Refusal] = {}

    def accept(self, endpoint: str) -> None:
        """An endpoint answered something other than 401/403/404: the key works."""
        if endpoint not in self.accepted:
            with self._lock:
                self.accepted.add(endpoint)

    def refuse(self, refusal: Refusal) -> None:
        """Record a skipped stream."""
        with self._lock:
            self.refused.setdefault(refusal.stream, refusal)

    def raise_if_key_refused(self) -> None:
        """Fail the run when endpoints refused the key and none accepted it."""
        if self.refused and not self.accepted:
            statuses = sorted({r.status for r in self.refused.values()})
            status = "/".join(map(str, statuses))
            raise AuthenticationError(AUTH_HELP.format(status=status))


@contextmanager
def skipped_when_refused(
    access: EndpointAccess, stream: str, logger: logging.Logger | Any
) -> Iterator[None]:
    """Run a stream's sync; a 403/404 skips the stream with one warning.

    Days and windows finished before the refusal keep their STATE; the run goes on
    with the next stream. Whether the key itself was refused everywhere is decided
    once every stream has had its turn.
    """
    try:
        yield
    except EndpointRefusedError as exc:
        refusal = Refusal(stream, exc.endpoint, exc.status, exc.api_message)
        access.refuse(refusal)
        # Until another endpoint accepts the key, a 404 may just as well mean a wrong
        # key (then the run fails at the end): no warning that would mislead.
        logger.log(
            logging.WARNING if access.accepted else logging.INFO,
            "%s: skipped: %s. The other streams go on; the run summary lists it.",
            stream,
            refusal.describe(),
        )


def refusal_error(endpoint: str, status: int, api_message: str) -> EndpointRefusedError:
    """The error for a 403/404: the key-refused help, plus which endpoint said it."""
    message = redact(api_message)
    return EndpointRefusedError(
        f"/{endpoint}: " + AUTH_HELP.format(status=status),
        endpoint=endpoint,
        status=status,
        api_message=message,
    )


def log_not_available(
    logger: logging.Logger | Any, stream: str, what: str, latest: dt.date | None, message: str
) -> None:
    """One info line: where the stream stopped and why."""
    logger.info(
        "%s: %s is not available yet (the API's latest day for this endpoint: %s; it "
        "said: %s). Stopping here; the next run continues from this point.",
        stream,
        what,
        latest or "not named",
        message or "no message",
    )


def not_available_error(endpoint: str, message: str, url: str) -> DateNotAvailableError | None:
    """The "not available yet" error for a 400 reaching into recent days, else None."""
    today = windows.utc_now().date()
    if not url or not reaches_recent_days(url, today):
        return None
    return DateNotAvailableError(
        f"/{endpoint}: {redact(message) or 'no message'}", latest_day_named(message, url, today)
    )
