"""The organization a record belongs to, for warehouses that hold several organizations.

The engagement endpoints' rows carry no organization id (the key already implies it), so
a warehouse loading two organizations could not tell their rows apart, and an upsert on
``(date, user_id)`` would let one organization overwrite the other. With the setting
``organization_label`` (any stable text: a slug, a customer id, the organization's
UUID), every record of every stream gets an ``organization_label`` column holding it, and
the column leads every primary key. Without the setting, schemas, keys and records are
exactly the API's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from singer_sdk.schema.source import StreamSchema

if TYPE_CHECKING:
    from singer_sdk.streams.core import Stream

ORGANIZATION_COLUMN = "organization_label"
MAX_LABEL_LENGTH = 200
_COLUMN_SCHEMA = {
    "type": ["string"],
    "description": "The organization_label setting of the run that extracted this row.",
}


def organization_label(config: Mapping[str, Any]) -> str | None:
    """The configured label, or None when the tap serves a single organization."""
    label = config.get(ORGANIZATION_COLUMN)
    return label if isinstance(label, str) and label.strip() else None


def label_errors(config: Mapping[str, Any]) -> list[str]:
    """Settings-validation messages for the label (never quoting it)."""
    label = config.get(ORGANIZATION_COLUMN)
    if label is None:
        return []
    if not isinstance(label, str) or not label.strip() or label != label.strip():
        return [f"{ORGANIZATION_COLUMN} must be non-empty text without surrounding spaces"]
    if len(label) > MAX_LABEL_LENGTH:
        return [f"{ORGANIZATION_COLUMN} must be at most {MAX_LABEL_LENGTH} characters"]
    return []


def keyed(primary_keys: Sequence[str], label: str | None) -> tuple[str, ...]:
    """The stream's primary key, led by the organization column when a label is set."""
    keys = tuple(primary_keys)
    if label is None or ORGANIZATION_COLUMN in keys:
        return keys
    return (ORGANIZATION_COLUMN, *keys)


class OrganizationStreamSchema(StreamSchema):
    """The stream's schema file, plus the organization column when a label is set.

    The extended schema is built once per stream name and label and then reused, so the
    record conformance fast path (``conformance.RecordPlan``) keeps its cached plan.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._extended: dict[tuple[str, str], tuple[dict, dict]] = {}

    def get_stream_schema(self, stream: Stream, stream_class: type[Stream]) -> dict:
        """The schema, with ``organization_label`` first when the setting is on."""
        schema = super().get_stream_schema(stream, stream_class)
        label = organization_label(stream.config)
        if label is None:
            return schema
        cache_key = (stream.name, label)
        cached = self._extended.get(cache_key)
        if cached is None or cached[0] is not schema:
            properties = {ORGANIZATION_COLUMN: dict(_COLUMN_SCHEMA), **schema["properties"]}
            cached = (schema, {**schema, "properties": properties})
            self._extended[cache_key] = cached
        return cached[1]
