"""The Spend Limits API (Admin API, ``read:spend_limits``) in the sandbox.

Served from the same synthetic organization as the analytics endpoints:

* configured limits at every scope: the organization (a per-member default), the
  ``premium`` seat tier (unlimited: ``null``), two RBAC groups (engineering, and sales
  at ``"0"``: included usage only), Claude Code as an organization service, and per-user
  overrides (one raised, one unlimited, one ``"0"``);
* one effective row per current member (departed members and the service account are
  not members), inheriting override > RBAC group > premium tier > organization, with the
  period-to-date spend of the month: the member's per-user cost facts since the 1st
  (what ``user_cost_report`` sums), in cents with 3 decimals;
* increase requests in every status (pending ones carry the live effective row), most
  recent first, for current members only.

Pages: ``limit`` (at most ``SpendLimitSettings.max_limit``) and an opaque ``page``
cursor bound to the query (filters included).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.sandbox.data import Member, SyntheticOrg
from tap_claude_enterprise.sandbox.params import (
    UTC,
    ApiError,
    Params,
    SandboxState,
    bad_request,
    first,
    iso,
    listed,
    page_cursor,
    page_offset,
)

CURRENCY = "USD"
PERIOD = "monthly"
ORG_LIMIT = "50000"  # $500 per member and month, the organization's default
GROUPS = {"rbac_group_engineering": "80000", "rbac_group_sales": "0"}
PREMIUM_TIER = "premium"
CODE_SERVICE_LIMIT = "100000"
# Member index -> override amount (None: unlimited).
OVERRIDES: dict[int, str | None] = {0: "150000", 4: None, 7: "0"}
STATUSES = ("pending", "approved", "denied")
MISSING_LIMITS_SCOPE = "Missing required scopes. Got: ['api:admin'] Needed: ['read:spend_limits']"


def _id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:20]
    return f"{prefix}{digest}"


def rbac_group_of(member: Member) -> str | None:
    """The member's RBAC group (the seed ``rbac_group_members`` lists the same ones)."""
    if member.index < 6:
        return "rbac_group_engineering"
    if member.index < 12:
        return "rbac_group_sales"
    return None


def seat_tier_of(member: Member) -> str:
    """Every third member has a premium seat."""
    return PREMIUM_TIER if member.index % 3 == 2 else "standard"


def current_members(org: SyntheticOrg, today: dt.date) -> list[Member]:
    """Members today: departed members and the service account are excluded."""
    return [m for m in org.seat_members if m.present(today)]


def configured_limits(org: SyntheticOrg) -> list[dict[str, Any]]:
    """Every configured limit (``GET /spend_limits``), in a stable order."""
    created = dt.datetime(2026, 1, 2, 9, tzinfo=UTC)
    seed = org.config.seed

    def limit(key: str, amount: str | None, scope: dict, days: int) -> dict[str, Any]:
        return {
            "type": "spend_limit",
            "id": _id("slim_", seed, key),
            "amount": amount,
            "currency": CURRENCY,
            "period": PERIOD,
            "scope": scope,
            "created_at": iso(created),
            "updated_at": iso(created + dt.timedelta(days=days)),
        }

    rows = [
        limit("org", ORG_LIMIT, {"type": "organization"}, 30),
        limit("tier", None, {"type": "seat_tier", "seat_tier": PREMIUM_TIER}, 10),
        limit(
            "code",
            CODE_SERVICE_LIMIT,
            {"type": "organization_service", "service": "claude_code"},
            3,
        ),
    ]
    for group, group_amount in GROUPS.items():
        rows.append(limit(group, group_amount, {"type": "rbac_group", "rbac_group_id": group}, 20))
    members = {m.index: m for m in org.seat_members}
    for index, amount in OVERRIDES.items():
        if index in members:
            user = members[index].user_id
            rows.append(limit(user, amount, {"type": "user", "user_id": user}, 40 + index))
    return rows


def _effective_source(org: SyntheticOrg, member: Member) -> tuple[str, str | None, dict]:
    """(limit key, amount, source) by precedence: override, group, premium tier, org."""
    if member.index in OVERRIDES:
        return member.user_id, OVERRIDES[member.index], {"type": "user", "user_id": member.user_id}
    group = rbac_group_of(member)
    if group is not None:
        return group, GROUPS[group], {"type": "rbac_group", "rbac_group_id": group}
    if seat_tier_of(member) == PREMIUM_TIER:
        return "tier", None, {"type": "seat_tier", "seat_tier": PREMIUM_TIER}
    return "org", ORG_LIMIT, {"type": "organization"}


