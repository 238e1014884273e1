"""The thirteen streams, in the order they sync.

``summaries`` goes first: its answer names the latest day the API serves, so the
per-day streams after it never spend a request discovering that.
"""

from tap_claude_enterprise.streams.engagement import (
    ArtifactsStream,
    ChatProjectsStream,
    ConnectorsStream,
    PluginsStream,
    SkillsStream,
    SummariesStream,
    UserActivityStream,
)
from tap_claude_enterprise.streams.reports import (
    CostReportStream,
    UsageReportStream,
    UserCostReportStream,
    UserUsageReportStream,
)
from tap_claude_enterprise.streams.usage_cost import CostStream, UsageStream

STREAM_TYPES = [
    SummariesStream,
    UserActivityStream,
    ChatProjectsStream,
    SkillsStream,
    ConnectorsStream,
    PluginsStream,
    ArtifactsStream,
    UserUsageReportStream,
    UserCostReportStream,
    UsageReportStream,
    CostReportStream,
    UsageStream,
    CostStream,
]

__all__ = ["STREAM_TYPES"]
