"""The ``daily`` and ``summaries`` families in the sandbox.

``daily``: one ``date`` per request, rows from ``data.DAILY_ROWS[endpoint.name]``, paged
with ``limit`` and ``next_page`` (an endpoint whose table entry has no ``page_size`` is an
unpaged cube, like ``/artifacts``). ``summaries``: a ``starting_date``..``ending_date``
range, one row per day, not paged.
"""

from __future__ import annotations

import datetime as dt

from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.sandbox.data import DAILY_ROWS
from tap_claude_enterprise.sandbox.params import (
    ApiError,
    Params,
    SandboxState,
    bad_request,
    check_available,
    first,
    page_cursor,
    page_offset,
    parse_day,
    parse_limit,
)


def answer_daily(state: SandboxState, endpoint: Endpoint, params: Params) -> dict:
    """One page of a daily endpoint."""
    raw_day = first(params, "date")
    if raw_day is None:
        raise bad_request("date is required (the sandbox does not serve range mode)")
    day = parse_day("date", raw_day)
    check_available("date", day, state.latest_day())
    limit = parse_limit(params, 100, 1000)
    paged = endpoint.page_size is not None
    if not paged and "page" in params and "group_by[]" not in params:
        raise bad_request("page is only valid with group_by[]")
    rows_of = DAILY_ROWS.get(endpoint.name)
    if rows_of is None:
        raise ApiError(404, "not_found_error", "no such endpoint")
    latest, shape, org = state.latest_day(), state.settings.shape, state.org
    rows = state.day_rows.get(
        (endpoint.path, day, latest, shape, org.revision),
        lambda: rows_of(org, day, latest, shape),
    )
    if not paged:
        return {"data": rows, "next_page": None}
    offset = page_offset(endpoint.path, params, org.revision, expires=False)
    more = offset + limit < len(rows)
    return {
        "data": rows[offset : offset + limit],
        "next_page": page_cursor(endpoint.path, params, offset + limit, org.revision)
        if more
        else None,
    }


def answer_summaries(state: SandboxState, endpoint: Endpoint, params: Params) -> dict:
    """The summaries of a day range."""
    del endpoint
    raw_start = first(params, "starting_date")
    if raw_start is None:
        raise bad_request("starting_date is required")
    start = parse_day("starting_date", raw_start)
    latest = state.latest_day()
    check_available("starting_date", start, latest)
    raw_end = first(params, "ending_date")
    end = latest + dt.timedelta(days=1) if raw_end is None else parse_day("ending_date", raw_end)
    if end <= start:
        raise bad_request("ending_date must be after starting_date")
    if end > latest + dt.timedelta(days=1):
        raise bad_request(
            f"ending_date {end.isoformat()} is not yet available; "
            f"the most recent available day is {latest.isoformat()}"
        )
    span = state.settings.summaries_max_days
    if (end - start).days > span:
        raise bad_request(f"the date range may span at most {span} days")
    shape = state.settings.shape
    rows = [
        state.org.summary_row(start + dt.timedelta(days=i), latest, shape=shape)
        for i in range((end - start).days)
    ]
    if shape == "baseline":
        return {"summaries": rows}
    return {"data": rows, "next_page": None}
