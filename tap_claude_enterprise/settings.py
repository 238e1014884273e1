"""The tap's settings, declared as data, and the checks JSON Schema cannot express.

Every stream count in a description comes from the endpoint table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from singer_sdk import typing as th

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import number_word
from tap_claude_enterprise.records.organization import ORGANIZATION_COLUMN, label_errors
from tap_claude_enterprise.records.privacy import EMAIL_HANDLING_MODES
from tap_claude_enterprise.records.privacy import settings_errors as email_settings_errors
from tap_claude_enterprise.streams import usage_cost
from tap_claude_enterprise.streams.reports import (
    COST_DIMENSIONS,
    DEFAULT_GROUP_BY,
    USAGE_DIMENSIONS,
    validate_group_by,
)
from tap_claude_enterprise.sync import restate
from tap_claude_enterprise.sync.key_access import admin_readable
from tap_claude_enterprise.sync.windows import API_FLOOR, parse_day

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType(nullable=False),
        required=True,
        secret=True,
        title="API key",
        description=(
            "A Claude Enterprise Analytics API key (sk-ant-api01-...) with the "
            "read:analytics scope, created by a Primary Owner at claude.ai > Analytics "
            "> API keys: it reads every stream. Or an Admin API key (sk-ant-admin01-..., "
            "Claude Console): it reads only the usage and cost streams, and the other "
            f"{number_word(len(endpoints.ENDPOINTS) - len(admin_readable()))} are skipped "
            "with one line each."
        ),
    ),
    # --- the Spend Limits API (issue 17): one block ---
    th.Property(
        "admin_api_key",
        th.StringType(nullable=True),
        secret=True,
        title="Admin API key (spend limits)",
        description=(
            "Optional. A Claude Enterprise Admin API key (sk-ant-admin01-...) with the "
            "read:spend_limits scope, created by the Primary Owner: the "
            f"{', '.join(e.name for e in endpoints.ENDPOINTS if e.keys == endpoints.ADMIN_ONLY)} "
            "streams send it (every other stream sends api_key). Without it, an Admin key "
            "in api_key is tried; with neither, those streams are skipped in one line."
        ),
    ),
    th.Property(
        "api_url",
        th.StringType(nullable=False),
        default="https://api.anthropic.com",
        title="API base URL",
        description=(
            "Base URL of the API; the tap appends /v1/organizations/analytics/<endpoint>. "
            "Change it only to use the local sandbox or a proxy."
        ),
    ),
    th.Property(
        "start_date",
        th.DateType(nullable=True),
        default=API_FLOOR.isoformat(),  # one truth for --about, the README and the code
        title="Start date",
        description=(
            "First UTC day (YYYY-MM-DD) to sync when there is no saved state. Default: "
            "2026-01-01, the earliest day the API serves. Report streams also never go "
            "back more than 365 days, the API's limit."
        ),
    ),
    th.Property(
        "end_date",
        th.DateType(nullable=True),
        title="End date",
        description=(
            "Last UTC day (YYYY-MM-DD, inclusive) to sync. Default: none, sync up to the "
            "latest day the API serves. Useful for backfilling a fixed period."
        ),
    ),
    th.Property(
        "engagement_lookback_days",
        th.IntegerType(nullable=False, minimum=0),
        default=3,
        title="Engagement lookback (days)",
        description=(
            "Engagement streams re-read this many already-synced days on every run, "
            "because the API revises recent days by a few percent. 0 turns it off."
        ),
    ),
    th.Property(
        "cost_lookback_days",
        th.IntegerType(nullable=True, minimum=0),
        title="Usage and cost lookback (days)",
        description=(
            "Default: unset, and usage and cost streams re-read on every run from the 1st "
            "of the earliest month Anthropic may still revise (the previous month until "
            "the 10th, then the current one; revisions last until about 7 days after a "
            "month ends). Set a number to re-read that many days before the bookmark "
            "instead."
        ),
    ),
    th.Property(
        restate.SETTING,
        th.ObjectType(additional_properties=th.DateType()),
        title="Re-read streams from a day",
        description=(
            "For a data fix Anthropic announces: stream name -> day (YYYY-MM-DD), e.g. "
            '{"user_activity": "2026-11-17"}. The next run re-reads each named stream from '
            "that day, once (its state remembers the day); other streams are untouched."
        ),
    ),
    th.Property(
        "report_bucket_width",
        th.StringType(nullable=False, allowed_values=["1d", "1h", "1m"]),
        default="1d",
        title="Report bucket width",
        description=(
            "Time bucket of the four legacy report streams (usage_report, cost_report, "
            "user_usage_report, user_cost_report): 1d (day), 1h (hour) or 1m "
            "(minute). Minute buckets are requested one day at a time (the API's limit "
            "for minute buckets) and make many more requests."
        ),
    ),
    th.Property(
        "usage_group_by",
        th.ArrayType(th.StringType(allowed_values=list(USAGE_DIMENSIONS))),
        default=["product", "model"],
        title="Usage report grouping",
        description=(
            "Dimensions the legacy usage_report and user_usage_report streams are broken "
            "down by (group_by[]). Allowed: "
            f"{', '.join(USAGE_DIMENSIONS)}. Each becomes part of the primary key."
        ),
    ),
    th.Property(
        "cost_group_by",
        th.ArrayType(th.StringType(allowed_values=list(COST_DIMENSIONS))),
        default=["product", "model"],
        title="Cost report grouping",
        description=(
            "Dimensions the legacy cost_report and user_cost_report streams are broken "
            "down by (group_by[]). Allowed: "
            f"{', '.join(COST_DIMENSIONS)}. cost_type and token_type split each row "
            "into its cost components. Each becomes part of the primary key."
        ),
    ),
    th.Property(
        "usage_cost_bucket_width",
        th.StringType(nullable=False, allowed_values=list(usage_cost.TIME_BUCKET_WIDTHS)),
        default="1d",
        title="Usage and cost bucket width",
        description=(
            "Time bucket (time_bucket_width) of the usage and cost streams: 1d (day), "
            "1h (hour) or 1m (minute)."
        ),
    ),
    th.Property(
        "usage_stream_group_by",
        th.ArrayType(th.StringType(allowed_values=list(usage_cost.USAGE_DIMENSIONS))),
        title="Usage stream grouping",
        description=(
            "Dimensions the usage stream is broken down by (group_by[]). Default: "
            f"{', '.join(usage_cost.ENTERPRISE_GROUP_BY)} with an Analytics key (who "
            "used what, on which model and product); "
            f"{', '.join(usage_cost.CONSOLE_GROUP_BY)} with an Admin key. "
            f"Allowed: {', '.join(usage_cost.USAGE_DIMENSIONS)}. Each becomes a "
            "key column (actor as actor_id and actor_type)."
        ),
    ),
    th.Property(
        "cost_stream_group_by",
        th.ArrayType(th.StringType(allowed_values=list(usage_cost.COST_DIMENSIONS))),
        title="Cost stream grouping",
        description=(
            "Dimensions the cost stream is broken down by (group_by[]). Default: as "
            "usage_stream_group_by. Allowed: "
            f"{', '.join(usage_cost.COST_DIMENSIONS)}. token_type also groups by "
            "cost_type. Each becomes a key column (actor as actor_id and actor_type)."
        ),
    ),
    th.Property(
        "usage_cost_workspace_ids",
        th.ArrayType(th.StringType()),
        title="Usage and cost: workspaces",
        description="Only these workspaces (workspace_ids[], wrkspc_...). Default: all.",
    ),
    th.Property(
        "usage_cost_api_key_ids",
        th.ArrayType(th.StringType()),
        title="Usage and cost: API keys",
        description="Only these API keys (api_key_ids[], apikey_...). Default: all.",
    ),
    th.Property(
        "usage_cost_actor_ids",
        th.ArrayType(th.StringType()),
        title="Usage and cost: actors",
        description=(
            "Only these actors (actor_ids[]: user_..., svac_..., apikey_...; at most "
            "100). Default: all."
        ),
    ),
    th.Property(
        "usage_cost_products",
        th.ArrayType(th.StringType()),
        title="Usage and cost: products",
        description="Only these products (products[]). Default: all.",
    ),
    th.Property(
        "usage_cost_models",
        th.ArrayType(th.StringType()),
        title="Usage and cost: models",
        description="Only these models (models[]). Default: all.",
    ),
    th.Property(
        "max_requests_per_minute",
        th.IntegerType(nullable=False, minimum=1),
        default=60,
        title="Max requests per minute",
        description=(
            "Ceiling for all streams together in any rolling minute. The API allows 60 "
            "per minute per organization, shared with every other tool using it: lower "
            "this to leave room for them."
        ),
    ),
    th.Property(
        "max_retry_seconds",
        th.IntegerType(nullable=False, minimum=0),
        default=600,
        title="Retry budget (seconds)",
        description=(
            "How long one request keeps retrying rate limits (429) and transient "
            "failures before the sync fails (with its last STATE already written)."
        ),
    ),
    th.Property(
        "max_concurrent_requests",
        th.IntegerType(nullable=False, minimum=1),
        default=4,
        title="Concurrent requests",
        description=(
            "Independent days or windows fetched in parallel while responses are slow, "
            "always within max_requests_per_minute. 1 fetches one request at a time."
        ),
    ),
    th.Property(
        "connect_timeout_seconds",
        th.NumberType(nullable=False, exclusive_minimum=0),
        default=10,
        title="Connect timeout (seconds)",
        description="Give up on opening a connection after this long (then retry).",
    ),
    th.Property(
        "read_timeout_seconds",
        th.NumberType(nullable=False, exclusive_minimum=0),
        default=60,
        title="Read timeout (seconds)",
        description="Give up on a response that sends nothing for this long (then retry).",
    ),
    th.Property(
        "capture_dir",
        th.StringType(nullable=True),
        title="Capture directory",
        description=(
            "Write every raw API answer (status, the headers the tap reads, body) to "
            "this directory, one JSON file each, with the key removed and e-mail "
            "addresses pseudonymized: to report an API surprise. Default: off."
        ),
    ),
    th.Property(
        "email_handling",
        th.StringType(nullable=False, allowed_values=list(EMAIL_HANDLING_MODES)),
        default="keep",
        title="E-mail handling",
        description=(
            "What happens to every e-mail address in every stream, and to the names of "
            "people: keep, hash (a keyed HMAC-SHA256 under email_hash_key, the same on "
            "every run so joins keep working) or drop (null)."
        ),
    ),
    th.Property(
        "email_hash_key",
        th.StringType(nullable=True),
        secret=True,
        title="E-mail hash key",
        description=(
            "Secret key of email_handling: hash. Keep it stable: a new key gives every "
            "address a new hash. Without it, nobody can test a guessed address."
        ),
    ),
    th.Property(
        ORGANIZATION_COLUMN,
        th.StringType(nullable=True),
        title="Organization label",
        description=(
            "Set it when one warehouse holds several organizations: every record of every "
            "stream gets an organization_label column with this value, and the column "
            "leads every primary key. Use a stable name or id per organization."
        ),
    ),
).to_dict()


def settings_errors(config: Mapping[str, Any]) -> list[str]:
    """Errors in settings that JSON Schema cannot find, one line each, never a value."""
    errors = email_settings_errors(config) + label_errors(config)
    for setting, cost in (("usage_group_by", False), ("cost_group_by", True)):
        try:
            validate_group_by(config.get(setting, DEFAULT_GROUP_BY), cost=cost)
        except ValueError as exc:
            errors.append(str(exc))
    errors.extend(usage_cost.validate_usage_cost_settings(dict(config)))
    errors.extend(restate.settings_errors(config, endpoints.names()))
    days = {}
    for setting in ("start_date", "end_date"):
        try:
            days[setting] = parse_day(config.get(setting))
        except (TypeError, ValueError):
            errors.append(f"{setting} must be a day in YYYY-MM-DD form")
    start, end = days.get("start_date"), days.get("end_date")
    if start is not None and end is not None and end < start:
        errors.append("end_date is before start_date: nothing could be synced")
    return errors
