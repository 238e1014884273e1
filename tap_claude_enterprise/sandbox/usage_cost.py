"""``/usage`` and ``/cost`` (the beta Usage and Cost Analytics API) in the sandbox.

The rows come from the same usage facts as the legacy reports, so per day, model and
product ``/usage`` and ``/cost`` total exactly what ``/usage_report`` and ``/cost_report``
do; usage of API keys and service accounts is in them (and in the org-wide legacy
reports) but never in the per-user reports.

Where the docs are silent (largest page size, longest range, envelope keys, actor shape,
how an organization not on the beta is refused) ``UsageCostSettings`` holds a switch for
each answer, so tests can check the tap copes with every one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_claude_enterprise.sandbox.data import FIRST_DAY, TOKEN_TYPES, UsageFact, format_micro

if TYPE_CHECKING:
    from tap_claude_enterprise.sandbox.server import SandboxServer

ENDPOINTS = ("usage", "cost")
BETA = "analytics-usage-cost-2026-08-24"
SANDBOX_ADMIN_KEY = "sk-ant-admin01-sandbox"
MISSING_SCOPE = "Missing required scopes. Got: ['api:admin'] Needed: ['read:analytics']"
USAGE_GROUP_BY = (
    "actor", "actor_type", "agent_id", "api_key_id", "claude_tag_category",
    "claude_tag_user_id", "context_window", "deployment_id", "environment_id",
    "inference_geo", "model", "product", "rbac_group_id", "service_tier", "session_id",
    "slack_channel_id", "speed", "user_profile_id", "workspace_id",
)  # fmt: skip
COST_GROUP_BY = (*USAGE_GROUP_BY, "cost_type", "token_type")
FILTERS = {
    "actor_ids[]": "actor",
    "actor_types[]": "actor_type",
    "api_key_ids[]": "api_key_id",
    "workspace_ids[]": "workspace_id",
    "products[]": "product",
    "models[]": "model",
    "service_tiers[]": "service_tier",
}
WIDTH_MINUTES = {"1d": 1440, "1h": 60, "1m": 1}


@dataclass
class UsageCostSettings:
    """How ``/usage`` and ``/cost`` answer where the docs do not say."""

    enabled: bool = True  # False: the organization is not on the beta
    unavailable_status: int = 404  # how it is refused then: 404 not_found or 403 permission
    admin_key: str = SANDBOX_ADMIN_KEY
    max_limit: int = 1000
    default_limit: int = 100
    limit_error_names_max: bool = True  # False: "limit is too large", no number
    max_span_days: dict[str, int] = field(default_factory=lambda: {"1d": 31, "1h": 31, "1m": 1})
    span_error_names_max: bool = True
    has_more: bool = True  # False: the envelope has only data and next_page
    watermark: bool = True  # False: no data_refreshed_at in the envelope
    organization_id: bool = True
    actor_shape: str = "tagged"  # "flat": {"id", "type"}; "id": a bare id string
    cut_to_day: bool = False  # ending_at silently cut to today's start (Console reports)


def _error(status: int, error_type: str, message: str) -> Exception:
    from tap_claude_enterprise.sandbox.server import ApiError

    return ApiError(status, error_type, message)


def _bad(message: str) -> Exception:
    return _error(400, "invalid_request_error", message)


def refuse_admin_key(server: SandboxServer, endpoint: str, key: str | None) -> None:
    """An Admin key on one of the eleven older endpoints: 403, as the real API answers."""
    if endpoint not in ENDPOINTS and key == server.settings.usage_cost.admin_key:
        raise _error(403, "permission_error", MISSING_SCOPE)


def answer(
    server: SandboxServer,
    endpoint: str,
    params: dict[str, list[str]],
    key: str | None,
    headers: Mapping[str, str],
) -> dict:
    """The body of one ``/usage`` or ``/cost`` request, or raise ``ApiError``."""
    from tap_claude_enterprise.sandbox.server import _floor, _iso, _parse_rfc3339, _query_hash

    s = server.settings.usage_cost
    if key not in (server.settings.api_key, s.admin_key):
        raise _error(401, "authentication_error", "invalid x-api-key")
    if not s.enabled:
        if s.unavailable_status == 403:
            message = "This organization does not have access to this beta."
            raise _error(403, "permission_error", message)
        raise _error(404, "not_found_error", "Not found")
    betas = [b.strip() for b in (headers.get("anthropic-beta") or "").split(",")]
    if BETA not in betas:
        raise _bad(f"This endpoint requires the anthropic-beta header: {BETA}")
    if not headers.get("anthropic-version"):
        raise _bad("anthropic-version header is required")
    first = server._first
    now = server.now()
    raw_start = first(params, "starting_at")
    if raw_start is None:
        raise _bad("starting_at is required")
    start = _parse_rfc3339("starting_at", raw_start)
    if start < dt.datetime(FIRST_DAY.year, 1, 1, tzinfo=dt.timezone.utc):
        raise _bad("starting_at must be on or after 2026-01-01T00:00:00Z")
    if start < now - dt.timedelta(days=365):
        raise _bad("starting_at must be within the last 365 days")
    width = first(params, "time_bucket_width")
    if width is not None and width not in WIDTH_MINUTES:
        raise _bad("time_bucket_width must be one of 1d, 1h, 1m")
    raw_end = first(params, "ending_at")
    if raw_end is None:
        end = min(now, start + dt.timedelta(days=31))
    else:
        end = _parse_rfc3339("ending_at", raw_end)
    if s.cut_to_day:
        end = min(end, now.replace(hour=0, minute=0, second=0, microsecond=0))
    if width is None:
        end = _floor(end, "1h")
    if end <= start:
        raise _bad("Invalid date range: ending date must be after starting date")
    max_days = s.max_span_days.get(width or "1d", 31)
    if end - start > dt.timedelta(days=max_days):
        raise _bad(
            f"the range from starting_at to ending_at may span at most {max_days} days "
            f"for time_bucket_width={width}"
            if s.span_error_names_max
            else "the date range is too long for this time_bucket_width"
        )
    allowed = COST_GROUP_BY if endpoint == "cost" else USAGE_GROUP_BY
    group_by = tuple(params.get("group_by[]", []))
    for dim in group_by:
        if dim not in allowed:
            raise _bad(f"group_by[] value {dim!r} is not supported on this endpoint")
    filters = {}
    for name, dim in FILTERS.items():
        values = params.get(name)
        if values:
            if len(values) > 100:
                raise _bad(f"{name} may have at most 100 items")
            filters[dim] = frozenset(values)
    limit = _limit(first(params, "limit"), s)
    if width is not None:
        start = _floor(start, width)
    offset = server._offset(endpoint, params, report=True)
    refreshed = server.data_refreshed_at()
    data_end = min(end, refreshed)
    cache_key = (
        "usage_cost", _query_hash(endpoint, params), start, end, data_end,
        refreshed.date(), server.org.revision, s.actor_shape,
    )  # fmt: skip
    rows = server._report_rows.get(
        cache_key,
        lambda: build_rows(
            server,
            cost=endpoint == "cost",
            start=start,
            end=end,
            data_end=data_end,
            width=width,
            group_by=group_by,
            filters=filters,
            refreshed_day=refreshed.date(),
        ),
    )
    page = rows[offset : offset + limit]
    more = offset + limit < len(rows)
    body: dict[str, Any] = {"data": page}
    if s.has_more:
        body["has_more"] = more
    cursor = server._cursor(endpoint, params, offset + limit) if more else None
    body["next_page"] = cursor
    if s.watermark:
        body["data_refreshed_at"] = _iso(refreshed)
    if s.organization_id:
        body["organization_id"] = server.org.organization_id
    return body


def _limit(raw: str | None, s: UsageCostSettings) -> int:
    if raw is None:
        return s.default_limit
    try:
        limit = int(raw)
    except ValueError as exc:
        raise _bad("limit must be an integer") from exc
    if limit < 1 or limit > s.max_limit:
        if s.limit_error_names_max:
            raise _bad(f"limit must be between 1 and {s.max_limit}")
        raise _bad("limit is too large")
    return limit


def fact_dimensions(server: SandboxServer, fact: UsageFact) -> dict[str, Any]:
    """Every dimension value of one fact (the actor as an id and a type)."""
    if fact.actor_id is not None:
        actor_id = fact.actor_id
        actor_type = "api_key" if actor_id.startswith("apikey_") else "service_account"
    else:
        actor_id, actor_type = server.org.members[fact.member].user_id, "user"
    return {
        "actor": actor_id,
        "actor_type": actor_type,
        "api_key_id": actor_id if actor_type == "api_key" else None,
        "workspace_id": fact.workspace_id,
        "product": fact.product,
        "model": fact.model,
        "context_window": fact.context_window,
        "inference_geo": fact.inference_geo,
        "speed": fact.speed,
        "service_tier": fact.service_tier,
    }


def _actor(
    server: SandboxServer, members: dict[str, Any], actor_id: str, actor_type: str, day: dt.date
) -> Any:
    shape = server.settings.usage_cost.actor_shape
    if shape == "id":
        return actor_id
    if shape == "flat":
        return {"id": actor_id, "type": actor_type}
    if actor_type == "user":
        return server.org.actor(members[actor_id], day)
    if actor_type == "api_key":
        return {"type": "api_key_actor", "api_key_id": actor_id}
    return {"type": "service_account_actor", "service_account_id": actor_id}


def build_rows(
    server: SandboxServer,
    *,
    cost: bool,
    start: dt.datetime,
    end: dt.datetime,
    data_end: dt.datetime,
    width: str | None,
    group_by: tuple[str, ...],
    filters: dict[str, frozenset[str]],
    refreshed_day: dt.date,
) -> list[dict]:
    """Every row of a query, largest first within each bucket."""
    from tap_claude_enterprise.sandbox.server import _iso

    org = server.org
    step = dt.timedelta(minutes=WIDTH_MINUTES[width]) if width else None
    grouped = [d for d in (COST_GROUP_BY if cost else USAGE_GROUP_BY) if d in group_by]
    by_cost_type = "cost_type" in group_by
    by_token_type = "token_type" in group_by
    totals: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    facts = org.facts_between(start, data_end, org_wide=True) if data_end > start else ()
    for fact in facts:
        dims = fact_dimensions(server, fact)
        if any(dims.get(dim) not in values for dim, values in filters.items()):
            continue
        moment = dt.datetime(fact.day.year, fact.day.month, fact.day.day, tzinfo=dt.timezone.utc)
        moment += dt.timedelta(minutes=fact.minute)
        bucket = start
        if step is not None:
            bucket = start + step * ((moment - start) // step)
        values = tuple(dims.get(d) for d in grouped if d not in ("cost_type", "token_type"))
        if not cost:
            acc = totals[(bucket, values, None, None)]
            for token_type, count in zip(TOKEN_TYPES, fact.tokens, strict=False):
                acc[token_type] += count
            acc["web_search_requests"] += fact.web_search_requests
            acc["requests"] += fact.requests
            continue
        bump = org.cost_bump(fact.day, refreshed_day)
        fan_out = by_cost_type or by_token_type
        for cost_type, token_type, amount, list_amount in fact.cost_atoms(bump):
            extra = (cost_type if by_cost_type else None, token_type if by_token_type else None)
            acc = totals[(bucket, values, *extra) if fan_out else (bucket, values, None, None)]
            acc["amount"] += amount
            acc["list_amount"] += list_amount
        if not fan_out:
            totals[(bucket, values, None, None)]["requests"] += fact.requests
    plain = [d for d in grouped if d not in ("cost_type", "token_type")]
    members = {m.user_id: m for m in org.members}
    rows = []
    for (bucket, values, cost_type, token_type), acc in totals.items():
        group: dict[str, Any] = dict.fromkeys(COST_GROUP_BY if cost else USAGE_GROUP_BY)
        named = dict(zip(plain, values, strict=True))
        group.update(named)
        if "actor" in named:
            actor_type = _actor_type(named["actor"])
            group["actor"] = _actor(server, members, named["actor"], actor_type, bucket.date())
        if cost:
            group["cost_type"], group["token_type"] = cost_type, token_type
        row_end = bucket + step if step is not None else end
        row: dict[str, Any] = {
            "starting_at": _iso(bucket),
            "ending_at": _iso(min(row_end, end) if step is None else row_end),
            "group": group,
        }
        if cost:
            fan_out = by_cost_type or by_token_type
            row["cost"] = {
                "amount": format_micro(acc.get("amount", 0)),
                "currency": "USD",
                "list_amount": format_micro(acc.get("list_amount", 0)),
                "requests": None if fan_out else acc.get("requests", 0),
            }
            weight = acc.get("amount", 0)
        else:
            tokens = {t: acc.get(t, 0) for t in TOKEN_TYPES}
            row["usage"] = {
                "uncached_input_tokens": tokens["uncached_input_tokens"],
                "cache_creation": {
                    "ephemeral_1h_input_tokens": tokens["cache_creation.ephemeral_1h_input_tokens"],
                    "ephemeral_5m_input_tokens": tokens["cache_creation.ephemeral_5m_input_tokens"],
                },
                "cache_read_input_tokens": tokens["cache_read_input_tokens"],
                "output_tokens": tokens["output_tokens"],
                "server_tool_use": {"web_search_requests": acc.get("web_search_requests", 0)},
                "requests": acc.get("requests", 0),
                "total_tokens": sum(tokens.values()),
            }
            weight = row["usage"]["total_tokens"]
        rows.append((bucket, -weight, json.dumps(group, sort_keys=True, default=str), row))
    rows.sort(key=lambda item: item[:3])
    return [row for *_, row in rows]


def _actor_type(actor_id: str) -> str:
    if actor_id.startswith("apikey_"):
        return "api_key"
    if actor_id.startswith("svac_"):
        return "service_account"
    return "user"


def expected_total(
    server: SandboxServer, *, start: dt.datetime, end: dt.datetime, field_name: str = "amount"
) -> int:
    """Total micro-cents (``amount`` or ``list_amount``) the sandbox holds for a range."""
    refreshed = server.data_refreshed_at()
    total = 0
    for fact in server.org.facts_between(start, min(end, refreshed), org_wide=True):
        bump = server.org.cost_bump(fact.day, refreshed.date())
        for _, _, amount, list_amount in fact.cost_atoms(bump):
            total += amount if field_name == "amount" else list_amount
    return total
