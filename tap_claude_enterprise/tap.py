"""The tap: settings, streams, connection test and the run summary."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import click
import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.helpers.capabilities import TapCapabilities

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import number_word
from tap_claude_enterprise.http import first_contact, transport
from tap_claude_enterprise.http.client import USER_AGENT, AnalyticsStream, require_tls
from tap_claude_enterprise.http.errors import BadRequestError, DateNotAvailableError, redact
from tap_claude_enterprise.http.redaction import install_secret_filter
from tap_claude_enterprise.records.organization import ORGANIZATION_COLUMN, label_errors
from tap_claude_enterprise.records.privacy import EMAIL_HANDLING_MODES
from tap_claude_enterprise.records.privacy import settings_errors as email_settings_errors
from tap_claude_enterprise.run import RunContext
from tap_claude_enterprise.streams import stream_types, usage_cost
from tap_claude_enterprise.streams.reports import (
    COST_DIMENSIONS,
    USAGE_DIMENSIONS,
    validate_group_by,
)
from tap_claude_enterprise.sync.availability import EndpointAccess
from tap_claude_enterprise.sync.key_access import (
    admin_readable,
    is_admin_key,
    skip_streams_key_cannot_read,
)
from tap_claude_enterprise.sync.stats import log_summary
from tap_claude_enterprise.sync.windows import API_FLOOR, format_timestamp, parse_day, utc_now

CONNECTION_TEST_DAYS_BACK = 7


class TapClaudeEnterprise(Tap):
    """Singer tap for the Claude Enterprise Analytics API."""

    name = "tap-claude-enterprise"
    message_writer_class = MsgSpecWriter
    capabilities = (*Tap.capabilities, TapCapabilities.TEST)  # type: ignore[assignment]

    config_jsonschema = th.PropertiesList(
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
            th.IntegerType(nullable=False, minimum=0),
            default=30,
            title="Usage and cost lookback (days)",
            description=(
                "Usage and cost streams re-read this many days before their bookmark on "
                "every run, because Anthropic revises usage and spend for up to 30 days."
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # What this run learns; handed to every stream (``stream.run``).
        self.run = RunContext()
        self.connection_test_error = ""
        super().__init__(*args, **kwargs)
        install_secret_filter(self.config.get("api_key"))
        install_secret_filter(self.config.get("email_hash_key"))

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate settings; messages never repeat the key's value."""
        install_secret_filter(self.config.get("api_key"))
        install_secret_filter(self.config.get("email_hash_key"))
        errors = super()._validate_config(raise_errors=False)
        errors += email_settings_errors(self.config) + label_errors(self.config)
        for setting, cost in (("usage_group_by", False), ("cost_group_by", True)):
            try:
                validate_group_by(self.config.get(setting, ["product", "model"]), cost=cost)
            except ValueError as exc:
                errors.append(str(exc))
        days = {}
        errors.extend(usage_cost.validate_usage_cost_settings(dict(self.config)))
        for setting in ("start_date", "end_date"):
            value = self.config.get(setting)
            try:
                days[setting] = parse_day(value)
            except (TypeError, ValueError):
                errors.append(f"{setting} must be a day in YYYY-MM-DD form")
        start, end = days.get("start_date"), days.get("end_date")
        if start is not None and end is not None and end < start:
            errors.append("end_date is before start_date: nothing could be synced")
        errors = [redact(str(e), limit=1000) for e in errors]  # room for allowed values
        if errors and raise_errors:
            summary = "Config validation failed: " + "; ".join(errors)
            ctx = click.get_current_context(silent=True)
            if ctx is not None:
                # Meltano (`meltano config test`, `meltano run`) shows only a plugin's last
                # output line: make it the reasons, not the SDK's bare "Config validation failed".
                self.logger.error("%s", summary)
                ctx.exit(1)
            raise ConfigValidationError(summary, errors=errors)
        return errors

    @property
    def endpoint_access(self) -> EndpointAccess:
        """Which endpoints accepted the key in this run (read by ``AnalyticsStream``)."""
        return self.run.endpoint_access

    def discover_streams(self) -> list[AnalyticsStream]:
        """One stream per entry of the endpoint table, in its order, sharing the run."""
        streams = []
        for stream_type in stream_types():
            stream = stream_type(tap=self)
            stream.run = self.run
            streams.append(stream)
        return streams  # type: ignore[return-value]

    def load_streams(self) -> list[AnalyticsStream]:  # type: ignore[override]
        """Keep the table's order (the SDK sorts by name): summaries must sync first."""
        order = {e.name: i for i, e in enumerate(endpoints.ENDPOINTS)}
        streams = super().load_streams()
        return sorted(streams, key=lambda s: order.get(s.name, len(order)))  # type: ignore[return-value]

    # --- run summary --------------------------------------------------------------

    def sync_all(self) -> None:
        """Sync every selected stream, then log one summary line per stream."""
        self.run.started = time.monotonic()
        self.run.skipped_streams = skip_streams_key_cannot_read(
            self.config.get("api_key"), self.streams, self.logger
        )
        try:
            super().sync_all()
            self.run.endpoint_access.raise_if_key_refused()
        finally:
            log_summary(self.logger, self.streams.values(), self.run)

    # --- connection test ----------------------------------------------------------

    def run_connection_test(self) -> bool:
        """One cheap authenticated request (no sync): a week-old daily summary.

        ``/summaries`` rows hold no personal data, and a day a week back is served by
        every API version, so the only way this fails is the key or the network. The
        test has a short retry budget of its own and does not retry a host that cannot
        be resolved or reached, so it answers within seconds; the reason is one line in
        ``connection_test_error``.
        """
        if is_admin_key(self.config.get("api_key")):
            return self._admin_key_connection_test()
        stream = self.streams["summaries"]
        assert isinstance(stream, AnalyticsStream)
        day = max(utc_now().date() - dt.timedelta(days=CONNECTION_TEST_DAYS_BACK), API_FLOOR)
        context = {
            "starting_date": day.isoformat(),
            "ending_date": (day + dt.timedelta(days=1)).isoformat(),
        }
        self.connection_test_error = _probe(stream, context) or ""
        if self.connection_test_error:
            return False
        self.logger.info(
            "Connection test passed: the key can read Claude Enterprise analytics (%s): "
            "all %s Enterprise streams, and %s if the organization is on "
            "the Usage and Cost Analytics API beta (otherwise a sync skips those %s).",
            USER_AGENT,
            number_word(len(endpoints.ENDPOINTS) - len(admin_readable())),
            " and ".join(admin_readable()),
            number_word(len(admin_readable())),
        )
        return True

    def _admin_key_connection_test(self) -> bool:
        """An Admin key reads only usage and cost: probe /usage with one request."""
        stream = self.streams[admin_readable()[0]]
        assert isinstance(stream, AnalyticsStream)
        end = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
        end -= dt.timedelta(days=CONNECTION_TEST_DAYS_BACK)
        context = {
            "starting_at": format_timestamp(end - dt.timedelta(days=1)),
            "ending_at": format_timestamp(end),
        }
        self.connection_test_error = _probe(stream, context) or ""
        if self.connection_test_error:
            return False
        others = ", ".join(name for name in self.streams if name not in admin_readable())
        self.logger.info(
            "Connection test passed: the Admin key can read the usage and cost streams; "
            "it cannot read %s (they need an Analytics key), which a sync skips.",
            others,
        )
        return True

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: exit 0 when the connection test passes, 1 when it fails."""
        if value == "disabled":
            return
        if value == "schema":
            super().cb_test(ctx, param, value)
            return
        config = ctx.params.get("config")
        try:
            tap = cls(
                config=config.config if config else None,
                parse_env_config=config.parse_env if config else False,
                validate_config=True,
            )
        except ConfigValidationError as exc:
            cls.logger.error("%s", first_contact.one_line(exc))  # noqa: TRY400
            ctx.exit(1)
        ok = tap.run_connection_test()
        print(
            "Connection test passed."
            if ok
            else f"Connection test failed: {tap.connection_test_error}",
            file=sys.stderr,
        )
        ctx.exit(0 if ok else 1)

    # --- command line: one line per bad input, no traceback ----------------------

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """``--config``: a missing or broken file is one line and exit 1."""
        for path in value:
            if path != "ENV":
                try:
                    first_contact.read_json_object(path, "config file")
                except first_contact.UserInputError as exc:
                    cls.logger.error("%s", exc)  # noqa: TRY400
                    ctx.exit(1)
        return super().cb_config(ctx, param, value)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with ``--state`` and ``--catalog`` read by the tap itself."""
        command = super().get_singer_command()
        for option in command.params:
            if option.name in {"state", "catalog"}:
                option.type = click.STRING  # a path: read in ``invoke``, one line if bad
        return command

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: str | None = None,
        catalog: str | None = None,
    ) -> None:
        """Run a sync; errors the tap explains end in one line and exit 1, no traceback."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        try:
            state_dict = None
            if state:
                state_dict = first_contact.read_json_object(state, "STATE file")
                first_contact.check_state(state_dict, state)
            catalog_dict = (
                first_contact.read_json_object(catalog, "catalog file") if catalog else None
            )
            tap = cls(
                config=config.config if config else {},
                state=state_dict,
                catalog=catalog_dict,
                parse_env_config=config.parse_env if config else False,
                validate_config=True,
            )
            # A bad api_url is refused before any stream starts (and any SCHEMA is written).
            require_tls(tap.config.get("api_url", "https://api.anthropic.com"))
            tap.sync_all()
        except Exception as exc:
            line = first_contact.one_line(exc)
            if line is None:
                raise  # not an error the tap explains: keep the traceback
            cls.logger.debug("Where it failed (LOGLEVEL=DEBUG only):", exc_info=True)
            cls.logger.error("%s", line)  # noqa: TRY400
            sys.exit(1)


def _probe(stream: AnalyticsStream, context: dict[str, str]) -> str | None:
    """One quick request to ``stream``; None if the key works, else the reason (one line).

    A 400 comes after authentication: the key works even if the day was refused.
    """
    stream.quick_check = True
    try:
        next(iter(stream.fetch_pages(context)), None)
    except (DateNotAvailableError, BadRequestError) as exc:
        stream.logger.info("The API accepted the key but refused the test day: %s", exc)
    except (FatalAPIError, RetriableAPIError) as exc:
        return redact(str(exc), limit=2000)
    except requests.RequestException as exc:
        cause = transport.network_cause(exc)
        return cause or redact(f"{type(exc).__name__}: {exc}", limit=2000)
    except Exception as exc:  # the verdict names anything unexpected
        return redact(f"{type(exc).__name__}: {exc}", limit=2000)
    finally:
        stream.quick_check = False
    return None


if __name__ == "__main__":
    TapClaudeEnterprise.cli()
