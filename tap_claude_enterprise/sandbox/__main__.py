"""``python -m tap_claude_enterprise.sandbox``: the same as ``tap-claude-enterprise-sandbox``."""

import sys

from tap_claude_enterprise.sandbox.cli import main

sys.exit(main())
