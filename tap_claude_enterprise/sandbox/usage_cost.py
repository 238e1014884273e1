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
from dataclasses import dataclass
from typing import Any

from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.sandbox.data import TOKEN_TYPES, UsageFact, format_micro
from tap_claude_enterprise.sandbox.params import (
    UTC,
    ApiError,
    Params,
    SandboxState,
    bad_request,
    check_report_start,
    first,
    floor_bucket,
    iso,
    listed,
    page_cursor,
    page_offset,
    parse_rfc3339,
    query_hash,
    start_of_day,
)
from tap_claude_enterprise.sandbox.settings import SANDBOX_ADMIN_KEY, UsageCostSettings

__all__ = ["BETA", "SANDBOX_ADMIN_KEY", "UsageCostSettings", "answer", "build_rows"]

BETA = "analytics-usage-cost-2026-08-24"
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


@dataclass(frozen=True)
class UsageCostQuery:
    """One ``/usage`` or ``/cost`` request, validated."""

    cost: bool
    start: dt.datetime
    end: dt.datetime
    width: str | None
    group_by: tuple[str, ...]
    filters: dict[str, frozenset[str]]
    limit: int


def answer(
    state: SandboxState, endpoint: Endpoint, params: Params, headers: Mapping[str, str]
) -> dict:
    """The body of one ``/usage`` or ``/cost`` request, or raise ``ApiError``."""
    s = state.settings.usage_cost
    _check_access(s, headers)
    query = parse_query(state, endpoint, params)
    offset = page_offset(endpoint.path, params, state.org.revision, expires=True)
    refreshed = state.data_refreshed_at()
    data_end = min(query.end, refreshed)
    cache_key = (
        "usage_cost", query_hash(endpoint.path, params), query.start, query.end, data_end,
        refreshed.date(), state.org.revision, s.actor_shape,
    )  # fmt: skip
    rows = state.report_rows.get(
        cache_key,
        lambda: build_rows(
            state,
            cost=query.cost,
            start=query.start,
            end=query.end,
            data_end=data_end,
            width=query.width,
            group_by=query.group_by,
            filters=query.filters,
            refreshed_day=refreshed.date(),
        ),
    )
    limit = query.limit
    more = offset + limit < len(rows)
    body: dict[str, Any] = {"data": rows[offset : offset + limit]}
    if s.has_more:
        body["has_more"] = more
    cursor = page_cursor(endpoint.path, params, offset + limit, state.org.revision)
    body["next_page"] = cursor if more else None
    if s.watermark:
        body["data_refreshed_at"] = iso(refreshed)
    if s.organization_id:
        body["organization_id"] = state.org.organization_id
    return body


def _check_access(s: UsageCostSettings, headers: Mapping[str, str]) -> None:
    """The beta: the organization must be on it and the request must name it."""
    if not s.enabled:
        if s.unavailable_status == 403:
            message = "This organization does not have access to this beta."
            raise ApiError(403, "permission_error", message)
        raise ApiError(404, "not_found_error", "Not found")
    betas = [b.strip() for b in (headers.get("anthropic-beta") or "").split(",")]
    if BETA not in betas:
        raise bad_request(f"This endpoint requires the anthropic-beta header: {BETA}")
    if not headers.get("anthropic-version"):
        raise bad_request("anthropic-version header is required")


