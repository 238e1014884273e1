"""Faults the sandbox can inject, so tests can prove the tap survives them.

A ``Fault`` matches requests by endpoint (and optionally by whether they carry a page
cursor), lets ``after`` matching requests through, then hits the next ``times`` of them
(``times=-1``: every one). What it does depends on ``kind``:

==================  ==============================================================
``status``          answer ``status`` with the API's error body (``message``, if
                    given, as its message; ``retry_after`` as the ``retry-after``
                    header, if given)
``redirect``        answer 302 with ``location`` as the ``Location`` header
``html``            200 with an HTML page instead of JSON
``invalid_json``    200 with a body that is not JSON
``missing_data``    200 with a JSON object that has no ``data``
``mistyped``        200 where ``data`` is not a list and ``next_page`` is a number
``mistyped_cursor`` 200 with the normal ``data`` but ``next_page`` a number
``missing_cursor``  200 with the normal ``data`` (and ``has_more``) but no ``next_page``
``truncate``        200 whose body stops halfway (Content-Length promises more)
``reset``           the connection is reset without an answer
``stall``           nothing is sent for ``seconds`` (then the normal answer)
``stall_body``      headers and half the body, ``seconds`` of silence, then the rest
``repeat_cursor``   a request with a cursor gets that same cursor back as ``next_page``
``cycle_cursor``    ``next_page`` points at page 2, page 3, page 2 ... (A, B, A)
``empty_pages``     an empty ``data`` with a fresh cursor to the same rows, so
                    ``times=-1`` never ends and ``times=1`` is one stray empty page
``expire_cursor``   410 for a request that carries a cursor
``cursor_mismatch`` 400 "page cursor does not match" for a request with a cursor
``unknown_fields``  every row and nested object gains fields the docs do not name
``missing_optional`` optional row fields are left out
``unexpected_null`` nullable row fields are null
==================  ==============================================================

Surprises (``surprises.py``): answers the docs leave open or public captures show.

====================  ============================================================
``lag``               this endpoint serves days up to ``days`` days back only; later
                      days get a 400 worded by ``message`` (``{name}``, ``{day}``,
                      ``{latest}`` are filled in; ``surprises.NOT_AVAILABLE_WORDINGS``)
``missing_endpoint``  the organization lacks the endpoint: 404, or with ``status=403``
                      the Admin-key ``permission_error`` ("Missing required scopes")
``cut_at_today``      reports cut ``ending_at`` at the start of today (UTC) silently;
                      a window starting today gets 400 "Invalid date range: ending
                      date must be after starting date" with ``x-should-retry: false``
``too_far_back``      reports refuse a ``starting_at`` older than ``days`` days (400)
``no_bucket_bounds``  per-user reports answer rows without bucket bounds (the whole
                      window, ``starting_at``/``ending_at`` null)
``null_metrics``      every ``*_metrics`` object of a row is an explicit ``null``
``integral_floats``   every integer in the rows is sent as a float (``12.0``)
``renamed_product``   product ``claude_in_chrome`` is sent as ``message`` (default
                      ``claude-in-slack``, the old name of ``claude-tag``)
====================  ============================================================

Cursors the sandbox makes up for a fault are valid cursors of the same query, so the
server serves them like its own once the fault stops.
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import asdict, dataclass, field

KINDS = frozenset(
    {
        "status", "redirect", "html", "invalid_json", "missing_data", "mistyped",
        "mistyped_cursor", "missing_cursor", "truncate", "reset", "stall", "stall_body",
        "repeat_cursor", "cycle_cursor", "empty_pages",
        "expire_cursor", "cursor_mismatch", "unknown_fields", "missing_optional",
        "unexpected_null",
        "lag", "missing_endpoint", "cut_at_today", "too_far_back", "no_bucket_bounds",
        "null_metrics", "integral_floats", "renamed_product",
    }
)  # fmt: skip


@dataclass
class Fault:
    """One injected misbehaviour; see the module docstring for the kinds."""

    kind: str
    endpoint: str | None = None
    times: int = 1
    after: int = 0
    with_cursor: bool | None = None
    status: int = 500
    retry_after: str | None = None
    message: str | None = None
    location: str | None = None
    seconds: float = 0.0
    days: int = 0
    seen: int = field(default=0, compare=False)
    hits: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            msg = f"unknown fault kind {self.kind!r}; one of {sorted(KINDS)}"
            raise ValueError(msg)

    def to_dict(self) -> dict:
        """A JSON-ready copy (for the admin endpoint)."""
        return asdict(self)


class FaultPlan:
    """The faults armed on a server; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, *faults: Fault) -> None:
        """Arm faults."""
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        """The armed faults."""
        with self._lock:
            return list(self._faults)

    def match(self, endpoint: str, *, has_cursor: bool) -> builtins.list[Fault]:
        """Return the faults that hit this request (and count it)."""
        hit = []
        with self._lock:
            for fault in self._faults:
                if fault.endpoint not in (None, endpoint):
                    continue
                if fault.with_cursor is not None and fault.with_cursor != has_cursor:
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                if fault.times != -1 and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                hit.append(fault)
        return hit
