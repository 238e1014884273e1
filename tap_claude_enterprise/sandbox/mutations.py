"""Faults that change a good answer's body: wrong cursors and odd rows (``faults.py``
lists the kinds). Cursors made up here are valid cursors of the same query, so the
server serves them like its own once the fault stops.
"""

from __future__ import annotations

import time
from typing import Any

from tap_claude_enterprise.sandbox.faults import Fault
from tap_claude_enterprise.sandbox.params import (
    Params,
    decode_cursor,
    encode_cursor,
    first,
    query_hash,
)

CURSOR_KINDS = frozenset({"repeat_cursor", "cycle_cursor", "empty_pages"})
ROW_KINDS = frozenset({"unknown_fields", "missing_optional", "unexpected_null"})


def apply_body_faults(
    faults: list[Fault], endpoint: str, params: Params, body: dict, revision: int
) -> dict:
    """Change ``body`` (in place, and returned) the way the faults say."""
    for fault in faults:
        kind = fault.kind
        if kind in CURSOR_KINDS:
            _cursor_fault(kind, endpoint, params, body, revision)
        elif kind == "mistyped_cursor":
            body["next_page"] = 12345
        elif kind == "missing_cursor":
            body.pop("next_page", None)
        elif kind in ROW_KINDS:
            key = "data" if "data" in body else "summaries"
            body[key] = [mutate_row(row, kind) for row in body.get(key) or []]
    return body


def _cursor_fault(kind: str, endpoint: str, params: Params, body: dict, revision: int) -> None:
    """Point ``next_page`` somewhere wrong, with cursors the server itself accepts."""
    cursor = first(params, "page")
    offset = decode_cursor(cursor).get("o", 0) if cursor else 0
    size = int(first(params, "limit") or 0) or max(len(body.get("data") or []), 1)
    if kind == "repeat_cursor":
        if cursor is None:
            return  # a first page has no cursor to repeat
        body["next_page"] = cursor
    elif kind == "cycle_cursor":
        # Pages 1, 2, 3, 2, 3 ...: page 3 names page 2's cursor again.
        target = size if offset >= 2 * size else offset + size
        body["next_page"] = valid_cursor(endpoint, params, target, revision)
    else:  # empty_pages: nothing here, and a new cursor to these same rows
        body["data"] = []
        body["next_page"] = valid_cursor(endpoint, params, offset, revision, time.time_ns())
    if "has_more" in body:
        body["has_more"] = True


def valid_cursor(
    endpoint: str, params: Params, offset: int, revision: int, nonce: int | None = None
) -> str:
    """A cursor the server accepts for this query (``nonce`` makes it look new)."""
    payload = {"o": offset, "q": query_hash(endpoint, params), "r": revision}
    if nonce is not None:
        payload["n"] = nonce
    return encode_cursor(payload)


def mutate_row(row: Any, kind: str) -> Any:
    """Add unknown fields, drop optional ones, or null nullable ones (recursively)."""
    if not isinstance(row, dict):
        return row
    out: dict[str, Any] = {}
    for key, value in row.items():
        if kind == "missing_optional" and key in OPTIONAL_FIELDS:
            continue
        if kind == "unexpected_null" and key in NULLABLE_FIELDS:
            out[key] = None
            continue
        out[key] = mutate_row(value, kind)
    if kind == "unknown_fields":
        out["sandbox_new_metric_count"] = 7
        out["sandbox_new_block"] = {"nested_new_field": "x"}
    return out


OPTIONAL_FIELDS = frozenset(
    {
        "last_activity_date", "chat_cowork_unified_metrics", "science_metrics", "plugin_id",
        "connector_display_name", "skill_display_name", "created_by", "created_at",
        "install_count", "share_status",
    }
)  # fmt: skip
NULLABLE_FIELDS = frozenset(
    {
        "distinct_conversation_count", "distinct_session_count", "created_at", "created_by",
        "install_count", "plugin_id", "list_amount", "requests", "assigned_seat_count",
        "daily_adoption_rate", "pending_invite_count", "email_address", "name", "model",
        "product",
    }
)  # fmt: skip
