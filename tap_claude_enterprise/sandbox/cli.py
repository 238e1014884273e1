"""``tap-claude-enterprise-sandbox``: run the sandbox Analytics API from a shell."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from tap_claude_enterprise.sandbox.data import OrgConfig
from tap_claude_enterprise.sandbox.server import SandboxServer
from tap_claude_enterprise.sandbox.settings import (
    SANDBOX_ADMIN_KEY,
    SANDBOX_API_KEY,
    SandboxSettings,
    UsageCostSettings,
)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="tap-claude-enterprise-sandbox",
        description=(
            "Serve a synthetic Claude Enterprise organization on loopback, with the "
            "Analytics API's endpoints, rules, limits and errors. Point the tap at it "
            f"with api_url=http://127.0.0.1:PORT and api_key={SANDBOX_API_KEY}."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--members", type=int, default=40, help="members of the organization")
    parser.add_argument("--projects", type=int, default=8, help="chat projects")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
    parser.add_argument("--lag-days", type=int, default=1, help="engagement availability lag")
    parser.add_argument(
        "--rate-limit", type=int, default=60, help="requests per rolling minute before 429"
    )
    parser.add_argument(
        "--summaries-max-days",
        type=int,
        default=366,
        help="widest /summaries range (31: older API)",
    )
    parser.add_argument(
        "--shape", choices=("latest", "baseline"), default="latest", help="response shapes"
    )
    _add_behaviour_options(parser)
    return parser


def _add_behaviour_options(parser: argparse.ArgumentParser) -> None:
    """Latency, other consumers, headers, replay, keys and the beta."""
    parser.add_argument("--latency", type=float, default=0.0, help="added seconds per request")
    parser.add_argument(
        "--latency-per-100-rows", type=float, default=0.0, help="added seconds per 100 rows"
    )
    parser.add_argument(
        "--other-consumer",
        type=int,
        default=0,
        metavar="N",
        help="another tool holds N requests of each rolling minute (default 0)",
    )
    parser.add_argument(
        "--no-retry-after",
        action="store_true",
        help="answer 429 without a retry-after header (seen in real captures)",
    )
    parser.add_argument(
        "--no-request-ids", action="store_true", help="no request-id header or body request_id"
    )
    parser.add_argument(
        "--no-should-retry", action="store_true", help="no x-should-retry header on errors"
    )
    parser.add_argument(
        "--replay",
        metavar="DIR",
        help="serve the answers the tap captured in DIR (its capture_dir setting)",
    )
    parser.add_argument("--api-key", default=SANDBOX_API_KEY, help="the key the sandbox accepts")
    parser.add_argument(
        "--admin-key",
        default=SANDBOX_ADMIN_KEY,
        help="the Admin key /usage and /cost accept (the other endpoints refuse it with 403)",
    )
    parser.add_argument(
        "--usage-cost",
        choices=("on", "404", "403"),
        default="on",
        help="/usage and /cost: served, or refused as for an organization not on the beta",
    )
    parser.add_argument(
        "--precision-job",
        action="store_true",
        help="add a mid-month ~$123M job whose amounts a float cannot hold (precision tests)",
    )


def main(argv: list[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted."""
    args = build_parser().parse_args(argv)
    settings = SandboxSettings(
        api_key=args.api_key,
        lag_days=args.lag_days,
        rate_limit_per_minute=args.rate_limit,
        summaries_max_days=args.summaries_max_days,
        shape=args.shape,
        latency_seconds=args.latency,
        latency_per_100_rows=args.latency_per_100_rows,
        other_consumer_per_minute=args.other_consumer,
        retry_after_on_429=not args.no_retry_after,
        request_ids=not args.no_request_ids,
        should_retry_header=not args.no_should_retry,
        replay_dir=args.replay,
        org=OrgConfig(
            seed=args.seed,
            members=args.members,
            projects=args.projects,
            precision_job=args.precision_job,
        ),
        usage_cost=UsageCostSettings(
            enabled=args.usage_cost == "on",
            unavailable_status=404 if args.usage_cost == "on" else int(args.usage_cost),
            admin_key=args.admin_key,
        ),
    )
    try:
        server = SandboxServer(settings, host=args.host, port=args.port)
    except (OSError, ValueError, KeyError) as exc:
        print(f"tap-claude-enterprise-sandbox: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    # One JSON line on stdout so scripts can read the URL (the port may be 0 = any).
    print(json.dumps({"url": server.url, **server.info()}), flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
