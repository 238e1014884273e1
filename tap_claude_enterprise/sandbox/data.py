"""The synthetic organization the sandbox serves.

Every value is a pure function of (seed, entity, day, revision), so the server, the
tests and the benchmark can each build the same organization and agree on every row
without talking to each other. Money is kept in integer micro-cents and only turned
into the API's six-decimal cent strings at the edge, so every total is exact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

FIRST_DAY = dt.date(2026, 1, 1)
# Usage and spend of a month can be revised until this many days after it ends.
MONTH_CLOSE_DAYS = 7

PRODUCTS = ("chat", "claude_code", "cowork", "office_agent", "claude_in_chrome", "claude_design")
MODELS = ("claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5-20251001")
TOKEN_TYPES = (
    "uncached_input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
)
# List price in micro-cents (1e-6 cent) per token, by model and token type.
PRICES = {
    "claude-opus-4-6": (1500, 7500, 150, 1875, 3000),
    "claude-sonnet-4-6": (300, 1500, 30, 375, 600),
    "claude-haiku-4-5-20251001": (100, 500, 10, 125, 200),
}
WEB_SEARCH_MICRO = 1_000_000  # one cent per search
CODE_EXECUTION_MICRO = 5_000_000  # five cents per execution span
# The negotiated discount: amount = list_amount * 83 / 100, floored to a micro-cent.
DISCOUNT = (83, 100)

SKILLS = (
    "brand-guidelines", "code-review", "data-analysis", "docx", "pdf", "pptx",
    "release-notes", "sql-helper", "unknown", "xlsx",
)  # fmt: skip
CONNECTORS = (
    "asana", "atlassian", "github", "google-drive", "linear", "notion", "salesforce", "slack",
)  # fmt: skip
PLUGINS = (
    ("code-review", "code-review@claude-plugins-official"),
    ("commit-commands", "commit-commands@claude-plugins-official"),
    ("pr-review-toolkit", "pr-review-toolkit@claude-plugins-official"),
    ("security-guidance", "security-guidance@claude-plugins-official"),
    ("serena", "serena@claude-plugins-official"),
    ("third-party", None),
)
ARTIFACT_TYPES = (
    "application/vnd.ant.code", "application/vnd.ant.mermaid", "application/vnd.ant.react",
    "image/svg+xml", "other", "text/csv", "text/html", "text/markdown",
)  # fmt: skip
FIRST_NAMES = (
    "alice", "bob", "carmen", "dmitri", "eve", "farah", "gustavo", "hana", "ivan", "jun",
    "kofi", "lena", "mateo", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq",
)  # fmt: skip
LAST_NAMES = (
    "nguyen", "ortiz", "smith", "kowalski", "okafor", "tanaka", "muller", "silva", "cohen",
    "haddad", "ivanova", "larsen", "moreau", "patel", "rossi", "schmidt", "walker", "zhang",
)  # fmt: skip
PROJECT_NAMES = (
    "Q1 Board Deck", "Support Macros", "Pricing Study", "Onboarding Guide", "Incident Reviews",
    "Sales Playbook", "Data Platform RFCs", "Hiring Loop", "Legal Templates", "Roadmap 2027",
)  # fmt: skip
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _hash_int(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(_hash_int(*parts))


def _tagged_id(prefix: str, *parts: object) -> str:
    value = _hash_int(prefix, *parts) << 64 | _hash_int(*parts, prefix)
    chars = []
    for _ in range(22):
        value, rem = divmod(value, 62)
        chars.append(_BASE62[rem])
    return prefix + "01" + "".join(chars)[:20]


def first_revisable_day(today: dt.date) -> dt.date:
    """The 1st of the earliest month the API still revises on ``today``.

    "Until about 7 days after the end of the calendar month": the previous month up to
    the 7th, then only the current one. The sandbox plays the API, so no margin here.
    """
    month = today.replace(day=1)
    if today.day <= MONTH_CLOSE_DAYS:
        return (month - dt.timedelta(days=1)).replace(day=1)
    return month


def format_micro(micro: int) -> str:
    """Format integer micro-cents as the API's cent string, e.g. ``"41280.000000"``."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), 1_000_000)
    return f"{sign}{whole}.{frac:06d}"


def iso(day: dt.date, minutes: int = 0) -> str:
    """Midnight UTC of ``day`` plus ``minutes``, in the API's timestamp format."""
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    moment += dt.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Every this many days (at an offset of its own) a member's spend surges 8-15x, if they
# work that day: a runaway agent loop, for the anomaly models to find.
SURGE_EVERY_DAYS = 97


@dataclass(frozen=True)
class UsageHabit:
    """How one member usually uses Claude: a main product and model, and how heavily."""

    product: str
    model: str
    intensity: float  # spend multiplier: ~0.1 (light) to ~4 (power user)
    surge_offset: int  # surge days: (day.toordinal() + offset) % SURGE_EVERY_DAYS == 0


