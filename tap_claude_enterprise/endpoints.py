"""THE endpoint table: every endpoint the tap reads, declared once.

Everything that lists streams reads this table: the tap's stream list (``streams/``), the
sandbox's routes, the tests, the benchmark, the README/Hub stream tables and every stream
count. Adding an endpoint of an existing family is an entry here, a schema file in
``schemas/``, sandbox data and a dbt staging model.

Families (what a stream family class in ``streams/`` implements; traits it reads):
  - ``daily``: one UTC ``date`` per request, paged with ``next_page`` (``key_from``,
    ``empty_when_null``: key columns filled from the row);
  - ``summaries``: a ``starting_date``..``ending_date`` range per request, not paged;
  - ``report``: RFC 3339 windows of up to 31 days, paged with ``next_page``/``has_more``
    (``measure``: usage or cost; ``per_user``);
  - ``usage_cost``: the beta ``/usage`` and ``/cost`` endpoints (windows, ``group_by[]``;
    ``measure``);
  - ``spend_limits``: the Spend Limits API (Admin API, ``read:spend_limits``): the whole
    current state, read once per run and stamped with the day read (``money``).

``base`` is the path an entry's ``path`` is relative to: the analytics endpoints live
under ``/v1/organizations/analytics/``, the spend-limit endpoints under
``/v1/organizations/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Family = Literal["daily", "summaries", "report", "usage_cost", "spend_limits"]
KeyKind = Literal["analytics", "admin"]
Window = Literal["day", "day_range", "time_window"]

# The Analytics key (sk-ant-api01-..., read:analytics) reads every endpoint; an Admin key
# (sk-ant-admin01-...) only the Usage & Cost endpoints. Judged by the API's answers too
# (availability.py): this is what the docs say, not a guess the tap relies on alone.
ANALYTICS_ONLY: frozenset[KeyKind] = frozenset({"analytics"})
ANALYTICS_OR_ADMIN: frozenset[KeyKind] = frozenset({"analytics", "admin"})
# The Spend Limits API: an Admin key with read:spend_limits (``admin_api_key``, or an
# Admin key in ``api_key``); never the Analytics key.
ADMIN_ONLY: frozenset[KeyKind] = frozenset({"admin"})
ANALYTICS_BASE = "/v1/organizations/analytics"
ORGANIZATION_BASE = "/v1/organizations"


@dataclass(frozen=True)
class Endpoint:
    """One API endpoint and the stream that reads it."""

    name: str  # the stream (and table) name
    path: str  # under ``base``
    family: Family
    primary_keys: tuple[str, ...]  # fixed keys; report families add the grouped dimensions
    replication_key: str
    window: Window  # what one request (chain) covers
    # The ``limit`` sent on every page (the largest the API accepts); None: not sent.
    page_size: int | None
    description: str  # one line: the README's and the Hub's stream tables
    keys: frozenset[KeyKind] = ANALYTICS_ONLY
    schema: str = ""  # file name in schemas/ without .json; default: the stream name
    # A schema file outside the package (e.g. a test's made-up endpoint); overrides ``schema``.
    schema_path: str | None = None
    money: tuple[str, ...] = ()  # decimal strings in cents, kept exact
    # Family-specific traits (e.g. ``measure``: usage or cost; ``per_user``).
    traits: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    base: str = ANALYTICS_BASE  # the API path ``path`` is relative to

    @property
    def url_path(self) -> str:
        """The endpoint's full path (``/v1/organizations/analytics/users``)."""
        return f"{self.base}/{self.path}"

    @property
    def schema_file(self) -> str:
        """The schema file's name in ``schemas/``."""
        return f"{self.schema or self.name}.json"

    def trait(self, name: str, default: Any = None) -> Any:
        """A family-specific trait."""
        return self.traits.get(name, default)


def _traits(**values: Any) -> Mapping[str, Any]:
    return MappingProxyType(values)


