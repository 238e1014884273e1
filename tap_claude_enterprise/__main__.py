"""Run the tap with ``python -m tap_claude_enterprise``."""

from tap_claude_enterprise.tap import TapClaudeEnterprise

TapClaudeEnterprise.cli()
