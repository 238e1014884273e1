"""The fast record path: a record goes out as it is when the SDK would not change it.

The package's one private SDK hook, ``Stream._generate_record_messages`` (with
``_stream_version``, which the SDK's own version of it reads): the SDK has no public hook
between a record and its message. tests/test_sdk_contract.py fails if an upgrade
changes either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any

from singer_sdk import Stream
from singer_sdk import singerlib as singer

from tap_claude_enterprise.records.conformance import RecordPlan


class FastRecordPath(Stream):
    """Writes RECORD messages without the SDK's per-record walks when they change nothing."""

    # The plan, and the (schema, mask) it was made for; rebuilt when either changes.
    _record_plan: RecordPlan | None = None
    _record_plan_for: tuple[object, object] | None = None

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[singer.RecordMessage, None, None]:
        """The SDK's RECORD messages, without its per-record walks when they change nothing.

        Pruning deselected properties and recursive type conformance were two thirds of
        the tap's CPU per record. When every property is selected and ``RecordPlan``
        finds nothing to conform, the record goes out as it is, which is exactly what
        the SDK would write; otherwise the SDK's own path runs.

        The package's one private SDK hook (with ``_stream_version``, which the SDK's
        own version of this method reads): the SDK has no public hook between a record
        and its message. tests/test_sdk_contract.py fails if an upgrade changes either.
        """
        plan = self._current_record_plan()
        if plan is None or not plan.unchanged(record):
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=dt.datetime.now(tz=dt.timezone.utc),
                )

    def _current_record_plan(self) -> RecordPlan | None:
        """The plan for the schema in use; None while some property is deselected."""
        schema, mask = self.effective_schema, self.mask
        cached = self._record_plan_for
        if cached is None or cached[0] is not schema or cached[1] is not mask:
            self._record_plan_for = (schema, mask)
            self._record_plan = RecordPlan(schema) if all(mask.values()) else None
        return self._record_plan
