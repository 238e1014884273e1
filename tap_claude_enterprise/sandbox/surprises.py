"""Faults for what the documentation leaves open: the API answering in ways seen in
public captures, or plausible where the docs are silent (``faults.py`` lists the kinds).

Each is a switch, so tests can prove the tap is right whichever way the real API
answers; none of them is the sandbox's default behaviour.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.sandbox.faults import Fault
from tap_claude_enterprise.sandbox.params import MISSING_SCOPE, Params, first, iso, start_of_day

UTC = dt.timezone.utc
# Wordings of "not available yet": the docs publish none (the first is the sandbox's).
NOT_AVAILABLE_WORDINGS = (
    "{name} {day} is not yet available; the most recent available day is {latest}",
    "Data for {day} has not been processed yet. Latest processed date: {latest}",
    "Invalid date: must be on or before {latest}",
    "The requested date is too recent.",
)
ADMIN_KEY_MESSAGE = MISSING_SCOPE
CUT_AT_TODAY_MESSAGE = "Invalid date range: ending date must be after starting date"
# The product value the "renamed_product" fault changes (to ``claude-in-slack``).
RENAMED_FROM = "claude_in_chrome"


Refusal = tuple[int, str, str, dict | None]  # status, error type, message, headers


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def early_refusal(
    faults: list[Fault], endpoint: Endpoint | None, params: Params, now: dt.datetime
) -> Refusal | None:
    """The error a surprise fault answers instead, or None (``params`` may be adjusted)."""
    for fault in faults:
        error = _refusal(fault, endpoint, params, now)
        if error is not None:
            return error
    return None


def _refusal(  # noqa: PLR0911 - one branch per fault kind
    fault: Fault, endpoint: Endpoint | None, params: Params, now: dt.datetime
) -> Refusal | None:
    kind = fault.kind
    if kind == "missing_endpoint":
        if fault.status == 403:
            return 403, "permission_error", fault.message or ADMIN_KEY_MESSAGE, None
        return 404, "not_found_error", fault.message or "Not found", None
    if kind == "lag":
        return _lag(fault, params, now.date())
    if endpoint is None or endpoint.family != "report":
        return None
    if kind == "cut_at_today":
        today = start_of_day(now)
        start, end = first(params, "starting_at"), first(params, "ending_at")
        if start and _moment(start) >= today:
            return 400, "invalid_request_error", CUT_AT_TODAY_MESSAGE, {"x-should-retry": "false"}
        if end and _moment(end) > today:
            params["ending_at"] = [iso(today)]  # silently, as seen in public captures
    elif kind == "too_far_back":
        start = first(params, "starting_at")
        if start and _moment(start) < now - dt.timedelta(days=fault.days):
            message = fault.message or f"starting_at must be within the last {fault.days} days"
            return 400, "invalid_request_error", message, None
    elif kind == "no_bucket_bounds" and endpoint.trait("per_user"):
        params.pop("bucket_width", None)  # rows then cover the whole window, no bounds
    return None


def _lag(fault: Fault, params: Params, today: dt.date) -> Refusal | None:
    """This endpoint serves days up to ``today - fault.days`` only."""
    latest = today - dt.timedelta(days=fault.days)
    name, raw = "date", first(params, "date")
    ending = first(params, "ending_date")
    if raw is None and ending:
        name, raw = "ending_date", ending
        last = dt.date.fromisoformat(ending) - dt.timedelta(days=1)  # exclusive end
    elif raw is None and first(params, "starting_date"):
        name, raw, last = "starting_date", first(params, "starting_date"), today  # open end
    elif raw is None:
        return None
    else:
        last = dt.date.fromisoformat(raw)
    if last <= latest:
        return None
    wording = fault.message or NOT_AVAILABLE_WORDINGS[0]
    message = wording.format(name=name, day=raw, latest=latest.isoformat())
    return 400, "invalid_request_error", message, None


def mutate_body(faults: list[Fault], endpoint: str, body: dict) -> dict:
    """Change a good answer's rows the way a surprise fault says (on a copy)."""
    active = [f for f in faults if f.kind in _BODY_KINDS]
    if not active:
        return body
    key = "data" if "data" in body else "summaries"
    rows = copy.deepcopy(body.get(key) or [])  # cached rows are shared: change a copy
    for fault in active:
        _BODY_KINDS[fault.kind](rows, fault, endpoint)
    return {**body, key: rows}


def _null_metrics(rows: list[Any], fault: Fault, endpoint: str) -> None:
    del fault, endpoint
    for row in rows:
        for name in list(row):
            if name.endswith("_metrics"):
                row[name] = None


def _as_float(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_float(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_float(v) for v in value]
    if type(value) is int:
        return float(value)  # serialized as 12.0
    return value


def _integral_floats(rows: list[Any], fault: Fault, endpoint: str) -> None:
    del fault, endpoint
    rows[:] = [_as_float(row) for row in rows]


def _renamed_product(rows: list[Any], fault: Fault, endpoint: str) -> None:
    del endpoint
    value = fault.message or "claude-in-slack"
    targets = [r for row in rows for r in (row.get("results") or [row])]
    for row in targets:
        if row.get("product") == RENAMED_FROM:
            row["product"] = value


_BODY_KINDS = {
    "null_metrics": _null_metrics,
    "integral_floats": _integral_floats,
    "renamed_product": _renamed_product,
}
