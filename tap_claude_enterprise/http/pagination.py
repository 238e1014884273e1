"""The cursor paginator shared by every endpoint.

All endpoints page with ``next_page`` (pass it back as ``page``); the report endpoints
also say ``has_more``. The SDK's base paginator only notices a cursor that repeats the
previous one, after that page's rows were already emitted; this one remembers every
cursor of the query, so a repeating or cycling cursor stops the chain before any page
is fetched twice and before the rows of the page that named it are handed on.

An empty page that still names a new cursor is followed (rows may come after it), but
only ``MAX_EMPTY_PAGES`` times in a row: a server that keeps answering nothing with a
fresh cursor ends the sync with an error instead of looping, or silently losing the
rows a stray empty page would otherwise hide.
"""

from __future__ import annotations

from typing import Any

import requests
from singer_sdk.pagination import BaseAPIPaginator

from tap_claude_enterprise.http.errors import LOOP_HELP, EmptyPagesError, PaginationLoopError

MAX_EMPTY_PAGES = 5


class CursorPaginator(BaseAPIPaginator[str | None]):
    """Follow ``next_page`` until it is null or ``has_more`` is false."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(None)
        self._endpoint = endpoint
        self._seen: set[str] = set()
        self._empty_in_a_row = 0

    @staticmethod
    def payload(response: requests.Response) -> dict[str, Any]:
        """The body parsed once by ``validate_response`` (``responses.py``)."""
        cached = getattr(response, "parsed_payload", None)
        return cached if cached is not None else response.json()

    def has_more(self, response: requests.Response) -> bool:
        """False at the last page: a null cursor or ``has_more`` false."""
        body = self.payload(response)
        if body.get("has_more") is False or not body.get("next_page"):
            return False
        self._count_empty(bool(body.get("data")))
        return True

    def get_next(self, response: requests.Response) -> str | None:
        """The next cursor; a cursor seen before in this chain is a pagination loop."""
        cursor = self.payload(response).get("next_page")
        if not cursor:
            return None
        if cursor in self._seen:
            msg = (
                f"The API returned a page cursor for /{self._endpoint} that it had already "
                f"returned for the same query, so paging would loop forever. {LOOP_HELP}"
            )
            raise PaginationLoopError(msg)
        self._seen.add(cursor)
        return cursor

    def _count_empty(self, has_rows: bool) -> None:
        self._empty_in_a_row = 0 if has_rows else self._empty_in_a_row + 1
        if self._empty_in_a_row >= MAX_EMPTY_PAGES:
            msg = (
                f"The API answered {self._empty_in_a_row} empty pages in a row for "
                f"/{self._endpoint}, each with a new page cursor, so paging might never "
                f"end. {LOOP_HELP}"
            )
            raise EmptyPagesError(msg)
