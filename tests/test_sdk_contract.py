"""What the tap relies on in singer-sdk beyond its public API; fails when an upgrade moves it.

The package imports no private ``singer_sdk`` module and overrides ONE private hook:
``Stream._generate_record_messages``. Why that one: the SDK offers no public hook between
a record and its RECORD message, and its per-record pruning and recursive conformance
were two thirds of the tap's CPU. The override skips both only when
``records.conformance.RecordPlan`` proves they would change nothing, and otherwise
calls the SDK's own method. So the override depends on: the hook's name and signature,
what it calls (``effective_schema``, ``mask``, ``stream_maps``, ``stream_alias``,
``transform``, ``_stream_version``), and the SDK's conformance rules that RecordPlan
mirrors (including the two schema predicates copied into conformance.py).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk import Stream
from singer_sdk.helpers import _typing as sdk_typing  # the contract checks the private side

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.http.client import AnalyticsStream
from tap_claude_enterprise.records import conformance
from tap_claude_enterprise.sandbox import SandboxServer
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import tap_config


@pytest.fixture
def tap(make_sandbox: Any) -> TapClaudeEnterprise:
    sandbox: SandboxServer = make_sandbox(members=3)
    return TapClaudeEnterprise(config=tap_config(sandbox), validate_config=False)


def private_names_used(cls: type) -> set[str]:
    """Single-underscore SDK names a class of this package overrides."""
    sdk = {name for klass in Stream.__mro__ for name in vars(klass)}
    return {
        name
        for name in vars(cls)
        if name.startswith("_") and not name.startswith("__") and name in sdk
    } - {"_abc_impl"}  # set by ``abc`` on every abstract class


def test_only_one_private_sdk_hook_is_overridden(tap):
    for stream in tap.streams.values():
        for klass in type(stream).__mro__:
            if klass.__module__.startswith("tap_claude_enterprise"):
                assert private_names_used(klass) <= {"_generate_record_messages"}, klass


def test_the_record_hook_keeps_its_name_and_signature():
    hook = Stream._generate_record_messages
    params = list(inspect.signature(hook).parameters)
    assert params == ["self", "record"]
    assert inspect.isgeneratorfunction(hook)
    # What the fast path calls on the stream and on each stream map.
    for name in ("effective_schema", "mask", "stream_maps"):
        assert hasattr(Stream, name), name
    source = inspect.getsource(Stream._generate_record_messages)
    for name in ("self._stream_version", "stream_map.transform", "stream_map.stream_alias"):
        assert name in source, name


def test_the_copied_schema_predicates_agree_with_the_sdk():
    cases: list[dict[str, Any]] = [
        {"type": "boolean"},
        {"type": ["boolean"]},
        {"type": ["boolean", "null"]},
        {"type": ["null", "boolean"]},
        {"type": ["boolean", "string"]},
        {"type": "object", "properties": {}},
        {"type": ["object", "null"]},
        {"anyOf": [{"type": "object"}, {"type": "null"}]},
        {"anyOf": ["object", "null"]},
        {"type": "string"},
        {},
    ]
    for schema in cases:
        assert conformance.is_exclusive_boolean_type(
            schema
        ) == sdk_typing._is_exclusive_boolean_type(schema), schema
        assert conformance.is_object_type(schema) == sdk_typing.is_object_type(schema), schema


def record_messages(stream: AnalyticsStream, record: dict[str, Any], *, sdk: bool) -> list[dict]:
    """The RECORD messages of one record, by the fast path or by the SDK's own."""
    hook = Stream._generate_record_messages if sdk else type(stream)._generate_record_messages
    messages = [
        m.to_dict() for m in hook(stream, json.loads(json.dumps(record), parse_float=Decimal))
    ]
    for message in messages:
        message.pop("time_extracted")
    return messages


def test_the_fast_path_writes_what_the_sdk_writes(tap):
    stream = tap.streams["user_activity"]
    assert isinstance(stream, AnalyticsStream)
    record = {
        "date": "2026-11-02",
        "user_id": "user_1",
        "user": {"id": "user_1", "email_address": "a@example.com"},
        "chat_metrics": {"message_count": 3},
        "web_search_count": 2,
    }
    assert hasattr(stream, "_stream_version")  # the fast path writes it, as the SDK does
    plan = stream._current_record_plan()
    assert plan is not None  # everything selected
    assert plan.unchanged(record)  # so the fast path writes it
    fast = record_messages(stream, record, sdk=False)
    assert fast == record_messages(stream, record, sdk=True)
    assert fast
    assert fast[0]["record"]["web_search_count"] == 2


def test_a_record_the_sdk_would_change_takes_the_sdks_path(tap):
    stream = tap.streams["user_activity"]
    record = {"date": "2026-11-02", "user_id": "u", "not_in_the_schema": 1}
    assert not stream._current_record_plan().unchanged(record)
    assert record_messages(stream, record, sdk=False) == record_messages(stream, record, sdk=True)


def test_state_holds_the_last_committed_bookmark_not_the_last_record(tap, monkeypatch):
    """The SDK moves the bookmark per record; STATE must say "complete up to here"."""
    stream = tap.streams["user_activity"]
    day = dt.date(2026, 11, 2)

    def records() -> Any:
        yield {"date": day.isoformat(), "user_id": "a"}
        stream.commit_bookmark(day.isoformat())
        yield {"date": (day + dt.timedelta(days=1)).isoformat(), "user_id": "b"}  # half a day

    monkeypatch.setattr(stream, "stream_records", records)
    monkeypatch.setattr(stream, "finalize_state_progress_markers", lambda state=None: None)
    for _ in stream._sync_records(None, write_messages=False):  # the SDK's own loop
        pass

    assert stream.stream_state["replication_key_value"] == day.isoformat()


def test_the_tap_wraps_public_run_hooks_whose_shape_it_relies_on():
    """``sync_all`` and ``run_connection_test`` (``@final`` in the SDK) are wrapped; the
    stream order is set on the ``streams`` mapping the SDK builds."""
    from singer_sdk import Tap

    assert list(inspect.signature(Tap.sync_all).parameters) == ["self"]
    assert list(inspect.signature(Tap.run_connection_test).parameters) == ["self"]
    assert isinstance(inspect.getattr_static(Tap, "streams"), property)
    tap = TapClaudeEnterprise(config={"api_key": "sk-ant-api01-test"}, validate_config=False)
    assert list(tap.streams) == [e.name for e in endpoints.ENDPOINTS]
