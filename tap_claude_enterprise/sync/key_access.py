"""Which streams a key can read: the endpoint table's ``keys`` says, per endpoint.

An Admin API key (``sk-ant-admin01-...``, Claude Console) reads only the endpoints whose
``keys`` include ``admin`` (the Usage and Cost Analytics API); the others answer it with
403 ``permission_error`` "Missing required scopes. Got: ['api:admin'] Needed:
['read:analytics']". So with an Admin key those streams are skipped before any request,
one log line each. A key of another kind that gets that same answer skips the stream
that got it, like any endpoint the organization lacks (availability.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import KeyKind

ADMIN_KEY_PREFIX = "sk-ant-admin"


def is_admin_key(api_key: object) -> bool:
    """Whether ``api_key`` is an Admin API key (``sk-ant-admin01-...``)."""
    return isinstance(api_key, str) and api_key.startswith(ADMIN_KEY_PREFIX)


def key_kind(api_key: object) -> KeyKind:
    """The kind of key, as the endpoint table names it."""
    return "admin" if is_admin_key(api_key) else "analytics"


def readable_streams(api_key: object, names: Iterable[str]) -> list[str]:
    """The streams of ``names`` a key of this kind can read (unknown names: kept)."""
    kind = key_kind(api_key)
    table = endpoints.by_name(endpoints.ENDPOINTS)
    return [n for n in names if n not in table or kind in table[n].keys]


def admin_readable() -> list[str]:
    """The streams an Admin key can read, in sync order."""
    return [e.name for e in endpoints.ENDPOINTS if "admin" in e.keys]


def skip_streams_key_cannot_read(
    api_key: object, streams: Mapping[str, Any], logger: Any
) -> list[str]:
    """Deselect the streams this kind of key cannot read; one line each; their names."""
    selected = [name for name, stream in streams.items() if stream.selected]
    readable = set(readable_streams(api_key, selected))
    skipped = [name for name in selected if name not in readable]
    for name in skipped:
        streams[name].selected = False
        logger.warning(
            "Skipping %s: an Admin key cannot read /%s (it needs an Analytics key with "
            "read:analytics); %s carry the same tokens and spend.",
            name,
            streams[name].endpoint,
            " and ".join(admin_readable()),
        )
    return skipped