@lru_cache(maxsize=4096)
def _usage_habit(seed: int, index: int) -> UsageHabit:
    r = _rng(seed, "habit", index)
    # Product and model preferences as a real organization shows them: mostly chat and
    # Claude Code, mostly Sonnet; spend per member spread log-normally (tens of dollars to
    # a few thousand a month), so no single member dwarfs the rest.
    product = r.choices(PRODUCTS, weights=(40, 30, 10, 10, 5, 5))[0]
    model = r.choices(MODELS, weights=(25, 60, 15))[0]
    intensity = min(4.0, max(0.08, r.lognormvariate(-0.3, 0.9)))
    offset = r.randrange(SURGE_EVERY_DAYS)
    return UsageHabit(product=product, model=model, intensity=intensity, surge_offset=offset)


@dataclass(frozen=True)
class Member:
    """One account of the organization."""

    index: int
    user_id: str
    email: str | None
    name: str | None
    joined: dt.date
    removed: dt.date | None
    activity: float
    service_account: bool = False
    # The member stopped using Claude on this day but keeps the seat (an idle seat).
    stopped: dt.date | None = None

    def present(self, day: dt.date) -> bool:
        """Whether the account is a member on ``day``."""
        return self.joined <= day and (self.removed is None or day < self.removed)


@dataclass(frozen=True)
class UsageFact:
    """Token usage of one member, one day, one (product, model, ...) combination."""

    member: int
    day: dt.date
    minute: int
    product: str | None
    model: str | None
    context_window: str | None
    inference_geo: str | None
    speed: str | None
    tokens: tuple[int, int, int, int, int]  # in TOKEN_TYPES order
    web_search_requests: int
    requests: int
    code_execution_spans: int
    # Usage no seat user made (an API key or a service account): its actor id, else None.
    actor_id: str | None = None
    workspace_id: str | None = None
    service_tier: str = "standard"

    def cost_atoms(self, revision_bump: int) -> list[tuple[str, str | None, int, int]]:
        """(cost_type, token_type, amount, list_amount) pieces in micro-cents."""
        atoms: list[tuple[str, str | None, int]] = []
        if self.model is not None:
            for tokens_of, count, price in zip(
                TOKEN_TYPES, self.tokens, PRICES[self.model], strict=False
            ):
                list_micro = count * price
                atoms.append(("tokens", tokens_of, list_micro))
        if self.web_search_requests:
            atoms.append(("web_search", None, self.web_search_requests * WEB_SEARCH_MICRO))
        if self.code_execution_spans:
            atoms.append(("code_execution", None, self.code_execution_spans * CODE_EXECUTION_MICRO))
        out: list[tuple[str, str | None, int, int]] = []
        for cost_type, token_type, list_micro in atoms:
            revised = list_micro + revision_bump * (list_micro // 50)
            amount = revised * DISCOUNT[0] // DISCOUNT[1]
            out.append((cost_type, token_type, amount, revised))
        return out


@dataclass
class OrgConfig:
    """Size and behaviour of the synthetic organization."""

    seed: int = 7
    members: int = 40
    projects: int = 8
    removed_share: float = 0.08
    engagement_revision_days: int = 3
    # None: usage and spend change until 7 days after their month ends (the newest
    # reference); a number: the older "for 30 days" rule, counted back from the watermark.
    cost_revision_days: int | None = None
    # API keys and service accounts whose usage no seat user made: in the org-wide
    # reports and /usage, /cost, never in the per-user reports.
    api_keys: int = 2
    # The service account's mid-month migration job: amounts (~$123M) with more
    # significant digits than a float holds. Off by default, so the organization looks
    # real; the money-precision tests switch it on (CLI: --precision-job).
    precision_job: bool = False
    extra: dict[str, object] = field(default_factory=dict)


class SyntheticOrg:
    """A deterministic organization: members, their activity, usage and spend."""

    def __init__(self, config: OrgConfig | None = None) -> None:
        self.config = config or OrgConfig()
        self.revision = 0
        self.organization_id = _tagged_id("org_", self.config.seed)
        self.members = self._make_members()
        self.projects = [
            (
                _tagged_id("claude_proj_", self.config.seed, i),
                f"{PROJECT_NAMES[i % len(PROJECT_NAMES)]}"
                + (f" {i // len(PROJECT_NAMES) + 1}" if i >= len(PROJECT_NAMES) else ""),
            )
            for i in range(self.config.projects)
        ]
        self.projects.sort()

    # --- members ------------------------------------------------------------------

    def _make_members(self) -> list[Member]:
        seed = self.config.seed
        members = []
        for i in range(self.config.members):
            rng = _rng(seed, "member", i)
            first = FIRST_NAMES[i % len(FIRST_NAMES)]
            last = LAST_NAMES[(i // len(FIRST_NAMES) + i) % len(LAST_NAMES)]
            joined = FIRST_DAY + dt.timedelta(days=rng.randrange(0, 40) if i % 5 == 0 else 0)
            removed = None
            if rng.random() < self.config.removed_share:
                removed = FIRST_DAY + dt.timedelta(days=rng.randrange(45, 200))
            members.append(
                Member(
                    index=i,
                    user_id=_tagged_id("user_", seed, i),
                    email=f"{first}.{last}{i}@acme.example",
                    name=f"{first.title()} {last.title()}",
                    joined=joined,
                    removed=removed,
                    activity=0.25 + 0.7 * rng.random(),
                    stopped=self._stop_day(i),
                )
            )
        # A system-minted service account: spend, but no e-mail and no seat activity.
        members.append(
            Member(
                index=len(members),
                user_id=_tagged_id("user_", seed, "service"),
                email=None,
                name="Claude Security",
                joined=FIRST_DAY,
                removed=None,
                activity=0.5,
                service_account=True,
            )
        )
        return members

    def _stop_day(self, index: int) -> dt.date | None:
        """About one member in eight stops using Claude at some point and keeps the seat."""
        rng = _rng(self.config.seed, "stopped", index)
        if rng.random() >= 0.12:
            return None
        return FIRST_DAY + dt.timedelta(days=rng.randrange(30, 300))

    @property
    def seat_members(self) -> list[Member]:
        """Members with a seat (everyone but service accounts)."""
        return [m for m in self.members if not m.service_account]

    def actor(self, member: Member, day: dt.date, *, old_shape: bool = False) -> dict:
        """The report ``actor`` object for a member, as of ``day``'s data."""
        deleted = member.removed is not None and member.removed <= day
        email_key = "email" if old_shape else "email_address"
        return {
            "type": "user_actor",
            "user_id": member.user_id,
            "name": "Deleted User" if deleted else member.name,
            email_key: None if deleted else member.email,
            "deleted": deleted,
        }

    # --- engagement ---------------------------------------------------------------

    @lru_cache(maxsize=512)  # noqa: B019 - the org lives as long as the server
    def active_members(self, day: dt.date) -> frozenset[int]:
        """Indices of seat members active on ``day``."""
        weekend = day.weekday() >= 5
        active = set()
        for member in self.seat_members:
            if not member.present(day) or (member.stopped and day >= member.stopped):
                continue
            chance = member.activity * (0.35 if weekend else 1.0)
            if _rng(self.config.seed, "active", member.index, day).random() < chance:
                active.add(member.index)
        return frozenset(active)

    def engagement_bump(self, day: dt.date, latest: dt.date) -> int:
        """How much a revision moves this day's engagement counts (recent days only)."""
        recent = (latest - day).days < self.config.engagement_revision_days
        return self.revision if recent else 0

    # Rows of each endpoint: module functions (``DAILY_ROWS``), kept here as methods too.

    def user_rows(self, day: dt.date, latest: dt.date, *, shape: str = "latest") -> list[dict]:
        """``/users`` rows for ``day``, sorted by e-mail address."""
        return user_activity_rows(self, day, latest, shape)

    def project_rows(self, day: dt.date, latest: dt.date, *, shape: str = "latest") -> list[dict]:
        """``/apps/chat/projects`` rows for ``day``, sorted by project id."""
        return chat_projects_rows(self, day, latest, shape)

    def skill_rows(self, day: dt.date, latest: dt.date, *, shape: str = "latest") -> list[dict]:
        """``/skills`` rows for ``day``, sorted by skill name."""
        return skills_rows(self, day, latest, shape)

    def connector_rows(self, day: dt.date, latest: dt.date, *, shape: str = "latest") -> list[dict]:
        """``/connectors`` rows for ``day``, sorted by connector name."""
        return connectors_rows(self, day, latest, shape)

    def plugin_rows(self, day: dt.date, latest: dt.date, *, shape: str = "latest") -> list[dict]:
        """``/plugins`` rows for ``day``, sorted by plugin name."""
        return plugins_rows(self, day, latest, shape)

    def artifact_rows(self, day: dt.date, latest: dt.date, *, shape: str = "latest") -> list[dict]:
        """``/artifacts`` rows: the non-empty (artifact_type, is_shared) cube for ``day``."""
        return artifacts_rows(self, day, latest, shape)

    def summary_row(self, day: dt.date, latest: dt.date, *, shape: str = "latest") -> dict:
        """One ``/summaries`` entry."""
        return summary_row(self, day, latest, shape)

    # --- usage and cost -----------------------------------------------------------

    @lru_cache(maxsize=512)  # noqa: B019 - the org lives as long as the server
    def usage_facts(self, day: dt.date) -> tuple[UsageFact, ...]:
        """Every usage fact of ``day`` (seat members and the service account)."""
        return day_facts(self, day)

    def cost_bump(self, day: dt.date, refreshed_day: dt.date) -> int:
        """How much a revision moves this day's spend (days whose month is still open)."""
        days = self.config.cost_revision_days
        if days is None:
            recent = day >= first_revisable_day(refreshed_day)
        else:
            recent = (refreshed_day - day).days < days
        return self.revision if recent else 0

    def workspaces(self) -> list[str]:
        """Workspace ids of the API keys and service accounts."""
        return [_tagged_id("wrkspc_", self.config.seed, i) for i in range(2)]

    def unattributed_actors(self) -> list[tuple[str, str, str]]:
        """(actor id, actor type, workspace id) of API keys and one service account."""
        spaces = self.workspaces()
        actors = [
            (_tagged_id("apikey_", self.config.seed, i), "api_key", spaces[i % len(spaces)])
            for i in range(self.config.api_keys)
        ]
        if self.config.api_keys:
            actors.append((_tagged_id("svac_", self.config.seed), "service_account", spaces[0]))
        return actors

    @lru_cache(maxsize=512)  # noqa: B019 - the org lives as long as the server
    def unattributed_facts(self, day: dt.date) -> tuple[UsageFact, ...]:
        """Usage of API keys and service accounts on ``day`` (no seat user)."""
        facts = []
        for n, (actor_id, _kind, workspace) in enumerate(self.unattributed_actors()):
            r = _rng(self.config.seed, "unattributed", actor_id, day)
            for _ in range(1 + r.randrange(0, 3)):
                facts.append(
                    UsageFact(
                        member=-1 - n,
                        day=day,
                        minute=r.randrange(0, 1440),
                        product="claude_code" if r.random() < 0.5 else None,
                        model=MODELS[r.randrange(len(MODELS))],
                        context_window="0-200k",
                        inference_geo="global",
                        speed="standard",
                        tokens=tuple(r.randrange(0, 500_000) for _ in TOKEN_TYPES),  # type: ignore[arg-type]
                        web_search_requests=r.randrange(0, 3),
                        requests=1 + r.randrange(0, 500),
                        code_execution_spans=0,
                        actor_id=actor_id,
                        workspace_id=workspace,
                        service_tier="batch" if r.random() < 0.3 else "standard",
                    )
                )
        return tuple(facts)

    def facts_between(
        self, start: dt.datetime, end: dt.datetime, *, org_wide: bool = False
    ) -> Iterable[UsageFact]:
        """Facts whose timestamp falls in ``[start, end)``; ``org_wide`` adds unattributed ones."""
        day = max(start.date(), FIRST_DAY)
        while dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) < end:
            base = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            facts = self.usage_facts(day)
            if org_wide:
                facts = facts + self.unattributed_facts(day)
            for fact in facts:
                moment = base + dt.timedelta(minutes=fact.minute)
                if start <= moment < end:
                    yield fact
            day += dt.timedelta(days=1)

    def report_rows(self, **query: Any) -> dict[tuple, dict]:
        """Aggregate facts into report rows keyed by (bucket, user, dimensions...)."""
        return aggregate_report(self, **query)


def user_activity_rows(
    org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str = "latest"
) -> list[dict]:
    """``/users`` rows for ``day``, sorted by e-mail address."""
    bump = org.engagement_bump(day, latest)
    rows = []
    for index in sorted(org.active_members(day)):
        member = org.members[index]
        rows.append(_user_row(org, member, day, bump, shape))
    rows.sort(key=lambda row: row["user"]["email_address"])
    return rows


Counter = Callable[[int], int]


def _user_row(org: SyntheticOrg, member: Member, day: dt.date, bump: int, shape: str) -> dict:
    r = _rng(org.config.seed, "metrics", member.index, day)

    def n(high: int) -> int:
        return r.randrange(0, high + 1)

    # The draws happen in one fixed order (the data must not change): baseline fields,
    # then the latest shape's, then the unified block.
    row = _user_baseline(n, member, bump)
    if shape == "baseline":
        return row
    _user_latest(n, row, day)
    if member.index % 3 == 0:
        row["chat_cowork_unified_metrics"] = _user_unified(n)
    return row


def _office_metrics(n: Counter) -> dict:
    return {
        product: {
            "connectors_used_count": n(2),
            "distinct_connectors_used_count": n(1),
            "distinct_session_count": n(2),
            "distinct_skills_used_count": n(1),
            "message_count": n(4),
            "skills_used_count": n(2),
        }
        for product in ("excel", "outlook", "powerpoint", "word")
    }


def _user_baseline(n: Counter, member: Member, bump: int) -> dict:
    messages = n(60) + bump
    office = _office_metrics(n)
    row: dict = {
        "user": {"id": member.user_id, "email_address": member.email},
        "chat_metrics": {
            "distinct_conversation_count": n(8),
            "message_count": messages,
            "distinct_projects_created_count": n(1),
            "distinct_projects_used_count": n(3),
            "distinct_files_uploaded_count": n(4),
            "distinct_artifacts_created_count": n(3),
            "distinct_shared_artifacts_viewed_count": n(2),
            "thinking_message_count": n(10),
            "distinct_skills_used_count": n(2),
            "connectors_used_count": n(6),
            "shared_conversations_viewed_count": n(2),
        },
        "claude_code_metrics": {
            "core_metrics": {
                "commit_count": n(6),
                "pull_request_count": n(2),
                "lines_of_code": {"added_count": n(900), "removed_count": n(300)},
                "distinct_session_count": n(4),
            },
            "tool_actions": {
                tool: {"accepted_count": n(30), "rejected_count": n(4)}
                for tool in ("edit_tool", "multi_edit_tool", "notebook_edit_tool", "write_tool")
            },
        },
        "cowork_metrics": {
            "action_count": n(60),
            "connectors_used_count": n(7),
            "dispatch_turn_count": n(3),
            "distinct_connectors_used_count": n(2),
            "distinct_session_count": n(3),
            "distinct_skills_used_count": n(2),
            "message_count": n(15),
            "skills_used_count": n(4),
        },
        "design_metrics": {
            "distinct_projects_created_count": n(1),
            "distinct_projects_used_count": n(1),
            "distinct_session_count": n(1),
            "message_count": n(5),
        },
        "office_metrics": office,
        "web_search_count": n(9),
    }
    return row


def _user_latest(n: Counter, row: dict, day: dt.date) -> None:
    row["user"]["type"] = "user"
    row["chat_metrics"]["distinct_connectors_used_count"] = n(2)
    row["claude_code_metrics"]["core_metrics"]["artifacts_created_count"] = (
        n(2) if day >= dt.date(2026, 8, 17) else 0
    )
    row["cowork_metrics"].update(
        {
            "artifacts_created_count": n(2) if day >= dt.date(2026, 8, 17) else 0,
            "distinct_plugins_used_count": n(1),
            "plugins_used_count": n(3),
            "edit_tool_count": n(9),
            "multi_edit_tool_count": 0,
            "notebook_edit_tool_count": n(1),
            "write_tool_count": n(3),
            "file_edit_count": n(12),
            "sessions_with_file_edits_count": n(2),
        }
    )
    row["science_metrics"] = {
        "delegation_count": n(1),
        "distinct_session_count": n(1),
        "message_count": n(3),
        "remote_compute_job_count": n(1),
        "skills_used_count": n(1),
    }
    row["last_activity_date"] = day.isoformat()
    row["distinct_user_count"] = None


def _user_unified(n: Counter) -> dict:
    return {
        "chat": {
            "connectors_used_count": n(2),
            "distinct_artifacts_created_count": n(1),
            "distinct_connectors_used_count": n(1),
            "distinct_conversation_count": n(2),
            "distinct_files_uploaded_count": n(1),
            "distinct_projects_created_count": 0,
            "distinct_projects_used_count": n(1),
            "distinct_shared_artifacts_viewed_count": None,
            "distinct_skills_used_count": n(1),
            "message_count": n(11),
            "shared_conversations_viewed_count": 0,
            "thinking_message_count": n(3),
        },
        "sessions": {
            "action_count": n(12),
            "artifacts_created_count": 0,
            "connectors_used_count": n(1),
            "dispatch_turn_count": 0,
            "distinct_connectors_used_count": n(1),
            "distinct_plugins_used_count": 0,
            "distinct_session_count": n(1),
            "distinct_skills_used_count": 0,
            "edit_tool_count": n(2),
            "file_edit_count": n(3),
            "message_count": n(4),
            "multi_edit_tool_count": 0,
            "notebook_edit_tool_count": 0,
            "plugins_used_count": 0,
            "sessions_with_file_edits_count": n(1),
            "skills_used_count": 0,
            "write_tool_count": n(1),
        },
    }


def summary_row(org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str = "latest") -> dict:
    """One ``/summaries`` entry."""

    def window(days: int) -> int:
        seen: set[int] = set()
        for back in range(days):
            past = day - dt.timedelta(days=back)
            if past >= FIRST_DAY:
                seen |= org.active_members(past)
        return len(seen)

    seats = sum(1 for m in org.seat_members if m.present(day))
    dau, wau, mau = len(org.active_members(day)), window(7), window(30)
    r = _rng(org.config.seed, "summary", day)
    bump = org.engagement_bump(day, latest)
    row: dict = {
        "starting_at": iso(day),
        "ending_at": iso(day + dt.timedelta(days=1)),
        "daily_active_user_count": dau + bump,
        "weekly_active_user_count": wau,
        "monthly_active_user_count": mau,
        "daily_adoption_rate": round(dau * 100 / seats, 2) if seats else 0.0,
        "weekly_adoption_rate": round(wau * 100 / seats, 2) if seats else 0.0,
        "monthly_adoption_rate": round(mau * 100 / seats, 2) if seats else 0.0,
        "assigned_seat_count": seats,
        "pending_invite_count": r.randrange(0, 6),
        "cowork_daily_active_user_count": dau // 4,
        "cowork_weekly_active_user_count": wau // 4,
        "cowork_monthly_active_user_count": mau // 4,
    }
    if shape == "latest":
        row.update(
            {
                "chat_cowork_unified_daily_active_user_count": dau // 3,
                "chat_cowork_unified_weekly_active_user_count": wau // 3,
                "chat_cowork_unified_monthly_active_user_count": mau // 3,
                "chat_daily_active_user_count": dau * 3 // 4,
                "chat_weekly_active_user_count": wau * 3 // 4,
                "chat_monthly_active_user_count": mau * 3 // 4,
                "claude_code_daily_active_user_count": dau // 2,
                "claude_code_weekly_active_user_count": wau // 2,
                "claude_code_monthly_active_user_count": mau // 2,
                "claude_design_daily_active_user_count": dau // 10,
                "claude_design_weekly_active_user_count": wau // 10,
                "claude_design_monthly_active_user_count": mau // 10,
                "office_agent_daily_active_user_count": dau // 5,
                "office_agent_weekly_active_user_count": wau // 5,
                "office_agent_monthly_active_user_count": mau // 5,
                "science_daily_active_user_count": dau // 20,
                "science_weekly_active_user_count": wau // 20,
                "science_monthly_active_user_count": mau // 20,
                "science_entitled_user_count": seats // 10,
            }
        )
    return row


def chat_projects_rows(
    org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str = "latest"
) -> list[dict]:
    """``/apps/chat/projects`` rows for ``day``, sorted by project id."""
    active = len(org.active_members(day))
    bump = org.engagement_bump(day, latest)
    rows = []
    for i, (project_id, name) in enumerate(org.projects):
        r = _rng(org.config.seed, "project", project_id, day)
        if not active or r.random() > 0.7:
            continue
        creator = org.members[i % len(org.seat_members)]
        users = 1 + r.randrange(0, max(1, min(active, 12)))
        row = {
            "project_id": project_id,
            "project_name": name,
            "distinct_user_count": users,
            "distinct_conversation_count": users + r.randrange(0, 8),
            "message_count": users * (2 + r.randrange(0, 20)) + bump,
            "created_at": None if i % 4 == 3 else iso(FIRST_DAY, i * 97),
            "created_by": None
            if i % 4 == 3
            else {"id": creator.user_id, "email_address": creator.email}
            | ({"type": "user"} if shape == "latest" else {}),
        }
        rows.append(row)
    return rows


def _per_product(r: random.Random, key: str, high: int) -> dict:
    conversation_key = f"distinct_conversation_{key}_used_count"
    session_key = f"distinct_session_{key}_used_count"
    return {
        "chat_cowork_unified_metrics": {
            "chat": {conversation_key: r.randrange(0, 3)},
            "sessions": {session_key: r.randrange(0, 3)},
        },
        "chat_metrics": {f"distinct_conversation_{key}_used_count": r.randrange(0, high)},
        "claude_code_metrics": {f"distinct_session_{key}_used_count": r.randrange(0, high)},
        "cowork_metrics": {f"distinct_session_{key}_used_count": r.randrange(0, high)},
        "office_metrics": {
            p: {f"distinct_session_{key}_used_count": r.randrange(0, 3)}
            for p in ("excel", "outlook", "powerpoint", "word")
        },
    }


def skills_rows(
    org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str = "latest"
) -> list[dict]:
    """``/skills`` rows for ``day``, sorted by skill name."""
    active = len(org.active_members(day))
    bump = org.engagement_bump(day, latest)
    rows = []
    for name in SKILLS:
        r = _rng(org.config.seed, "skill", name, day)
        if not active or r.random() > 0.75:
            continue
        row = {"skill_name": name, "distinct_user_count": 1 + r.randrange(0, active) + bump}
        row |= _per_product(r, "skill", 20)
        if shape == "baseline":
            del row["chat_cowork_unified_metrics"]
        else:
            spend = r.randrange(0, 5_000_000_000)
            row |= {
                "skill_display_name": "Unknown skill" if name == "unknown" else name.title(),
                "invocation_count": r.randrange(1, 80),
                "share_status": ("organization", "private", "public", None)[r.randrange(4)],
                "estimated_overage_spend": format_micro(spend),
                "attributed_list_price": format_micro(spend * 5 // 4),
                "currency": "USD",
                "enable_count": r.randrange(0, 5),
            }
        rows.append(row)
    return rows


def connectors_rows(
    org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str = "latest"
) -> list[dict]:
    """``/connectors`` rows for ``day``, sorted by connector name."""
    active = len(org.active_members(day))
    bump = org.engagement_bump(day, latest)
    rows = []
    for name in CONNECTORS:
        r = _rng(org.config.seed, "connector", name, day)
        if not active or r.random() > 0.8:
            continue
        row = {"connector_name": name, "distinct_user_count": 1 + r.randrange(0, active) + bump}
        row |= _per_product(r, "connector", 30)
        if shape == "baseline":
            del row["chat_cowork_unified_metrics"]
        else:
            calls = [r.randrange(0, 50) for _ in range(3)]
            row |= {
                "connector_display_name": None,
                "individual_auth_distinct_user_count": r.randrange(0, 5),
                "managed_auth_distinct_user_count": None
                if day < dt.date(2026, 7, 1)
                else r.randrange(0, 5),
                "read_call_count": calls[0],
                "write_call_count": calls[1],
                "unclassified_call_count": calls[2],
            }
        rows.append(row)
    return rows


def plugins_rows(
    org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str = "latest"
) -> list[dict]:
    """``/plugins`` rows for ``day``, sorted by plugin name."""
    active = len(org.active_members(day))
    bump = org.engagement_bump(day, latest)
    rows = []
    for name, plugin_id in PLUGINS:
        r = _rng(org.config.seed, "plugin", name, day)
        if not active or r.random() > 0.7:
            continue
        row: dict = {
            "plugin_name": name,
            "plugin_id": plugin_id,
            "distinct_user_count": 1 + r.randrange(0, active),
            "install_count": None if plugin_id is None else r.randrange(0, 4),
            "invocation_count": r.randrange(1, 60) + bump,
            "claude_code_metrics": {"distinct_session_plugin_used_count": r.randrange(0, 20)},
            "cowork_metrics": {"distinct_session_plugin_used_count": r.randrange(0, 8)},
        }
        if shape == "latest":
            row["chat_cowork_unified_metrics"] = {
                "distinct_session_plugin_used_count": r.randrange(0, 3)
            }
        rows.append(row)
    return rows


def artifacts_rows(
    org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str = "latest"
) -> list[dict]:
    """``/artifacts`` rows: the non-empty (artifact_type, is_shared) cube for ``day``."""
    del shape
    active = len(org.active_members(day))
    bump = org.engagement_bump(day, latest)
    rows = []
    for artifact_type in ARTIFACT_TYPES:
        for shared in (False, True):
            r = _rng(org.config.seed, "artifact", artifact_type, shared, day)
            if not active or r.random() > 0.6:
                continue
            created = 1 + r.randrange(0, 30) + bump
            rows.append(
                {
                    "artifact_type": artifact_type,
                    "is_shared": shared,
                    "artifacts_created_count": created,
                    "published_artifacts_created_count": r.randrange(0, created + 1)
                    if shared
                    else 0,
                    "distinct_user_count": 1 + r.randrange(0, active),
                }
            )
    return rows


def day_facts(org: SyntheticOrg, day: dt.date) -> tuple[UsageFact, ...]:
    """Every usage fact of ``day`` (seat members and the service account)."""
    seed = org.config.seed
    facts = []
    actives = set(org.active_members(day))
    service = org.members[-1]
    if _rng(seed, "service", day).random() < 0.5:
        actives.add(service.index)
    for index in sorted(actives):
        facts += _member_facts(seed, index, day)
    if org.config.precision_job and day.day == 15:
        facts.append(_precision_fact(service.index, day))
    return tuple(facts)


def _member_facts(seed: int, index: int, day: dt.date) -> list[UsageFact]:
    """One member's usage on ``day``."""
    facts = []
    r = _rng(seed, "usage", index, day)
    habit = _usage_habit(seed, index)
    # Most days look like the member's usual day; a few are a runaway agent loop.
    surging = (day.toordinal() + habit.surge_offset) % SURGE_EVERY_DAYS == 0
    surge = 8 + r.randrange(0, 8) if surging else 1
    combos = 1 + r.randrange(0, 3)
    for _ in range(combos):
        usual = r.random() < 0.7
        product = habit.product if usual else PRODUCTS[r.randrange(len(PRODUCTS))]
        model = habit.model if r.random() < 0.75 else MODELS[r.randrange(len(MODELS))]
        # Claude Code sessions carry far more context than a chat.
        base = 150 if product == "claude_code" else 25
        scale = max(1, round(base * habit.intensity * surge * (0.6 + 0.8 * r.random())))
        tokens = (
            r.randrange(2_000, 20_000) * scale,
            r.randrange(500, 4_000) * scale,
            r.randrange(0, 60_000) * scale,
            r.randrange(0, 8_000) * scale,
            r.randrange(0, 2_000) * scale,
        )
        facts.append(
            UsageFact(
                member=index,
                day=day,
                minute=r.randrange(0, 1440),
                product=product,
                model=model,
                context_window="200k-1M" if r.random() < 0.1 else "0-200k",
                inference_geo="us" if r.random() < 0.2 else "global",
                speed="fast" if r.random() < 0.1 else "standard",
                tokens=tokens,
                web_search_requests=r.randrange(0, 4),
                requests=1 + r.randrange(0, 300),
                code_execution_spans=0,
            )
        )
    if r.random() < 0.3:
        # Sandbox / code-execution usage: no product, no model (a null-key row).
        facts.append(
            UsageFact(
                member=index,
                day=day,
                minute=r.randrange(0, 1440),
                product=None,
                model=None,
                context_window=None,
                inference_geo=None,
                speed=None,
                tokens=(0, 0, 0, 0, 0),
                web_search_requests=0,
                requests=1 + r.randrange(0, 20),
                code_execution_spans=1 + r.randrange(0, 20),
            )
        )
    return facts


def _precision_fact(member: int, day: dt.date) -> UsageFact:
    """A month-end migration job of the service account: an amount with more
    significant digits than a float holds."""
    return UsageFact(
        member=member,
        day=day,
        minute=720,
        product="claude_code",
        model="claude-opus-4-6",
        context_window="200k-1M",
        inference_geo="global",
        speed="standard",
        tokens=(9_876_543_210_001, 0, 0, 0, 0),
        web_search_requests=0,
        requests=1,
        code_execution_spans=0,
    )


def aggregate_report(
    org: SyntheticOrg,
    *,
    kind: str,
    per_user: bool,
    start: dt.datetime,
    end: dt.datetime,
    width: str,
    group_by: tuple[str, ...],
    refreshed_day: dt.date,
    bucketed: bool = True,
) -> dict[tuple, dict]:
    """Aggregate facts into report rows keyed by (bucket, user, dimensions...).

    ``kind`` is ``usage`` or ``cost``. Values are integers (micro-cents for money);
    the server formats them.
    """
    step = {"1d": 1440, "1h": 60, "1m": 1}[width]
    dims = ("product", "model", "context_window", "inference_geo", "speed")
    grouped_dims = tuple(d for d in dims if d in group_by)
    by_cost_type = "cost_type" in group_by
    by_token_type = "token_type" in group_by
    totals: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for fact in org.facts_between(start, end, org_wide=not per_user):
        base = dt.datetime(fact.day.year, fact.day.month, fact.day.day, tzinfo=dt.timezone.utc)
        moment = base + dt.timedelta(minutes=fact.minute)
        if bucketed:
            offset = int((moment - start).total_seconds() // 60)
            bucket = start + dt.timedelta(minutes=offset - offset % step)
        else:
            bucket = start
        user = fact.member if per_user else None
        dim_values = tuple(getattr(fact, d) for d in grouped_dims)
        if kind == "usage":
            acc = totals[(bucket, user, dim_values)]
            for usage_type, count in zip(TOKEN_TYPES, fact.tokens, strict=False):
                acc[usage_type] += count
            acc["web_search_requests"] += fact.web_search_requests
            acc["requests"] += fact.requests
            continue
        bump = org.cost_bump(fact.day, refreshed_day)
        fan_out = by_cost_type or by_token_type
        for cost_type, token_type, amount, list_amount in fact.cost_atoms(bump):
            # Fan-out rows carry cost_type, and token_type where grouped by it.
            extra = (cost_type, token_type if by_token_type else None) if fan_out else ()
            acc = totals[(bucket, user, dim_values + extra)]
            acc["amount"] += amount
            acc["list_amount"] += list_amount
        if not fan_out:
            totals[(bucket, user, dim_values)]["requests"] += fact.requests
    return {key: dict(value) for key, value in totals.items()}


# --- the daily endpoints' rows ---------------------------------------------------------

DailyRows = Callable[["SyntheticOrg", dt.date, dt.date, str], list[dict]]
# The rows a daily-family endpoint serves, by endpoint name: ``fn(org, day, latest, shape)``
# (``latest``: the latest available day, for revisions; ``shape``: "latest" or "baseline").
# A new daily endpoint is a table entry (``endpoints.py``) plus its function here.
DAILY_ROWS: dict[str, DailyRows] = {
    "user_activity": user_activity_rows,
    "chat_projects": chat_projects_rows,
    "skills": skills_rows,
    "connectors": connectors_rows,
    "plugins": plugins_rows,
    "artifacts": artifacts_rows,
}


def register_daily_rows(name: str, rows: DailyRows) -> None:
    """Serve ``rows`` for the daily endpoint named ``name``."""
    DAILY_ROWS[name] = rows