def parse_query(state: SandboxState, endpoint: Endpoint, params: Params) -> UsageCostQuery:
    """Validate the window, bucket width, groups, filters and limit."""
    s = state.settings.usage_cost
    now = state.now()
    raw_start = first(params, "starting_at")
    if raw_start is None:
        raise bad_request("starting_at is required")
    start = parse_rfc3339("starting_at", raw_start)
    check_report_start(start, now)
    width = first(params, "time_bucket_width")
    if width is not None and width not in WIDTH_MINUTES:
        raise bad_request("time_bucket_width must be one of 1d, 1h, 1m")
    raw_end = first(params, "ending_at")
    if raw_end is None:
        end = min(now, start + dt.timedelta(days=31))
    else:
        end = parse_rfc3339("ending_at", raw_end)
    if s.cut_to_day:
        end = min(end, start_of_day(now))
    if width is None:
        end = floor_bucket(end, "1h")
    if end <= start:
        raise bad_request("Invalid date range: ending date must be after starting date")
    max_days = s.max_span_days.get(width or "1d", 31)
    if end - start > dt.timedelta(days=max_days):
        raise bad_request(
            f"the range from starting_at to ending_at may span at most {max_days} days "
            f"for time_bucket_width={width}"
            if s.span_error_names_max
            else "the date range is too long for this time_bucket_width"
        )
    cost = endpoint.trait("measure") == "cost"
    group_by = _group_by(params, COST_GROUP_BY if cost else USAGE_GROUP_BY)
    filters = _filters(params)
    limit = _limit(first(params, "limit"), s)
    if width is not None:
        start = floor_bucket(start, width)
    return UsageCostQuery(cost, start, end, width, group_by, filters, limit)


def _group_by(params: Params, allowed: tuple[str, ...]) -> tuple[str, ...]:
    group_by = listed(params, "group_by[]")
    for dim in group_by:
        if dim not in allowed:
            raise bad_request(f"group_by[] value {dim!r} is not supported on this endpoint")
    return group_by


def _filters(params: Params) -> dict[str, frozenset[str]]:
    filters = {}
    for name, dim in FILTERS.items():
        values = params.get(name)
        if values:
            if len(values) > 100:
                raise bad_request(f"{name} may have at most 100 items")
            filters[dim] = frozenset(values)
    return filters


def _limit(raw: str | None, s: UsageCostSettings) -> int:
    if raw is None:
        return s.default_limit
    try:
        limit = int(raw)
    except ValueError as exc:
        raise bad_request("limit must be an integer") from exc
    if limit < 1 or limit > s.max_limit:
        if s.limit_error_names_max:
            raise bad_request(f"limit must be between 1 and {s.max_limit}")
        raise bad_request("limit is too large")
    return limit


def fact_dimensions(state: SandboxState, fact: UsageFact) -> dict[str, Any]:
    """Every dimension value of one fact (the actor as an id and a type)."""
    if fact.actor_id is not None:
        actor_id = fact.actor_id
        actor_type = "api_key" if actor_id.startswith("apikey_") else "service_account"
    else:
        actor_id, actor_type = state.org.members[fact.member].user_id, "user"
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
    state: SandboxState, members: dict[str, Any], actor_id: str, actor_type: str, day: dt.date
) -> Any:
    shape = state.settings.usage_cost.actor_shape
    if shape == "id":
        return actor_id
    if shape == "flat":
        return {"id": actor_id, "type": actor_type}
    if actor_type == "user":
        return state.org.actor(members[actor_id], day)
    if actor_type == "api_key":
        return {"type": "api_key_actor", "api_key_id": actor_id}
    return {"type": "service_account_actor", "service_account_id": actor_id}


