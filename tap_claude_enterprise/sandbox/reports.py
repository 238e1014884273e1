"""The ``report`` family in the sandbox: ``/usage_report``, ``/cost_report`` and the
per-user ``/user_usage_report``, ``/user_cost_report``.

RFC 3339 windows of up to 31 days, ``group_by[]`` dimensions, paged with ``next_page`` and
``has_more``; a revision of the data expires cursors (410). The table entry's traits say
which report it is: ``measure`` (usage or cost) and ``per_user``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.sandbox.data import TOKEN_TYPES, format_micro
from tap_claude_enterprise.sandbox.params import (
    BUCKET_MINUTES,
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
    parse_limit,
    parse_rfc3339,
    query_hash,
)

BASE_DIMENSIONS = ("product", "model", "context_window", "inference_geo", "speed")
LATEST_DIMENSIONS = (
    "claude_tag_category",
    "claude_tag_user_id",
    "rbac_group_id",
    "slack_channel_id",
)
USAGE_GROUP_BY = frozenset(BASE_DIMENSIONS + LATEST_DIMENSIONS)
COST_GROUP_BY = USAGE_GROUP_BY | {"cost_type", "token_type"}
MAX_BUCKETS = {"1d": 31, "1h": 168, "1m": 256}
DEFAULT_BUCKETS = {"1d": 7, "1h": 24, "1m": 60}


@dataclass(frozen=True)
class ReportQuery:
    """One report request, validated: what the rows depend on."""

    kind: str  # usage or cost
    per_user: bool
    start: dt.datetime
    end: dt.datetime
    width: str | None
    group_by: tuple[str, ...]
    limit: int
    shape: str


def answer_report(state: SandboxState, endpoint: Endpoint, params: Params) -> dict:
    """One page of a report."""
    query = parse_query(state, endpoint, params)
    offset = page_offset(endpoint.path, params, state.org.revision, expires=True)
    refreshed = state.data_refreshed_at()
    data_end = min(query.end, refreshed)
    # The query hash covers every parameter but the cursor (order_by, order, groups).
    key = (
        query_hash(endpoint.path, params), query.start, query.end, data_end, refreshed.date(),
        state.org.revision, state.settings.shape,
    )  # fmt: skip
    results = state.report_rows.get(
        key, lambda: build_results(state, query, params, data_end, refreshed.date())
    )
    page = results[offset : offset + query.limit]
    data = [row for group in page for row in group] if query.per_user else page
    more = offset + query.limit < len(results)
    return {
        "data": data,
        "has_more": more,
        "next_page": page_cursor(endpoint.path, params, offset + query.limit, state.org.revision)
        if more
        else None,
        "data_refreshed_at": iso(refreshed),
        "organization_id": state.org.organization_id,
    }


def parse_query(state: SandboxState, endpoint: Endpoint, params: Params) -> ReportQuery:
    """Validate a report request as the API does."""
    kind, per_user = endpoint.trait("measure", "usage"), bool(endpoint.trait("per_user"))
    now = state.now()
    raw_start = first(params, "starting_at")
    if raw_start is None:
        raise bad_request("starting_at is required")
    start = parse_rfc3339("starting_at", raw_start)
    check_report_start(start, now)
    raw_end = first(params, "ending_at")
    width = first(params, "bucket_width")
    if width is not None and width not in MAX_BUCKETS:
        raise bad_request("bucket_width must be one of 1d, 1h, 1m")
    if per_user and width is not None and raw_end is None:
        raise bad_request("ending_at is required when bucket_width is set")
    if raw_end is None:
        end = min(now, start + dt.timedelta(days=31))
    else:
        end = parse_rfc3339("ending_at", raw_end)
    if end <= start:
        raise bad_request("ending_at must be after starting_at")
    if end - start > dt.timedelta(days=31):
        raise bad_request("the range from starting_at to ending_at may span at most 31 days")
    if per_user and width == "1m" and end - start > dt.timedelta(hours=24):
        raise bad_request("with bucket_width=1m the range may span at most 24 hours")
    group_by = listed(params, "group_by[]")
    allowed = COST_GROUP_BY if kind == "cost" else USAGE_GROUP_BY
    for dim in group_by:
        if dim not in allowed:
            raise bad_request(
                f"group_by[] value {dim!r} is not supported on this endpoint; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
    if per_user:
        start, limit = floor_bucket(start, "1h"), parse_limit(params, 20, 1000)
    else:
        width = width or "1d"
        start, end = floor_bucket(start, width), floor_bucket(end, width)
        if end <= start:
            raise bad_request("the range covers no whole bucket")
        limit = parse_limit(params, DEFAULT_BUCKETS[width], MAX_BUCKETS[width])
    return ReportQuery(kind, per_user, start, end, width, group_by, limit, state.settings.shape)


def build_results(
    state: SandboxState,
    query: ReportQuery,
    params: Params,
    data_end: dt.datetime,
    refreshed_day: dt.date,
) -> list[Any]:
    """Every page slot of a query: per-user row groups, or buckets."""
    totals = (
        state.org.report_rows(
            kind=query.kind,
            per_user=query.per_user,
            start=query.start,
            end=data_end,
            width=query.width or "1d",
            group_by=query.group_by,
            refreshed_day=refreshed_day,
            bucketed=query.width is not None,
        )
        if data_end > query.start
        else {}
    )
    if query.per_user:
        return per_user_groups(state, totals, query, params)
    return buckets(totals, query)


def dimension_fields(
    kind: str, group_by: tuple[str, ...], values: tuple, *, shape: str
) -> dict[str, Any]:
    """A row's dimension columns: the grouped ones valued, the others null."""
    fields: dict[str, Any] = dict.fromkeys(BASE_DIMENSIONS)
    if shape == "latest":
        fields |= dict.fromkeys(LATEST_DIMENSIONS)
    grouped = [d for d in BASE_DIMENSIONS if d in group_by]
    for name, value in zip(grouped, values, strict=False):
        fields[name] = value
    if kind == "cost":
        fields["cost_type"] = None
        fields["token_type"] = None
        rest = values[len(grouped) :]
        if rest:
            fields["cost_type"], fields["token_type"] = rest
    return fields