def _cents3(micro: int) -> str:
    """Micro-cents as cents with 3 decimals (the API's precision for spend)."""
    whole, frac = divmod(micro // 1000, 1000)
    return f"{whole}.{frac:03d}" if frac else str(whole)


def effective_row(state: SandboxState, member: Member, spend: dict[int, int]) -> dict[str, Any]:
    """One member's effective row (also a pending request's ``spend_summary``)."""
    org = state.org
    key, amount, source = _effective_source(org, member)
    return {
        "actor": org.actor(member, state.now().date()),
        "scope": {"type": "user", "user_id": member.user_id},
        "amount": amount,
        "currency": CURRENCY,
        "period": PERIOD,
        "period_to_date_spend": _cents3(spend.get(member.index, 0)),
        "source": source,
        "spend_limit_id": _id("slim_", org.config.seed, key),
    }


def _spend(state: SandboxState, members: list[Member]) -> dict[int, int]:
    now = state.now()
    month = dt.datetime(now.year, now.month, 1, tzinfo=UTC)
    refreshed = state.data_refreshed_at()
    wanted = {m.index for m in members}
    totals: dict[int, int] = {}
    for fact in state.org.facts_between(month, min(now, refreshed)):
        if fact.member in wanted and fact.actor_id is None:
            bump = state.org.cost_bump(fact.day, refreshed.date())
            amount = sum(atom[2] for atom in fact.cost_atoms(bump))
            totals[fact.member] = totals.get(fact.member, 0) + amount
    return totals


def effective_rows(state: SandboxState, params: Params) -> list[dict[str, Any]]:
    """``GET /spend_limits/effective`` rows, filtered by ``user_ids[]`` and ``period[]``."""
    members = current_members(state.org, state.now().date())
    users = set(listed(params, "user_ids[]"))
    if users:
        members = [m for m in members if m.user_id in users]
    periods = set(listed(params, "period[]"))
    if periods and PERIOD not in periods:
        return []
    spend = _spend(state, members)
    return [effective_row(state, m, spend) for m in members]


def increase_requests(state: SandboxState, params: Params) -> list[dict[str, Any]]:
    """``GET /spend_limit_increase_requests`` rows: most recent first, every status."""
    org = state.org
    now = state.now()
    members = [m for m in current_members(org, now.date()) if m.index % 4 == 1]
    approver = org.seat_members[0]
    spend = _spend(state, members)
    rows: list[dict[str, Any]] = []
    for n, member in enumerate(members):
        status = STATUSES[n % len(STATUSES)]
        created = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=2 * n + 1)
        resolved = status != "pending"
        by: dict[str, Any] | None = None
        if resolved:
            by = (
                org.actor(approver, now.date())
                if n % 2
                else {"type": "scoped_api_key_actor", "scoped_api_key_id": _id("apikey_", n)}
            )
        rows.append(
            {
                "type": "spend_limit_increase_request",
                "id": _id("slir_", org.config.seed, member.user_id),
                "actor": org.actor(member, now.date()),
                "created_at": iso(created),
                "period": PERIOD,
                "status": status,
                "resolved_at": iso(created + dt.timedelta(hours=5)) if resolved else None,
                "resolved_by": by,
                "spend_summary": None if resolved else effective_row(state, member, spend),
            }
        )
    statuses = set(listed(params, "status[]"))
    actors = set(listed(params, "actor_ids[]"))
    return [
        r
        for r in rows
        if (not statuses or r["status"] in statuses)
        and (not actors or r["actor"]["user_id"] in actors)
    ]


def answer(
    state: SandboxState, endpoint: Endpoint, params: Params, headers: Mapping[str, str]
) -> dict:
    """The body of one Spend Limits read, or raise ``ApiError``."""
    del headers
    s = state.settings.spend_limits
    if not s.enabled:
        raise ApiError(404, "not_found_error", "Not found")
    limit = _limit(first(params, "limit"), s.default_limit, s.max_limit)
    if endpoint.path == "spend_limits/effective":
        rows = effective_rows(state, params)
    elif endpoint.path == "spend_limits":
        rows = configured_limits(state.org)
    else:
        rows = increase_requests(state, params)
    # One period per member here, so paging by member is paging by row.
    offset = page_offset(endpoint.path, params, state.org.revision, expires=False)
    more = offset + limit < len(rows)
    cursor = page_cursor(endpoint.path, params, offset + limit, state.org.revision)
    return {"data": rows[offset : offset + limit], "next_page": cursor if more else None}


def _limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request("limit must be an integer") from exc
    if not 1 <= value <= maximum:
        raise bad_request(f"limit must be between 1 and {maximum}")
    return value
