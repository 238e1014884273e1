"""``restate_from``: re-read named streams from a given day, once, leaving the others be.

For a data fix the API announces ("counts from 2026-11-17 on can change"): the setting
maps stream names to days, ``{"user_activity": "2026-11-17"}``. For one run the named
stream's bookmark counts as no later than that day, so the run starts there (never
before ``start_date``) and walks on as usual; other streams are untouched.

Once the run has committed a bookmark, the stream's state records the day it restated
from (``restated_from``), so later runs with the same setting do not re-read again:
leaving the setting in place is harmless, and a new day restates once more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from tap_claude_enterprise.sync.windows import parse_day

SETTING = "restate_from"
# The stream state's record of the last restatement (a day, as the setting gave it).
STATE_KEY = "restated_from"


def pending(config: Mapping[str, Any], stream: str, state: Mapping[str, Any]) -> str | None:
    """The day ``stream`` is to be restated from in this run, as set; None: nothing to do."""
    day = (config.get(SETTING) or {}).get(stream)
    if not day:
        return None
    day = str(day)[:10]
    return None if state.get(STATE_KEY) == day else day


def pending_day(config: Mapping[str, Any], stream: str, state: Mapping[str, Any]) -> dt.date | None:
    """``pending`` as a date."""
    return parse_day(pending(config, stream, state))


def mark_done(config: Mapping[str, Any], stream: str, state: dict[str, Any]) -> None:
    """Record in the stream's state that its restatement is done (called with a bookmark)."""
    day = pending(config, stream, state)
    if day is not None:
        state[STATE_KEY] = day


def settings_errors(config: Mapping[str, Any], streams: Iterable[str]) -> list[str]:
    """A stream name that does not exist or a value that is not a day, one line each."""
    value = config.get(SETTING)
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"{SETTING} must be an object of stream name -> day (YYYY-MM-DD)"]
    known = list(streams)
    errors = []
    unknown = [name for name in value if name not in known]
    if unknown:
        # Not the names given (settings stay out of messages): the names allowed.
        errors.append(f"{SETTING} names a stream the tap does not have; known: {', '.join(known)}")
    for name, day in value.items():
        if name not in unknown and not _is_day(day):
            errors.append(f"{SETTING}.{name} must be a day in YYYY-MM-DD form")
    return errors


def _is_day(value: Any) -> bool:
    try:
        return parse_day(value) is not None
    except (TypeError, ValueError):
        return False
