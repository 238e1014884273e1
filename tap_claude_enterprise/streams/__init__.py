"""The streams, built from the endpoint table (``endpoints.py``): one class per family.

Each table entry becomes a subclass of its family's class that only names the endpoint,
so a new endpoint of an existing family needs its table entry and its schema file, no
code. The table is read each time the streams are built (not frozen at import), in its
order: ``summaries`` first, so its answer names the latest day the API serves before the
per-day streams start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from singer_sdk.schema.source import SchemaDirectory

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import Endpoint
from tap_claude_enterprise.http.client import SCHEMAS_DIR
from tap_claude_enterprise.records.organization import OrganizationStreamSchema
from tap_claude_enterprise.streams.engagement import DailyStream, SummariesStream
from tap_claude_enterprise.streams.reports import ReportStream
from tap_claude_enterprise.streams.spend_limits import SpendLimitsStream
from tap_claude_enterprise.streams.usage_cost import UsageCostStream
from tap_claude_enterprise.sync.engine import ChainStream

FAMILIES: dict[str, type[ChainStream[Any]]] = {
    "daily": DailyStream,
    "summaries": SummariesStream,
    "report": ReportStream,
    "usage_cost": UsageCostStream,
    "spend_limits": SpendLimitsStream,
}
# Families whose keys follow the grouping settings (a property, not the table's keys).
_GROUPED = (ReportStream, UsageCostStream)


def stream_class(endpoint: Endpoint) -> type[ChainStream[Any]]:
    """The stream class of one table entry."""
    family = FAMILIES[endpoint.family]
    attrs: dict[str, Any] = {
        "__doc__": f"{endpoint.description} (``/{endpoint.path}``)",
        "__module__": family.__module__,
        "name": endpoint.name,
        "endpoint": endpoint.path,
        "api_base": endpoint.base,
        "spec": endpoint,
        "replication_key": endpoint.replication_key,
    }
    if not issubclass(family, _GROUPED):
        attrs["primary_keys"] = endpoint.primary_keys
    if endpoint.schema_path:
        path = Path(endpoint.schema_path)
        attrs["schema"] = OrganizationStreamSchema(SchemaDirectory(path.parent), key=path.stem)
    elif endpoint.schema:
        attrs["schema"] = OrganizationStreamSchema(SCHEMAS_DIR, key=endpoint.schema)
    class_name = "".join(part.title() for part in endpoint.name.split("_")) + "Stream"
    return type(class_name, (family,), attrs)


def stream_types() -> list[type[ChainStream[Any]]]:
    """One stream class per entry of the endpoint table, in sync order."""
    return [stream_class(endpoint) for endpoint in endpoints.ENDPOINTS]


__all__ = ["FAMILIES", "stream_class", "stream_types"]
