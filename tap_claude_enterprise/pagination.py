"""The cursor paginator shared by every endpoint.

All endpoints page with ``next_page`` (pass it back as ``page``); the report endpoints
also say ``has_more``. The SDK's base paginator only notices a cursor that repeats the
previous one, after that page's rows were already emitted; this one remembers every
cursor of the query, so a repeating or cycling cursor stops the chain before any page
is fetched twice.
"""

from __future__ import annotations

from typing import Any

import requests
from singer_sdk.pagination import BaseAPIPaginator

from tap_claude_enterprise.errors import PaginationLoopError


class CursorPaginator(BaseAPIPaginator[str | None]):
    """Follow ``next_page`` until it is null, ``has_more`` is false or a page is empty."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(None)
        self._endpoint = endpoint
        self._seen: set[str] = set()

    @staticmethod
    def payload(response: requests.Response) -> dict[str, Any]:
        """The body parsed once by ``validate_response`` (see ``AnalyticsStream``)."""
        cached = getattr(response, "parsed_payload", None)
        return cached if cached is not None else response.json()

    def has_more(self, response: requests.Response) -> bool:
        """False at the last page (null cursor, ``has_more`` false, or no rows)."""
        body = self.payload(response)
        if body.get("has_more") is False:
            return False
        # An empty page ends the chain, as in the official SDK's pager: a cursor
        # that keeps returning nothing must not keep a sync alive.
        return bool(body.get("data"))

    def get_next(self, response: requests.Response) -> str | None:
        """The next cursor; a cursor seen before in this chain is a pagination loop."""
        cursor = self.payload(response).get("next_page")
        if not cursor:
            return None
        if cursor in self._seen:
            msg = (
                f"The API returned a page cursor for /{self._endpoint} that it had already "
                "returned for the same query, so paging would loop forever. Nothing from "
                "that page was emitted. Re-run the sync; if it happens again, report it "
                "to Anthropic support."
            )
            raise PaginationLoopError(msg)
        self._seen.add(cursor)
        return cursor
