"""tap-claude-enterprise: a Singer tap for the Claude Enterprise Analytics API."""
