"""The sync loop's parts: date windows, endpoint availability, ordered prefetch, key access."""
