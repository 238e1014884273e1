"""The HTTP contract: stream base class, retries, rate limiter, paging, errors, redaction."""
