"""Faults for what the documentation leaves open: the API answering in ways seen in
public captures, or plausible where the docs are silent (``faults.py`` lists the kinds).

Each is a switch, so tests can prove the tap is right whichever way the real API
answers; none of them is the sandbox's default behaviour.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import TYPE_CHECKING, Any

from tap_claude_enterprise.sandbox.faults import Fault

if TYPE_CHECKING:
    from tap_claude_enterprise.sandbox.server import _Handler

UTC = dt.timezone.utc
PER_USER_REPORTS = frozenset({"user_usage_report", "user_cost_report"})
REPORTS = PER_USER_REPORTS | {"usage_report", "cost_report"}
# Wordings of "not available yet": the docs publish none (the first is the sandbox's).
NOT_AVAILABLE_WORDINGS = (
    "{name} {day} is not yet available; the most recent available day is {latest}",
    "Data for {day} has not been processed yet. Latest processed date: {latest}",
    "Invalid date: must be on or before {latest}",
    "The requested date is too recent.",
)
ADMIN_KEY_MESSAGE = "Missing required scopes. Got: ['api:admin'] Needed: ['read:analytics']"
CUT_AT_TODAY_MESSAGE = "Invalid date range: ending date must be after starting date"
# The product value the "renamed_product" fault changes (to ``claude-in-slack``).
RENAMED_FROM = "claude_in_chrome"


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def answer_early(
    handler: _Handler,
    endpoint: str,
    params: dict[str, list[str]],
    faults: list[Fault],
    entry: dict,
) -> bool:
    """Answer an error for a surprise fault (True), or adjust ``params`` in place."""
    for fault in faults:
        error = _refusal(handler, fault, endpoint, params)
        if error is not None:
            status, error_type, message, headers = error
            entry["status"] = status
            handler._send_error(status, error_type, message, headers=headers)
            return True
    return False


def _refusal(  # noqa: PLR0911 - one branch per fault kind
    handler: _Handler, fault: Fault, endpoint: str, params: dict[str, list[str]]
) -> tuple[int, str, str, dict | None] | None:
    now = handler.sandbox.now()
    kind = fault.kind
    if kind == "missing_endpoint":
        if fault.status == 403:
            return 403, "permission_error", fault.message or ADMIN_KEY_MESSAGE, None
        return 404, "not_found_error", fault.message or "Not found", None
    if kind == "lag":
        return _lag(fault, params, now.date())
    if endpoint not in REPORTS:
        return None
    if kind == "cut_at_today":
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start, end = _first(params, "starting_at"), _first(params, "ending_at")
        if start and _moment(start) >= today:
            return 400, "invalid_request_error", CUT_AT_TODAY_MESSAGE, {"x-should-retry": "false"}
        if end and _moment(end) > today:
            params["ending_at"] = [_iso(today)]  # silently, as seen in public captures
    elif kind == "too_far_back":
        start = _first(params, "starting_at")
        if start and _moment(start) < now - dt.timedelta(days=fault.days):
            message = fault.message or f"starting_at must be within the last {fault.days} days"
            return 400, "invalid_request_error", message, None
    elif kind == "no_bucket_bounds" and endpoint in PER_USER_REPORTS:
        params.pop("bucket_width", None)  # rows then cover the whole window, no bounds
    return None


def _lag(
    fault: Fault, params: dict[str, list[str]], today: dt.date
) -> tuple[int, str, str, dict | None] | None:
    """This endpoint serves days up to ``today - fault.days`` only."""
    latest = today - dt.timedelta(days=fault.days)
    name, raw = "date", _first(params, "date")
    if raw is None and _first(params, "ending_date"):
        name, raw = "ending_date", _first(params, "ending_date")
        last = dt.date.fromisoformat(raw) - dt.timedelta(days=1)  # exclusive end
    elif raw is None and _first(params, "starting_date"):
        name, raw, last = "starting_date", _first(params, "starting_date"), today  # open end
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
