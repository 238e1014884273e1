"""singer-sdk standard tap tests, run against a sandbox on loopback."""

from __future__ import annotations

import atexit
import datetime as dt

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_claude_enterprise.sandbox import SANDBOX_API_KEY, SandboxServer
from tap_claude_enterprise.sandbox.data import OrgConfig
from tap_claude_enterprise.sandbox.server import SandboxSettings
from tap_claude_enterprise.sandbox.settings import SANDBOX_LIMITS_KEY
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import FAST_RATE

# The standard test class is built at import time, so its sandbox is too.
_SANDBOX = SandboxServer(
    SandboxSettings(rate_limit_per_minute=FAST_RATE, org=OrgConfig(members=12))
).start()
atexit.register(_SANDBOX.stop)

SAMPLE_CONFIG = {
    "api_key": SANDBOX_API_KEY,
    # The spend-limit streams need an Admin key with read:spend_limits (issue 17).
    "admin_api_key": SANDBOX_LIMITS_KEY,
    "api_url": _SANDBOX.url,
    "start_date": (_SANDBOX.latest_day() - dt.timedelta(days=6)).isoformat(),
    "max_requests_per_minute": FAST_RATE,
}

TestTapClaudeEnterprise = get_tap_test_class(
    tap_class=TapClaudeEnterprise,
    config=SAMPLE_CONFIG,
    suite_config=SuiteConfig(max_records_limit=40),
)
