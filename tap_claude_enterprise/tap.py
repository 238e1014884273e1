"""The tap: settings, streams, connection test and the run summary."""

from __future__ import annotations

import copy
import sys
import time
from typing import Any

import click
from singer_sdk import Stream, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import TapCapabilities

from tap_claude_enterprise import connection_test, endpoints, settings
from tap_claude_enterprise.http import first_contact
from tap_claude_enterprise.http.client import AnalyticsStream, require_tls
from tap_claude_enterprise.http.errors import redact
from tap_claude_enterprise.http.redaction import install_secret_filter
from tap_claude_enterprise.run import RunContext
from tap_claude_enterprise.streams import stream_types
from tap_claude_enterprise.sync.availability import EndpointAccess
from tap_claude_enterprise.sync.key_access import (
    ADMIN_KEY_SETTING,
    skip_spend_limits_without_key,
    skip_streams_key_cannot_read,
)
from tap_claude_enterprise.sync.stats import log_summary

DECIMAL_KEYWORDS = ("precision", "scale")


def restore_decimal_keywords(tap: Tap) -> None:
    """Re-register each stream's schema with ``precision``/``scale`` of its decimals.

    The SDK registers a stream's schema from its catalog model, which keeps ``format:
    x-singer.decimal`` but drops ``precision`` and ``scale``: SCHEMA messages would make
    target-postgres create NUMERIC and target-snowflake NUMBER(38, 0).
    """
    for entry in tap.catalog.streams:
        name = entry.stream or entry.tap_stream_id
        stream = tap.streams.get(name)
        mappers = tap.mapper.stream_maps.get(name)
        if stream is None or not mappers:
            continue
        schema = copy.deepcopy(mappers[0].raw_schema)
        if with_decimal_keywords(schema, stream.schema):
            tap.mapper.register_raw_stream_schema(name, schema, entry.key_properties)


def with_decimal_keywords(schema: dict[str, Any], declared: dict[str, Any]) -> bool:
    """Copy ``precision``/``scale`` of decimal properties from ``declared`` into ``schema``.

    Only where both schemas have the property with ``format: x-singer.decimal``; returns
    whether anything was added.
    """
    added = False
    declared_props = declared.get("properties") or {}
    for name, prop in (schema.get("properties") or {}).items():
        source = declared_props.get(name)
        if not isinstance(source, dict) or not isinstance(prop, dict):
            continue
        if prop.get("format") == source.get("format") == "x-singer.decimal":
            for keyword in DECIMAL_KEYWORDS:
                if keyword in source and keyword not in prop:
                    prop[keyword] = source[keyword]
                    added = True
        added = with_decimal_keywords(prop, source) or added
    return added


class TapClaudeEnterprise(Tap):
    """Singer tap for the Claude Enterprise Analytics API."""

    name = "tap-claude-enterprise"
    message_writer_class = MsgSpecWriter
    capabilities = (*Tap.capabilities, TapCapabilities.TEST)  # type: ignore[assignment]

    config_jsonschema = settings.CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The SDK's set-up, then the checks JSON Schema cannot express, in one message.

        Every reason is redacted (no key, no e-mail), and the message lists them all:
        Meltano shows only a plugin's last line, so it must be the reasons, not the
        SDK's bare "Config validation failed".
        """
        # What this run learns; handed to every stream (``stream.run``).
        self.run = RunContext()
        self.connection_test_error = ""
        config = kwargs.get("config")
        if isinstance(config, dict):  # before the SDK can log anything about it
            install_secret_filters(config)
        errors: list[str] = []
        try:
            super().__init__(*args, **kwargs)
        except ConfigValidationError as exc:
            errors = [str(e) for e in exc.errors] or [str(exc)]
        install_secret_filters(self.config)
        if kwargs.get("validate_config", True):
            errors += settings.settings_errors(self.config)
        if errors:
            reasons = [redact(e, limit=1000) for e in errors]  # room for allowed values
            summary = "Config validation failed: " + "; ".join(reasons)
            raise ConfigValidationError(summary, errors=reasons)

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

    @property
    def catalog_dict(self) -> dict:
        """The SDK's catalog, with each stream's schema exactly as the tap declares it.

        The SDK's schema model drops keywords it does not know, among them the
        ``precision`` and ``scale`` of money columns, without which target-snowflake
        creates NUMBER(38, 0) and loses the cents' fraction (records/shaping.py).
        """
        catalog = super().catalog_dict
        for entry in catalog["streams"]:
            entry["schema"] = self.streams[entry["tap_stream_id"]].schema
        return catalog

    def setup_mapper(self) -> None:
        """The SDK's stream maps, with the money keywords its catalog model drops."""
        super().setup_mapper()
        restore_decimal_keywords(self)

    @property
    def streams(self) -> dict[str, Stream]:
        """The SDK's streams, in the table's order (it sorts them by name).

        ``summaries`` must sync first: its answer names the latest day the API serves
        before the per-day streams start.
        """
        streams = super().streams
        order = {e.name: i for i, e in enumerate(endpoints.ENDPOINTS)}
        ordered = sorted(streams.items(), key=lambda item: order.get(item[0], len(order)))
        if list(streams) != [name for name, _ in ordered]:
            streams.clear()
            streams.update(ordered)
        return streams

    # --- run summary --------------------------------------------------------------

    # ``sync_all`` and ``run_connection_test`` are ``@final`` in singer-sdk 0.54, but they
    # are the only places a tap can act before and after a whole run: both call or replace
    # the SDK's own behaviour visibly (tests/test_sdk_contract.py pins what they rely on).
    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync every selected stream, then log one summary line per stream."""
        self.run.started = time.monotonic()
        self.run.skipped_streams = skip_streams_key_cannot_read(
            self.config.get("api_key"), self.streams, self.logger
        ) + skip_spend_limits_without_key(self.config, self.streams, self.logger)
        try:
            super().sync_all()
            self.run.endpoint_access.raise_if_key_refused()
        finally:
            log_summary(self.logger, self.streams.values(), self.run)

    # --- connection test ----------------------------------------------------------

    def run_connection_test(self) -> bool:  # type: ignore[misc]
        """One cheap authenticated request, no sync (``connection_test.py``); the reason
        of a failure is one line in ``connection_test_error``."""
        ok, self.connection_test_error = connection_test.run(
            self.streams, self.config, self.logger
        )
        return ok

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




def install_secret_filters(config: Any) -> None:
    """Keep the configured secrets out of every log line from now on."""
    install_secret_filter(config.get("api_key"))
    install_secret_filter(config.get(ADMIN_KEY_SETTING))
    install_secret_filter(config.get("email_hash_key"))


if __name__ == "__main__":
    TapClaudeEnterprise.cli()
