"""Which streams a key can read: the endpoint table's ``keys`` says, per endpoint.

An Admin API key (``sk-ant-admin01-...``, Claude Console) reads only the endpoints whose
``keys`` include ``admin`` (the Usage and Cost Analytics API); the others answer it with
403 ``permission_error`` "Missing required scopes. Got: ['api:admin'] Needed:
['read:analytics']". So with an Admin key those streams are skipped before any request,
one log line each. A key of another kind that gets that same answer skips the stream
that got it, like any endpoint the organization lacks (availability.py).

The Spend Limits API (``keys`` = admin only) needs an Admin key with
``read:spend_limits``: such a stream sends ``admin_api_key`` when it is set, else
``api_key`` when that is an Admin key (whether it has the scope, the API's answer
tells). With neither, those streams are skipped before any request, in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import Endpoint, KeyKind

ADMIN_KEY_PREFIX = "sk-ant-admin"
ADMIN_KEY_SETTING = "admin_api_key"
SPEND_LIMITS_SCOPE = "read:spend_limits"


def is_admin_key(api_key: object) -> bool:
    """Whether ``api_key`` is an Admin API key (``sk-ant-admin01-...``)."""
    return isinstance(api_key, str) and api_key.startswith(ADMIN_KEY_PREFIX)


def key_kind(api_key: object) -> KeyKind:
    """The kind of key, as the endpoint table names it."""
    return "admin" if is_admin_key(api_key) else "analytics"


def key_setting(endpoint: Endpoint, config: Mapping[str, Any]) -> str:
    """The setting whose key a stream sends: ``api_key`` unless only an Admin key can read
    the endpoint and ``admin_api_key`` is set."""
    if "analytics" in endpoint.keys or not config.get(ADMIN_KEY_SETTING):
        return "api_key"
    return ADMIN_KEY_SETTING


def admin_only() -> list[str]:
    """The streams only an Admin key reads (the Spend Limits API), in sync order."""
    return [e.name for e in endpoints.ENDPOINTS if e.keys == endpoints.ADMIN_ONLY]


def analytics_and_admin() -> list[str]:
    """The streams either kind of key reads (usage and cost), in sync order."""
    return [e.name for e in endpoints.ENDPOINTS if e.keys == endpoints.ANALYTICS_OR_ADMIN]


def skip_spend_limits_without_key(
    config: Mapping[str, Any], streams: Mapping[str, Any], logger: Any
) -> list[str]:
    """Deselect the Admin-only streams when no Admin key is configured; one line; names."""
    if config.get(ADMIN_KEY_SETTING) or is_admin_key(config.get("api_key")):
        return []
    skipped = [n for n in admin_only() if n in streams and streams[n].selected]
    for name in skipped:
        streams[name].selected = False
    if skipped:
        logger.warning(
            "Skipping %s: the Spend Limits API needs an Admin API key with %s; set "
            "%s (api_key is an Analytics key).",
            ", ".join(skipped),
            SPEND_LIMITS_SCOPE,
            ADMIN_KEY_SETTING,
        )
    return skipped


def readable_streams(api_key: object, names: Iterable[str]) -> list[str]:
    """The streams of ``names`` a key of this kind can read (unknown names: kept)."""
    kind = key_kind(api_key)
    table = endpoints.by_name(endpoints.ENDPOINTS)
    # Admin-only streams are judged by skip_spend_limits_without_key and the API's answer.
    return [n for n in names if n not in table or kind in table[n].keys or n in admin_only()]


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
            " and ".join(analytics_and_admin()),
        )
    return skipped
