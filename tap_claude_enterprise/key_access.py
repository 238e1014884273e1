"""Which streams a key can read: Analytics keys read all thirteen, Admin keys two.

An Admin API key (``sk-ant-admin01-...``, Claude Console) reads the Usage and Cost
Analytics API (``usage``, ``cost``); the eleven older endpoints answer it with 403
``permission_error`` "Missing required scopes. Got: ['api:admin'] Needed:
['read:analytics']". So with an Admin key those streams are skipped before any request,
one log line each, and a key of another kind that gets that same answer skips the stream
that got it instead of failing the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_claude_enterprise.errors import AuthenticationError, redact
from tap_claude_enterprise.windows import format_timestamp, utc_now

if TYPE_CHECKING:
    from tap_claude_enterprise.client import AnalyticsStream

ADMIN_READABLE = frozenset({"usage", "cost"})
ADMIN_KEY_PREFIX = "sk-ant-admin"
MISSING_SCOPE_HINT = "missing required scopes"


def is_admin_key(api_key: object) -> bool:
    """Whether ``api_key`` is an Admin API key (``sk-ant-admin01-...``)."""
    return isinstance(api_key, str) and api_key.startswith(ADMIN_KEY_PREFIX)


class MissingScopeError(AuthenticationError):
    """403 ``permission_error``: the key works but lacks ``read:analytics``."""


def is_missing_scope(status: int, message: str) -> bool:
    """Whether an answer says the key lacks a scope (as Admin keys on older endpoints)."""
    return status == 403 and MISSING_SCOPE_HINT in message.lower()


def readable_streams(api_key: object, names: list[str]) -> list[str]:
    """The streams of ``names`` a key of this kind can read."""
    if is_admin_key(api_key):
        return [n for n in names if n in ADMIN_READABLE]
    return list(names)


def skip_streams_key_cannot_read(tap: Any) -> list[str]:
    """Deselect the streams an Admin key cannot read; one line each; return their names."""
    api_key = tap.config.get("api_key")
    selected = [name for name, stream in tap.streams.items() if stream.selected]
    readable = set(readable_streams(api_key, selected))
    skipped = [name for name in selected if name not in readable]
    for name in skipped:
        tap.streams[name].selected = False
        tap.logger.warning(
            "Skipping %s: an Admin key cannot read /%s (it needs an Analytics key with "
            "read:analytics); usage and cost carry the same tokens and spend.",
            name,
            tap.streams[name].endpoint,
        )
    return skipped


@contextmanager
def skip_on_missing_scope(stream: AnalyticsStream) -> Iterator[None]:
    """Turn a "missing required scopes" 403 into one warning and an empty stream."""
    try:
        yield
    except MissingScopeError as exc:
        stream.stats["skipped"] = 1
        stream.logger.warning("Skipping %s: %s", stream.name, exc)


def usage_cost_probe(tap: Any) -> tuple[bool, str]:
    """One small ``/usage`` request: (readable, what to tell the user)."""
    from tap_claude_enterprise.streams.usage_cost import (
        EndpointUnavailableError,
        RangeNotServedError,
    )

    stream = tap.streams["usage"]
    end = utc_now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    end = end.replace(hour=0)
    context = {
        "starting_at": format_timestamp(end - dt.timedelta(days=1)),
        "ending_at": format_timestamp(end),
    }
    try:
        next(iter(stream.fetch_pages(context)))
    except EndpointUnavailableError as exc:
        return False, f"usage and cost are not available to this key or organization ({exc})"
    except RangeNotServedError:
        return True, "usage and cost: readable"
    except (FatalAPIError, RetriableAPIError) as exc:
        return False, redact(str(exc), limit=600)
    return True, "usage and cost: readable"