def metrics(kind: str, acc: dict, group_by: tuple[str, ...], *, per_user: bool) -> dict:
    """A row's measures, from integer totals (micro-cents for money)."""
    if kind == "cost":
        fan_out = "cost_type" in group_by or "token_type" in group_by
        return {
            "currency": "USD",
            "amount": format_micro(acc.get("amount", 0)),
            "list_amount": format_micro(acc.get("list_amount", 0)),
            "requests": None if fan_out else acc.get("requests", 0),
        }
    tokens = {t: acc.get(t, 0) for t in TOKEN_TYPES}
    values: dict[str, Any] = {
        "uncached_input_tokens": tokens["uncached_input_tokens"],
        "cache_creation": {
            "ephemeral_1h_input_tokens": tokens["cache_creation.ephemeral_1h_input_tokens"],
            "ephemeral_5m_input_tokens": tokens["cache_creation.ephemeral_5m_input_tokens"],
        },
        "cache_read_input_tokens": tokens["cache_read_input_tokens"],
        "output_tokens": tokens["output_tokens"],
        "server_tool_use": {"web_search_requests": acc.get("web_search_requests", 0)},
        "requests": acc.get("requests", 0),
    }
    if per_user:
        values["total_tokens"] = sum(tokens.values())
    return values


def _order_metric(kind: str, params: Params) -> str:
    """The measure per-user rows are ordered by (``order_by``)."""
    order_by = first(params, "order_by")
    if order_by is None:
        return "amount" if kind == "cost" else "total_tokens"
    allowed = (
        {"amount", "list_amount"}
        if kind == "cost"
        else {"total_tokens", "output_tokens", "uncached_input_tokens", "requests"}
    )
    if order_by not in allowed:
        raise bad_request(f"order_by must be one of {', '.join(sorted(allowed))}")
    return order_by


