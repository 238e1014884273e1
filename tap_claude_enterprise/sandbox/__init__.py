"""A local stand-in for the Claude Enterprise Analytics API.

``SyntheticOrg`` (``data.py``) is a deterministic organization; ``SandboxServer``
(``server.py``) serves it over HTTP with the API's rules, limits and error shapes, and
with switches that inject faults (``faults.py``). Tests, the demo and the benchmark all
use it; ``tap-claude-enterprise-sandbox`` starts one from the command line.
"""

from tap_claude_enterprise.sandbox.data import OrgConfig, SyntheticOrg
from tap_claude_enterprise.sandbox.faults import Fault
from tap_claude_enterprise.sandbox.server import SANDBOX_API_KEY, SandboxServer

__all__ = ["SANDBOX_API_KEY", "Fault", "OrgConfig", "SandboxServer", "SyntheticOrg"]
