"""How the sandbox behaves: ``SandboxSettings`` (and ``UsageCostSettings`` for ``/usage``
and ``/cost``), the two sandbox keys. A leaf module, so every other sandbox module can
type against the settings without importing the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tap_claude_enterprise.sandbox.data import OrgConfig

SANDBOX_API_KEY = "sk-ant-api01-sandbox"
SANDBOX_ADMIN_KEY = "sk-ant-admin01-sandbox"
# An Admin key that also has read:spend_limits (SANDBOX_ADMIN_KEY lacks it: a 403 there).
SANDBOX_LIMITS_KEY = "sk-ant-admin01-sandbox-limits"


@dataclass
class SpendLimitSettings:
    """How the Spend Limits endpoints answer."""

    enabled: bool = True  # False: 404, an organization without the API
    key: str = SANDBOX_LIMITS_KEY  # the Admin key with read:spend_limits
    max_limit: int = 1000
    default_limit: int = 20


@dataclass
class UsageCostSettings:
    """How ``/usage`` and ``/cost`` answer where the docs do not say."""

    enabled: bool = True  # False: the organization is not on the beta
    unavailable_status: int = 404  # how it is refused then: 404 not_found or 403 permission
    admin_key: str = SANDBOX_ADMIN_KEY
    max_limit: int = 1000
    default_limit: int = 100
    limit_error_names_max: bool = True  # False: "limit is too large", no number
    max_span_days: dict[str, int] = field(default_factory=lambda: {"1d": 31, "1h": 31, "1m": 1})
    span_error_names_max: bool = True
    has_more: bool = True  # False: the envelope has only data and next_page
    watermark: bool = True  # False: no data_refreshed_at in the envelope
    organization_id: bool = True
    actor_shape: str = "tagged"  # "flat": {"id", "type"}; "id": a bare id string
    cut_to_day: bool = False  # ending_at silently cut to today's start (Console reports)


@dataclass
class SandboxSettings:
    """How the sandbox behaves (everything a test may want to vary)."""

    api_key: str = SANDBOX_API_KEY
    lag_days: int = 1
    rate_limit_per_minute: int = 60
    rate_window_seconds: float = 60.0
    summaries_max_days: int = 366
    shape: str = "latest"  # or "baseline": the May-June 2026 response shapes
    refresh_lag_hours: float = 4.0
    latency_seconds: float = 0.0
    latency_per_100_rows: float = 0.0
    # Another tool polling the same organization: this many requests per rate window,
    # evenly spaced, already going when the sandbox starts (refused when it is full).
    other_consumer_per_minute: int = 0
    # Send ``retry-after`` with a rate-limit 429 (public captures show 429s without it).
    retry_after_on_429: bool = True
    # A ``request-id`` header and body ``request_id`` on every answer, as the API does.
    request_ids: bool = True
    # ``x-should-retry`` on error answers: true for 408/409/429/5xx, false otherwise;
    # ``should_retry_overrides`` sets it per status ("true", "false", or "" for none).
    should_retry_header: bool = True
    should_retry_overrides: dict[int, str] = field(default_factory=dict)
    # Serve a directory the tap wrote with ``capture_dir`` instead of the synthetic org.
    replay_dir: str | None = None
    org: OrgConfig = field(default_factory=OrgConfig)
    usage_cost: UsageCostSettings = field(default_factory=UsageCostSettings)
    spend_limits: SpendLimitSettings = field(default_factory=SpendLimitSettings)