def build_rows(
    state: SandboxState,
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
    step = dt.timedelta(minutes=WIDTH_MINUTES[width]) if width else None
    grouped = [d for d in (COST_GROUP_BY if cost else USAGE_GROUP_BY) if d in group_by]
    plain = [d for d in grouped if d not in ("cost_type", "token_type")]
    facts = state.org.facts_between(start, data_end, org_wide=True) if data_end > start else ()
    totals = _totals(state, facts, cost=cost, start=start, step=step, plain=plain,
                     group_by=group_by, filters=filters, refreshed_day=refreshed_day)  # fmt: skip
    members = {m.user_id: m for m in state.org.members}
    fan_out = "cost_type" in group_by or "token_type" in group_by
    rows = []
    for (bucket, values, cost_type, token_type), acc in totals.items():
        group: dict[str, Any] = dict.fromkeys(COST_GROUP_BY if cost else USAGE_GROUP_BY)
        named = dict(zip(plain, values, strict=True))
        group.update(named)
        if "actor" in named:
            actor_type = _actor_type(named["actor"])
            group["actor"] = _actor(state, members, named["actor"], actor_type, bucket.date())
        if cost:
            group["cost_type"], group["token_type"] = cost_type, token_type
        row_end = bucket + step if step is not None else end
        row: dict[str, Any] = {
            "starting_at": iso(bucket),
            "ending_at": iso(min(row_end, end) if step is None else row_end),
            "group": group,
        }
        weight = _measures(row, acc, cost=cost, fan_out=fan_out)
        rows.append((bucket, -weight, json.dumps(group, sort_keys=True, default=str), row))
    rows.sort(key=lambda item: item[:3])
    return [row for *_, row in rows]


def _totals(
    state: SandboxState,
    facts: Any,
    *,
    cost: bool,
    start: dt.datetime,
    step: dt.timedelta | None,
    plain: list[str],
    group_by: tuple[str, ...],
    filters: dict[str, frozenset[str]],
    refreshed_day: dt.date,
) -> dict[tuple, dict[str, int]]:
    """Integer totals by (bucket, dimension values, cost_type, token_type)."""
    by_cost_type = "cost_type" in group_by
    by_token_type = "token_type" in group_by
    fan_out = by_cost_type or by_token_type
    totals: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fact in facts:
        dims = fact_dimensions(state, fact)
        if any(dims.get(dim) not in values for dim, values in filters.items()):
            continue
        moment = dt.datetime(fact.day.year, fact.day.month, fact.day.day, tzinfo=UTC)
        moment += dt.timedelta(minutes=fact.minute)
        bucket = start
        if step is not None:
            bucket = start + step * ((moment - start) // step)
        values = tuple(dims.get(d) for d in plain)
        if not cost:
            acc = totals[(bucket, values, None, None)]
            for token_type, count in zip(TOKEN_TYPES, fact.tokens, strict=False):
                acc[token_type] += count
            acc["web_search_requests"] += fact.web_search_requests
            acc["requests"] += fact.requests
            continue
        bump = state.org.cost_bump(fact.day, refreshed_day)
        for cost_type, token_type, amount, list_amount in fact.cost_atoms(bump):
            extra = (cost_type if by_cost_type else None, token_type if by_token_type else None)
            acc = totals[(bucket, values, *extra) if fan_out else (bucket, values, None, None)]
            acc["amount"] += amount
            acc["list_amount"] += list_amount
        if not fan_out:
            totals[(bucket, values, None, None)]["requests"] += fact.requests
    return totals


def _measures(row: dict[str, Any], acc: dict[str, int], *, cost: bool, fan_out: bool) -> int:
    """Add the ``cost`` or ``usage`` object to ``row``; return its ordering weight."""
    if cost:
        row["cost"] = {
            "amount": format_micro(acc.get("amount", 0)),
            "currency": "USD",
            "list_amount": format_micro(acc.get("list_amount", 0)),
            "requests": None if fan_out else acc.get("requests", 0),
        }
        return acc.get("amount", 0)
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
    return row["usage"]["total_tokens"]


def _actor_type(actor_id: str) -> str:
    if actor_id.startswith("apikey_"):
        return "api_key"
    if actor_id.startswith("svac_"):
        return "service_account"
    return "user"


def expected_total(
    state: SandboxState, *, start: dt.datetime, end: dt.datetime, field_name: str = "amount"
) -> int:
    """Total micro-cents (``amount`` or ``list_amount``) the sandbox holds for a range."""
    refreshed = state.data_refreshed_at()
    total = 0
    for fact in state.org.facts_between(start, min(end, refreshed), org_wide=True):
        bump = state.org.cost_bump(fact.day, refreshed.date())
        for _, _, amount, list_amount in fact.cost_atoms(bump):
            total += amount if field_name == "amount" else list_amount
    return total
