"""The fast path emits exactly what the SDK's own record conformance would."""

from __future__ import annotations

import copy
import datetime as dt
import logging
from decimal import Decimal

from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_claude_enterprise.records.conformance import RecordPlan
from tap_claude_enterprise.sandbox import Fault
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import run_tap, tap_config


def sdk_conformed(schema: dict, record: dict) -> dict:
    return conform_record_data_types(
        stream_name="s",
        record=copy.deepcopy(record),
        schema=schema,
        level=TypeConformanceLevel.RECURSIVE,
        logger=logging.getLogger("test"),
    )


def test_plan_says_unchanged_only_when_the_sdk_would_change_nothing(sandbox):
    # Two days: one day of the (realistic) sandbox organization can hold fewer than 100 rows.
    start = sandbox.latest_day() - dt.timedelta(days=1)
    config = tap_config(sandbox, start_date=start.isoformat())
    tap = TapClaudeEnterprise(config=config)
    records = run_tap(config).records
    checked = 0
    for name, stream in tap.streams.items():
        plan = RecordPlan(stream.schema)
        for record in records[name]:
            assert plan.unchanged(record), name
            assert sdk_conformed(stream.schema, record) == record
            checked += 1
    assert checked > 100


def test_plan_sends_odd_records_down_the_sdk_path(sandbox):
    schema = TapClaudeEnterprise(config=tap_config(sandbox)).streams["artifacts"].schema
    plan = RecordPlan(schema)
    good = {"date": "2026-11-01", "artifact_type": "text/html", "is_shared": True}
    assert plan.unchanged(good)
    for odd in (
        {**good, "brand_new_field": 1},  # unknown: the SDK drops it
        {**good, "is_shared": 1},  # 0/1 boolean: the SDK rewrites it
        {**good, "distinct_user_count": Decimal("NaN")},  # NaN: the SDK writes null
        {**good, "distinct_user_count": [1]},  # unexpected type
    ):
        assert not plan.unchanged(odd)  # so the SDK's own conformance runs


def test_unknown_fields_move_to_extra_fields_end_to_end(sandbox):
    sandbox.add_faults(Fault("unknown_fields", endpoint="skills", times=-1))
    run = run_tap(tap_config(sandbox, start_date=sandbox.latest_day().isoformat()))
    assert run.records["skills"]
    for record in run.records["skills"]:
        assert "sandbox_new_metric_count" not in record
        assert "sandbox_new_block" not in record
        assert record["_extra_fields"]["sandbox_new_block"] == {"nested_new_field": "x"}