def per_user_groups(
    state: SandboxState, totals: dict[tuple, dict], query: ReportQuery, params: Params
) -> list[list[dict]]:
    """Rows grouped so that fan-out rows (cost_type/token_type) share a page slot."""
    org, kind, group_by = state.org, query.kind, query.group_by
    old_shape = query.shape == "baseline"
    grouped = [d for d in BASE_DIMENSIONS if d in group_by]
    step = dt.timedelta(minutes=BUCKET_MINUTES[query.width]) if query.width else None
    metric = _order_metric(kind, params)
    ascending = first(params, "order") == "asc"
    groups: dict[tuple, list[dict]] = {}
    sort_value: dict[tuple, int] = {}
    # A window has ~30 rows per user and per dimension combination: build the
    # repeated parts once (rows may share them; answers are only ever serialized).
    actors: dict[tuple, dict] = {}
    dimensions: dict[tuple, dict] = {}
    bounds: dict[dt.datetime, tuple[str | None, str | None]] = {}
    for (bucket, user, values), acc in totals.items():
        base_key = (bucket, user, values[: len(grouped)])
        actor = actors.get((user, bucket.date()))
        if actor is None:
            actor = org.actor(org.members[user], bucket.date(), old_shape=old_shape)
            actors[user, bucket.date()] = actor
        fields = dimensions.get(values)
        if fields is None:
            fields = dimension_fields(kind, group_by, values, shape=query.shape)
            dimensions[values] = fields
        span = bounds.get(bucket)
        if span is None:
            span = (iso(bucket), iso(min(bucket + step, query.end))) if step else (None, None)
            bounds[bucket] = span
        row = {"actor": actor} | fields
        row["starting_at"], row["ending_at"] = span
        row |= metrics(kind, acc, group_by, per_user=True)
        groups.setdefault(base_key, []).append(row)
        if metric == "total_tokens":
            value = sum(acc.get(t, 0) for t in TOKEN_TYPES)
        else:
            value = acc.get(metric, 0)
        sort_value[base_key] = sort_value.get(base_key, 0) + value
    return _ordered(state, groups, sort_value, ascending=ascending)


def _ordered(
    state: SandboxState,
    groups: dict[tuple, list[dict]],
    sort_value: dict[tuple, int],
    *,
    ascending: bool,
) -> list[list[dict]]:
    """Groups by bucket, then measure (largest first unless ascending), then user."""
    members = state.org.members

    def order(key: tuple) -> tuple:
        value = sort_value[key] if ascending else -sort_value[key]
        return (key[0], value, members[key[1]].user_id, str(key[2]))

    ordered = []
    for key in sorted(groups, key=order):
        rows = groups[key]
        if len(rows) > 1:  # fan-out rows; without cost_type/token_type groups hold one
            rows.sort(key=lambda r: (str(r.get("cost_type")), str(r.get("token_type"))))
        ordered.append(rows)
    return ordered


def buckets(totals: dict[tuple, dict], query: ReportQuery) -> list[dict]:
    """Every bucket of the window, each with its top 100 groups."""
    width = query.width or "1d"
    step = dt.timedelta(minutes=BUCKET_MINUTES[width])
    results: dict[dt.datetime, list[tuple[int, dict]]] = {}
    for (bucket, _user, values), acc in totals.items():
        row = dimension_fields(query.kind, query.group_by, values, shape=query.shape)
        row |= metrics(query.kind, acc, query.group_by, per_user=False)
        weight = acc.get("amount", 0) if query.kind == "cost" else acc.get("output_tokens", 0)
        results.setdefault(bucket, []).append((weight, row))
    out = []
    moment = query.start
    while moment < query.end:
        ranked = sorted(
            results.get(moment, []),
            key=lambda item: (-item[0], json.dumps(item[1], sort_keys=True)),
        )
        out.append(
            {
                "starting_at": iso(moment),
                "ending_at": iso(moment + step),
                # The API reports at most the top 100 groups of a bucket.
                "results": [row for _, row in ranked[:100]],
            }
        )
        moment += step
    return out
