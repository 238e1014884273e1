"""The ``spend_limits`` family: the Spend Limits API (Claude Enterprise Admin API, beta).

``GET /v1/organizations/spend_limits/effective``, ``/spend_limits`` and
``/spend_limit_increase_requests`` serve the *current* state only: no history, no time
filter. So each run reads all of it (one chain, paged with ``limit``/``page``) and
stamps every record with the UTC day it was read (``read_on``): daily runs build the
history of limits and period-to-date spend, and a request that changes status is the
same key (``id``), updated, never a second row.

Only an Admin key with ``read:spend_limits`` reads them: the stream sends
``admin_api_key`` when set, else ``api_key`` (key_access.py). A 403/404 skips every
stream of the family with one line naming the scope. The tap only ever sends GET.

Amounts are strings in minor units of the billing currency: they stay exact (decimal
strings, as every money column), ``null`` (unlimited) stays null and ``"0"`` (included
usage only) stays zero; ``*_usd`` columns are dollars when the currency is USD.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from singer_sdk.helpers.types import Context

from tap_claude_enterprise.http.errors import redact
from tap_claude_enterprise.records.shaping import add_money, fill_missing_keys, nested
from tap_claude_enterprise.streams.usage_cost import LimitLearnedError, RequestLimits
from tap_claude_enterprise.sync.availability import EndpointRefusedError, Refusal
from tap_claude_enterprise.sync.engine import ChainStream, Page
from tap_claude_enterprise.sync.key_access import SPEND_LIMITS_SCOPE, admin_only, key_setting
from tap_claude_enterprise.sync.windows import utc_now

# The first page size tried; the API's maximum is not documented, a 400 naming it shrinks it.
FIRST_PAGE_SIZE = 1000
USD = "USD"


def shape_money(row: dict[str, Any], names: Iterable[str]) -> None:
    """Exact amounts in minor units plus ``*_usd`` (USD only), as decimal strings.

    ``add_money`` (shaping.py) is the one conversion every money column goes through;
    null stays null and ``"0"`` stays zero.
    """
    names = tuple(names)
    add_money(row, names)
    if row.get("currency") != USD:  # minor units of another currency: no dollar column
        for name in names:
            row[f"{name}_usd"] = None


class SpendLimitsStream(ChainStream[dt.date]):
    """One Spend Limits endpoint: its whole current state, stamped with the day read.

    Traits: ``user_id_from`` (paths the ``user_id`` key column is read from, first found),
    ``nested_money`` (objects whose amounts are shaped too: ``spend_summary``).
    """

    replication_key = "read_on"
    nothing_to_fetch = "already read today"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = RequestLimits(
            page_size=self.spec.page_size or FIRST_PAGE_SIZE,
            span=dt.timedelta(days=1),  # no time range on these endpoints
            bucket=dt.timedelta(days=1),
            stream=self.name,
            logger=self.logger,
        )

    # --- requests -------------------------------------------------------------------

    @property
    def request_key(self) -> str:
        """``admin_api_key`` when set, else ``api_key`` (judged by the API's answer)."""
        return str(self.config[key_setting(self.spec, self.config)])

    def request_params(self, context: Context | None) -> dict[str, Any]:
        """Only the page size: no filters, so every cursor belongs to the same query."""
        del context
        return {"limit": self.limits.page_size}

    def validate_response(self, response: requests.Response) -> None:
        """A 400 naming a smaller page size retries with it; the rest as everywhere."""
        if response.status_code == 400:
            message = _api_message(response)
            if self.limits.learn(message, _sent_limit(response), None):
                raise LimitLearnedError(f"/{self.endpoint}: {redact(message)}")
        super().validate_response(response)

    # --- chains: one per run, the day read --------------------------------------------

    def chain_keys(self) -> list[dt.date]:
        """Today (UTC): the whole state is read once per run."""
        return [utc_now().date()]

    def chain_context(self, key: dt.date) -> dict[str, Any]:
        """No parameters but the page size."""
        del key
        return {}

    def run_chain(self, key: dt.date, cancelled: threading.Event) -> Iterator[Page]:
        """The pages; a 400 naming a smaller page size restarts before anything went out."""
        while True:
            handed_on = False
            try:
                for page in super().run_chain(key, cancelled):
                    handed_on = True
                    yield page
            except LimitLearnedError:
                if handed_on:
                    raise
                continue
            return

    def chain_bookmark(self, key: dt.date, metas: list[Any]) -> str:
        """The day read."""
        del metas
        return key.isoformat()

    def progress_label(self, key: dt.date) -> str:
        """``read on 2026-12-01``."""
        return f"read on {key.isoformat()}"

    # --- records ----------------------------------------------------------------------

    def page_records(self, payload: dict[str, Any], key: dt.date) -> list[dict[str, Any]]:
        """The API rows, stamped with the day read, key columns filled, money exact."""
        read_on = key.isoformat()
        user_paths: tuple[tuple[str, ...], ...] = self.spec.trait("user_id_from", ())
        nested_money: Mapping[str, tuple[str, ...]] = self.spec.trait("nested_money", {})
        records = []
        for row in payload["data"]:
            row["read_on"] = read_on
            if user_paths:
                row["user_id"] = next(
                    (v for v in (nested(row, p) for p in user_paths) if v is not None), None
                )
            if self.spec.money:
                shape_money(row, self.spec.money)
            for name, money in nested_money.items():
                inner = row.get(name)
                if isinstance(inner, dict):
                    shape_money(inner, money)
            fill_missing_keys(row, self.spec.primary_keys)
            records.append(self.fitter.fit(row))
        return records

    # --- a key without the scope: one line for the family -----------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Records; a 403/404 skips this stream and the rest of the family, in one line."""
        del context
        access = self.run.endpoint_access
        family = admin_only()
        earlier = next((r for n, r in access.refused.items() if n in family), None)
        if earlier is not None:
            access.refuse(Refusal(self.name, self.endpoint, earlier.status, earlier.api_message))
            self.logger.debug("%s: skipped (see the line about %s)", self.name, earlier.stream)
            return
        with self.progress.timed():
            try:
                yield from self.stream_records()
            except EndpointRefusedError as exc:
                access.refuse(Refusal(self.name, exc.endpoint, exc.status, exc.api_message))
                said = f": {exc.api_message}" if exc.api_message else ""
                self.logger.warning(
                    "Skipping %s: /%s answered %s%s; the Spend Limits API needs an Admin "
                    "API key with the %s scope (set admin_api_key to one; the other "
                    "streams go on).",
                    ", ".join(family),
                    self.endpoint,
                    exc.status,
                    said,
                    SPEND_LIMITS_SCOPE,
                )


def _api_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("message") or "") if isinstance(error, dict) else ""


def _sent_limit(response: requests.Response) -> int | None:
    url = response.request.url if response.request is not None else None
    value = parse_qs(urlsplit(url or "").query).get("limit", [None])[-1]
    return int(value) if value and value.isdigit() else None
