"""The sandbox's public request layer, part two: the route table.

``build_routes()`` reads ``tap_claude_enterprise.endpoints.ENDPOINTS`` when it is called
(each ``SandboxServer`` calls it once, when built), so a test that adds an ``Endpoint`` to
the table with monkeypatch gets it served: path -> ``Route`` (the table entry and its
family's handler). ``answer`` checks the key the way the endpoint's family does, then calls
the handler. Part one, ``params.py``, holds the parameter, error, cursor and time helpers
the family handlers share; the handlers live in modules named for their family:
``engagement.py`` (daily, summaries), ``reports.py`` (report), ``usage_cost.py``.

A new endpoint of an existing family is its table entry plus its sandbox data (for a daily
endpoint: a rows function in ``data.DAILY_ROWS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tap_claude_enterprise import endpoints as endpoint_table
from tap_claude_enterprise.endpoints import ORGANIZATION_BASE, Endpoint, Family
from tap_claude_enterprise.sandbox import engagement, reports, spend_limits, usage_cost
from tap_claude_enterprise.sandbox.params import (
    MISSING_SCOPE,
    ApiError,
    Params,
    SandboxState,
)

PREFIX = "/v1/organizations/analytics/"
# The Spend Limits endpoints (``base`` = ORGANIZATION_BASE) live directly under it.
ORGANIZATION_PREFIX = ORGANIZATION_BASE + "/"

Handler = Callable[[SandboxState, Endpoint, Params, Mapping[str, str]], dict]


def _daily(state: SandboxState, ep: Endpoint, params: Params, _h: Mapping[str, str]) -> dict:
    return engagement.answer_daily(state, ep, params)


def _summaries(state: SandboxState, ep: Endpoint, params: Params, _h: Mapping[str, str]) -> dict:
    return engagement.answer_summaries(state, ep, params)


def _report(state: SandboxState, ep: Endpoint, params: Params, _h: Mapping[str, str]) -> dict:
    return reports.answer_report(state, ep, params)


# Each family's handler.
FAMILY_HANDLERS: dict[Family, Handler] = {
    "daily": _daily,
    "summaries": _summaries,
    "report": _report,
    "usage_cost": usage_cost.answer,
    "spend_limits": spend_limits.answer,
}
# What a wrong key gets: the engagement endpoints answer 404 (as the real API does), the
# reports and Usage & Cost 401.
_WRONG_KEY: dict[Family, ApiError] = {
    "daily": ApiError(
        404, "not_found_error", "API key is missing, invalid, or lacks the read:analytics scope"
    ),
    "summaries": ApiError(
        404, "not_found_error", "API key is missing, invalid, or lacks the read:analytics scope"
    ),
    "report": ApiError(401, "authentication_error", "invalid x-api-key"),
    "usage_cost": ApiError(401, "authentication_error", "invalid x-api-key"),
    "spend_limits": ApiError(401, "authentication_error", "invalid x-api-key"),
}


@dataclass(frozen=True)
class Route:
    """One served path: its table entry and its family's handler."""

    endpoint: Endpoint
    handler: Handler


def build_routes(table: tuple[Endpoint, ...] | None = None) -> dict[str, Route]:
    """Path (under ``PREFIX``) -> route, from the endpoint table as it is now."""
    entries = endpoint_table.ENDPOINTS if table is None else table
    return {e.path: Route(e, FAMILY_HANDLERS[e.family]) for e in entries}


def route_path(routes: Mapping[str, Route], url_path: str) -> str | None:
    """The route key of a request path (``users``, ``spend_limits/effective``), or None.

    A spend-limit path is served only under its own base, an analytics path only under
    ``PREFIX``.
    """
    if url_path.startswith(PREFIX):
        path = url_path[len(PREFIX) :].strip("/")
        route = routes.get(path)
        return path if route is None or route.endpoint.base != ORGANIZATION_BASE else None
    if url_path.startswith(ORGANIZATION_PREFIX):
        path = url_path[len(ORGANIZATION_PREFIX) :].strip("/")
        route = routes.get(path)
        return path if route is not None and route.endpoint.base == ORGANIZATION_BASE else None
    return None


def key_kind(state: SandboxState, key: str | None) -> str:
    """Which sandbox key a request carried (for the request log; never the key)."""
    settings = state.settings
    kinds = {
        settings.api_key: "analytics",
        settings.usage_cost.admin_key: "admin",
        settings.spend_limits.key: "admin_spend_limits",
    }
    return kinds.get(key or "", "other")


def check_key(state: SandboxState, endpoint: Endpoint | None, key: str | None) -> None:
    """Refuse a key the endpoint does not accept, as the API does.

    An unknown path is judged like an engagement endpoint (only an Analytics key gets as
    far as "no such endpoint").
    """
    settings = state.settings
    admin_key = settings.usage_cost.admin_key
    kinds = endpoint.keys if endpoint is not None else endpoint_table.ANALYTICS_ONLY
    if key == settings.api_key and "analytics" in kinds:
        return
    if endpoint is not None and endpoint.family == "spend_limits":
        if key == settings.spend_limits.key:
            return
        if key in (settings.api_key, admin_key):  # a valid key without read:spend_limits
            raise ApiError(403, "permission_error", spend_limits.MISSING_LIMITS_SCOPE)
        raise _WRONG_KEY["spend_limits"]
    if key == settings.spend_limits.key and "admin" in kinds:  # both Admin scopes
        return
    if key == admin_key:
        if "admin" in kinds:
            return
        raise ApiError(403, "permission_error", MISSING_SCOPE)
    raise _WRONG_KEY[endpoint.family if endpoint is not None else "daily"]


def answer(
    state: SandboxState,
    routes: Mapping[str, Route],
    path: str,
    params: Params,
    key: str | None,
    *,
    headers: Mapping[str, str],
) -> dict:
    """The JSON-ready body for one API request, or raise ``ApiError``."""
    route = routes.get(path)
    check_key(state, route.endpoint if route else None, key)
    if route is None:
        raise ApiError(404, "not_found_error", "no such endpoint")
    return route.handler(state, route.endpoint, params, headers)
