"""The connection test (``--test``, ``meltano config test``): one cheap request, no sync.

An Analytics key asks ``/summaries`` for one week-old day: its rows hold no personal data,
and every API version serves that day, so the only way the test fails is the key or the
network. An Admin key asks ``/usage`` for one day instead (it reads only the Usage & Cost
endpoints). With ``admin_api_key`` set, one more request says whether that key reads the
spend limits; the test passes either way, since a sync then skips those streams in one line.
Each probe has a short retry budget of its own and does not retry a host that cannot be
resolved or reached, so the verdict comes within seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import requests
from singer_sdk import Stream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import number_word
from tap_claude_enterprise.http import transport
from tap_claude_enterprise.http.client import USER_AGENT, AnalyticsStream
from tap_claude_enterprise.http.errors import BadRequestError, DateNotAvailableError
from tap_claude_enterprise.http.redaction import redact
from tap_claude_enterprise.streams.spend_limits import SpendLimitsStream
from tap_claude_enterprise.sync.key_access import (
    ADMIN_KEY_SETTING,
    SPEND_LIMITS_SCOPE,
    admin_only,
    admin_readable,
    analytics_and_admin,
    is_admin_key,
)
from tap_claude_enterprise.sync.windows import API_FLOOR, format_timestamp, utc_now

DAYS_BACK = 7


def run(
    streams: Mapping[str, Stream], config: Mapping[str, Any], logger: logging.Logger
) -> tuple[bool, str]:
    """(passed, the reason in one line when it did not)."""
    if is_admin_key(config.get("api_key")):
        error = _admin_key_test(streams, logger)
    else:
        error = _analytics_key_test(streams, logger)
    if error:
        return False, error
    if config.get(ADMIN_KEY_SETTING):
        _spend_limits_verdict(streams, logger)
    return True, ""


def _analytics_key_test(streams: Mapping[str, Stream], logger: logging.Logger) -> str:
    stream = streams["summaries"]
    assert isinstance(stream, AnalyticsStream)
    day = max(utc_now().date() - dt.timedelta(days=DAYS_BACK), API_FLOOR)
    context = {
        "starting_date": day.isoformat(),
        "ending_date": (day + dt.timedelta(days=1)).isoformat(),
    }
    error = probe(stream, context)
    if error:
        return error
    logger.info(
        "Connection test passed: the key can read Claude Enterprise analytics (%s): "
        "all %s Enterprise streams, and %s if the organization is on "
        "the Usage and Cost Analytics API beta (otherwise a sync skips those %s).",
        USER_AGENT,
        number_word(len(endpoints.ENDPOINTS) - len(admin_readable())),
        " and ".join(analytics_and_admin()),
        number_word(len(analytics_and_admin())),
    )
    return ""


def _admin_key_test(streams: Mapping[str, Stream], logger: logging.Logger) -> str:
    """An Admin key reads only usage and cost: probe /usage with one request."""
    stream = streams[analytics_and_admin()[0]]
    assert isinstance(stream, AnalyticsStream)
    end = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    end -= dt.timedelta(days=DAYS_BACK)
    context = {
        "starting_at": format_timestamp(end - dt.timedelta(days=1)),
        "ending_at": format_timestamp(end),
    }
    error = probe(stream, context)
    if error:
        return error
    others = ", ".join(name for name in streams if name not in admin_readable())
    logger.info(
        "Connection test passed: the Admin key can read the usage and cost streams; "
        "it cannot read %s (they need an Analytics key), which a sync skips.",
        others,
    )
    return ""


def _spend_limits_verdict(streams: Mapping[str, Stream], logger: logging.Logger) -> None:
    """One request with ``admin_api_key``: does it read the spend limits?"""
    family = admin_only()
    stream = streams[family[0]]
    assert isinstance(stream, SpendLimitsStream)
    stream.limits.page_size = 1  # one member's row: the answer, not the data, matters
    reason = probe(stream, {})
    if reason is None:
        logger.info(
            "Connection test: admin_api_key can read the spend limits (%s): %s.",
            SPEND_LIMITS_SCOPE,
            ", ".join(family),
        )
    else:
        logger.warning(
            "Connection test: admin_api_key cannot read the spend limits (it needs an "
            "Admin API key with %s), so a sync skips %s: %s",
            SPEND_LIMITS_SCOPE,
            ", ".join(family),
            reason,
        )


def probe(stream: AnalyticsStream, context: dict[str, str]) -> str | None:
    """One quick request to ``stream``; None if the key works, else the reason (one line).

    A 400 comes after authentication: the key works even if the day was refused.
    """
    stream.quick_check = True
    try:
        next(iter(stream.fetch_pages(context)), None)
    except (DateNotAvailableError, BadRequestError) as exc:
        stream.logger.info("The API accepted the key but refused the test day: %s", exc)
    except (FatalAPIError, RetriableAPIError) as exc:
        return redact(str(exc), limit=2000)
    except requests.RequestException as exc:
        cause = transport.network_cause(exc)
        return cause or redact(f"{type(exc).__name__}: {exc}", limit=2000)
    except Exception as exc:  # the verdict names anything unexpected
        return redact(f"{type(exc).__name__}: {exc}", limit=2000)
    finally:
        stream.quick_check = False
    return None