# In sync order: ``summaries`` first, so its answer names the latest day the API serves
# before the per-day streams start.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        name="summaries",
        path="summaries",
        family="summaries",
        primary_keys=("date",),
        replication_key="date",
        window="day_range",
        page_size=None,
        description="Organization-wide daily summary: DAU/WAU/MAU, adoption, seats.",
    ),
    Endpoint(
        name="user_activity",
        path="users",
        family="daily",
        primary_keys=("date", "user_id"),
        replication_key="date",
        window="day",
        page_size=1000,
        description="Per-member engagement for each day, by product.",
        # The member's id, copied to a top-level key column ("" when absent).
        traits=_traits(key_from={"user_id": ("user", "id")}),
    ),
    Endpoint(
        name="chat_projects",
        path="apps/chat/projects",
        family="daily",
        primary_keys=("date", "project_id"),
        replication_key="date",
        window="day",
        page_size=1000,
        description="Per-project claude.ai chat usage for each day.",
    ),
    Endpoint(
        name="skills",
        path="skills",
        family="daily",
        primary_keys=("date", "skill_name"),
        replication_key="date",
        window="day",
        page_size=1000,
        description="Per-skill usage for each day.",
        money=("estimated_overage_spend", "attributed_list_price"),
    ),
    Endpoint(
        name="connectors",
        path="connectors",
        family="daily",
        primary_keys=("date", "connector_name"),
        replication_key="date",
        window="day",
        page_size=1000,
        description="Per-connector (MCP) usage for each day.",
    ),
    Endpoint(
        name="plugins",
        path="plugins",
        family="daily",
        # Plugin names are not unique across marketplaces: the id is part of the key.
        primary_keys=("date", "plugin_name", "plugin_id"),
        replication_key="date",
        window="day",
        page_size=1000,
        description="Per-plugin installs and invocations for each day.",
        # Third-party plugins (hashed ids) have no plugin_id: "" in the key.
        traits=_traits(empty_when_null=("plugin_id",)),
    ),
    Endpoint(
        name="artifacts",
        path="artifacts",
        family="daily",
        primary_keys=("date", "artifact_type", "is_shared"),
        replication_key="date",
        window="day",
        # The ungrouped cube is never paged; the API refuses limit-driven paging without
        # group_by[], so no limit is sent.
        page_size=None,
        description="Artifacts created each day, by type and whether shared.",
    ),
    Endpoint(
        name="user_usage_report",
        path="user_usage_report",
        family="report",
        primary_keys=("starting_at", "user_id"),
        replication_key="starting_at",
        window="time_window",
        page_size=1000,
        description="Token usage per user and bucket, by the grouped dimensions.",
        traits=_traits(measure="usage", per_user=True),
    ),
    Endpoint(
        name="user_cost_report",
        path="user_cost_report",
        family="report",
        primary_keys=("starting_at", "user_id"),
        replication_key="starting_at",
        window="time_window",
        page_size=1000,
        description="Spend per user and bucket, by the grouped dimensions.",
        money=("amount", "list_amount"),
        traits=_traits(measure="cost", per_user=True),
    ),
    Endpoint(
        name="usage_report",
        path="usage_report",
        family="report",
        primary_keys=("starting_at",),
        replication_key="starting_at",
        window="time_window",
        page_size=None,  # buckets per page, by bucket width (windows.py)
        description="Token usage over time, by the grouped dimensions.",
        traits=_traits(measure="usage", per_user=False),
    ),
    Endpoint(
        name="cost_report",
        path="cost_report",
        family="report",
        primary_keys=("starting_at",),
        replication_key="starting_at",
        window="time_window",
        page_size=None,  # buckets per page, by bucket width (windows.py)
        description="Spend over time, by the grouped dimensions.",
        money=("amount", "list_amount"),
        traits=_traits(measure="cost", per_user=False),
    ),
    Endpoint(
        name="usage",
        path="usage",
        family="usage_cost",
        primary_keys=("starting_at",),
        replication_key="starting_at",
        window="time_window",
        page_size=1000,  # the first page asks for this; a refusal teaches the maximum
        description="Token usage by dimension (Usage & Cost API, beta; Admin keys too).",
        keys=ANALYTICS_OR_ADMIN,
        traits=_traits(measure="usage"),
    ),
    Endpoint(
        name="cost",
        path="cost",
        family="usage_cost",
        primary_keys=("starting_at",),
        replication_key="starting_at",
        window="time_window",
        page_size=1000,
        description="Spend by dimension (Usage & Cost API, beta; Admin keys too).",
        keys=ANALYTICS_OR_ADMIN,
        money=("amount", "list_amount"),
        traits=_traits(measure="cost"),
    ),
    # The Spend Limits API (Admin API, public beta): current state only, so every run
    # reads all of it and stamps it with the day read (``read_on``).
    Endpoint(
        name="spend_limits_effective",
        path="spend_limits/effective",
        family="spend_limits",
        primary_keys=("read_on", "user_id", "period"),
        replication_key="read_on",
        window="day",
        page_size=1000,  # the first page asks for this; a refusal teaches the maximum
        description="Each member's effective spend limit and period-to-date spend, by day read.",
        keys=ADMIN_ONLY,
        money=("amount", "period_to_date_spend"),
        base=ORGANIZATION_BASE,
        traits=_traits(user_id_from=(("actor", "user_id"), ("scope", "user_id"))),
    ),
    Endpoint(
        name="spend_limits",
        path="spend_limits",
        family="spend_limits",
        primary_keys=("id",),
        replication_key="read_on",
        window="day",
        page_size=1000,
        description="Configured spend limits at every scope (user, seat tier, group, org).",
        keys=ADMIN_ONLY,
        money=("amount",),
        base=ORGANIZATION_BASE,
    ),
    Endpoint(
        name="spend_limit_increase_requests",
        path="spend_limit_increase_requests",
        family="spend_limits",
        primary_keys=("id",),
        replication_key="read_on",
        window="day",
        page_size=1000,
        description="Members' requests for a higher spend limit, with status and resolution.",
        keys=ADMIN_ONLY,
        base=ORGANIZATION_BASE,
        # The live effective row of a pending request: its money, exact, nested.
        traits=_traits(
            user_id_from=(("actor", "user_id"),),
            nested_money={"spend_summary": ("amount", "period_to_date_spend")},
        ),
    ),
)


def by_name(endpoints: Iterable[Endpoint] = ENDPOINTS) -> dict[str, Endpoint]:
    """The table keyed by stream name."""
    return {e.name: e for e in endpoints}


def by_path(endpoints: Iterable[Endpoint] = ENDPOINTS) -> dict[str, Endpoint]:
    """The table keyed by path (what the sandbox routes on)."""
    return {e.path: e for e in endpoints}


def names(family: Family | None = None) -> list[str]:
    """Stream names in sync order, optionally of one family."""
    return [e.name for e in ENDPOINTS if family is None or e.family == family]


STREAM_COUNT = len(ENDPOINTS)

_WORDS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
    *("seventeen", "eighteen", "nineteen", "twenty"),
)


def number_word(count: int) -> str:
    """A stream count as the settings' descriptions and log lines spell it."""
    return _WORDS[count] if 0 <= count < len(_WORDS) else str(count)
