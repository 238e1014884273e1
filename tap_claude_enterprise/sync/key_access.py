"""Which streams a key can read: Analytics keys read all thirteen, Admin keys two.

An Admin API key (``sk-ant-admin01-...``, Claude Console) reads the Usage and Cost
Analytics API (``usage``, ``cost``); the eleven older endpoints answer it with 403
``permission_error`` "Missing required scopes. Got: ['api:admin'] Needed:
['read:analytics']". So with an Admin key those streams are skipped before any request,
one log line each. A key of another kind that gets that same answer skips the stream
that got it, like any endpoint the organization lacks (availability.py).
"""

from __future__ import annotations

from typing import Any

ADMIN_READABLE = frozenset({"usage", "cost"})
ADMIN_KEY_PREFIX = "sk-ant-admin"


def is_admin_key(api_key: object) -> bool:
    """Whether ``api_key`` is an Admin API key (``sk-ant-admin01-...``)."""
    return isinstance(api_key, str) and api_key.startswith(ADMIN_KEY_PREFIX)


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
