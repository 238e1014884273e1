"""The sandbox's route table: built from the endpoint table, so a new daily endpoint is a
table entry plus a rows function, served with paging, cursors, lag and faults."""

from __future__ import annotations

import ast
import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_claude_enterprise import endpoints
from tap_claude_enterprise.endpoints import ANALYTICS_BASE, ENDPOINTS, Endpoint
from tap_claude_enterprise.sandbox import SANDBOX_API_KEY, Fault, SandboxServer
from tap_claude_enterprise.sandbox.data import DAILY_ROWS, SyntheticOrg
from tap_claude_enterprise.sandbox.routes import FAMILY_HANDLERS, PREFIX
from tap_claude_enterprise.sandbox.settings import SANDBOX_ADMIN_KEY, SANDBOX_LIMITS_KEY

WIDGETS = Endpoint(
    name="widgets",
    path="apps/widgets",
    family="daily",
    primary_keys=("date", "widget_id"),
    replication_key="date",
    window="day",
    page_size=1000,
    description="A made-up daily endpoint.",
)
WIDGET_COUNT = 25


def widget_rows(org: SyntheticOrg, day: dt.date, latest: dt.date, shape: str) -> list[dict]:
    """Rows that depend on the day and the data revision, so pages can be checked."""
    del latest, shape
    return [
        {"widget_id": f"w{i:02d}", "uses": day.day * 100 + i + org.revision}
        for i in range(WIDGET_COUNT)
    ]


def get(
    sandbox: SandboxServer,
    path: str,
    key: str | None = SANDBOX_API_KEY,
    prefix: str = PREFIX,
    **params: Any,
) -> tuple[int, dict]:
    """GET an API path (under ``prefix``); (status, JSON body) whatever the status."""
    query = urllib.parse.urlencode(params, doseq=True)
    request = urllib.request.Request(f"{sandbox.url}{prefix}{path}?{query}")
    if key is not None:
        request.add_header("x-api-key", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def widgets_sandbox(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., SandboxServer]
) -> SandboxServer:
    """A sandbox built after the made-up endpoint joined the table and the rows registry."""
    monkeypatch.setattr(endpoints, "ENDPOINTS", (*ENDPOINTS, WIDGETS))
    monkeypatch.setitem(DAILY_ROWS, WIDGETS.name, widget_rows)
    return make_sandbox()


def test_a_made_up_daily_endpoint_is_served_in_pages(widgets_sandbox: SandboxServer) -> None:
    sandbox = widgets_sandbox
    day = sandbox.latest_day().isoformat()
    rows: list[dict] = []
    params: dict[str, Any] = {"date": day, "limit": 10}
    pages = 0
    while True:
        status, body = get(sandbox, WIDGETS.path, **params)
        assert status == 200, body
        assert len(body["data"]) <= 10
        rows += body["data"]
        pages += 1
        if body["next_page"] is None:
            break
        params = {"date": day, "limit": 10, "page": body["next_page"]}
    assert pages == 3
    assert rows == widget_rows(sandbox.org, sandbox.latest_day(), sandbox.latest_day(), "")
    # Without a limit the API's default page (100) holds all of them.
    status, body = get(sandbox, WIDGETS.path, date=day)
    assert (status, len(body["data"]), body["next_page"]) == (200, WIDGET_COUNT, None)
    logged = sandbox.requests_for(WIDGETS.path)
    assert [e["status"] for e in logged] == [200] * 4


def test_a_made_up_endpoint_has_cursor_lag_and_key_rules(widgets_sandbox: SandboxServer) -> None:
    sandbox = widgets_sandbox
    latest = sandbox.latest_day()
    _, first_page = get(sandbox, WIDGETS.path, date=latest.isoformat(), limit=10)
    cursor = first_page["next_page"]
    # A cursor belongs to its query: another day's request refuses it.
    earlier = (latest - dt.timedelta(days=1)).isoformat()
    status, body = get(sandbox, WIDGETS.path, date=earlier, limit=10, page=cursor)
    assert status == 400
    assert "does not match" in body["error"]["message"]
    # Availability lag: the day after the latest available one is not served yet.
    tomorrow = (latest + dt.timedelta(days=1)).isoformat()
    status, body = get(sandbox, WIDGETS.path, date=tomorrow)
    assert status == 400
    assert "not yet available" in body["error"]["message"]
    status, body = get(sandbox, WIDGETS.path, date=latest.isoformat(), limit=1001)
    assert status == 400
    # The daily family's key rules: a wrong key is a 404, an Admin key a 403.
    assert get(sandbox, WIDGETS.path, key="sk-ant-api01-wrong", date=earlier)[0] == 404
    status, body = get(sandbox, WIDGETS.path, key=SANDBOX_ADMIN_KEY, date=earlier)
    assert (status, body["error"]["type"]) == (403, "permission_error")


def test_faults_hit_a_made_up_endpoint(widgets_sandbox: SandboxServer) -> None:
    sandbox = widgets_sandbox
    day = sandbox.latest_day().isoformat()
    sandbox.add_faults(Fault(kind="status", endpoint=WIDGETS.path, status=503))
    status, body = get(sandbox, WIDGETS.path, date=day)
    assert (status, body["error"]["type"]) == (503, "overloaded_error")
    assert get(sandbox, WIDGETS.path, date=day)[0] == 200
    sandbox.add_faults(Fault(kind="lag", endpoint=WIDGETS.path, days=3))
    status, body = get(sandbox, WIDGETS.path, date=day)
    assert status == 400
    assert "not yet available" in body["error"]["message"]


def test_unknown_paths_are_404(sandbox: SandboxServer) -> None:
    # Without the table entry the made-up path is no endpoint at all.
    status, body = get(sandbox, WIDGETS.path, date=sandbox.latest_day().isoformat())
    assert (status, body["error"]["type"]) == (404, "not_found_error")
    assert WIDGETS.path not in sandbox.routes
    assert get(sandbox, "no/such/thing")[0] == 404


def test_every_endpoint_of_the_table_is_routed(sandbox: SandboxServer) -> None:
    assert set(sandbox.routes) == {e.path for e in ENDPOINTS}
    for endpoint in ENDPOINTS:
        route = sandbox.routes[endpoint.path]
        assert route.endpoint is endpoint
        assert route.handler is FAMILY_HANDLERS[endpoint.family]
        if endpoint.base != ANALYTICS_BASE:
            # The Spend Limits endpoints need no parameter: served under their own base
            # only, to the Admin key with read:spend_limits.
            status, body = get(sandbox, endpoint.path, SANDBOX_LIMITS_KEY, endpoint.base + "/")
            assert status == 200, (endpoint.name, body)
            assert isinstance(body["data"], list)
            assert get(sandbox, endpoint.path, SANDBOX_LIMITS_KEY)[0] == 404
            continue
        # Reaching the handler: a request without its required parameters is a 400 of that
        # endpoint's own validation, never "no such endpoint".
        status, body = get(sandbox, endpoint.path)
        assert status == 400, (endpoint.name, body)
        assert body["error"]["type"] == "invalid_request_error"


SANDBOX_DIR = Path(__file__).resolve().parents[1] / "tap_claude_enterprise" / "sandbox"
PACKAGE = "tap_claude_enterprise.sandbox"


def sandbox_imports() -> dict[str, set[tuple[str, str]]]:
    """Every sandbox module -> (module, name) it imports from the sandbox, anywhere in it."""
    graph: dict[str, set[tuple[str, str]]] = {}
    for path in SANDBOX_DIR.glob("*.py"):
        imports: set[tuple[str, str]] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # function-local ones too
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                for alias in node.names:
                    module = node.module or ""
                    if module == PACKAGE:  # ``from ...sandbox import routes``
                        module = f"{PACKAGE}.{alias.name}"
                    imports.add((module.rsplit(".", 1)[-1], alias.name))
        graph[path.stem] = imports
    return graph


def test_no_sandbox_module_imports_private_names_or_cycles() -> None:
    graph = sandbox_imports()
    private = [(m, name) for m, names in graph.items() for _, name in names if name[0] == "_"]
    assert private == []
    edges = {m: {target for target, _ in names if target in graph} for m, names in graph.items()}
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in visiting, f"import cycle: {' -> '.join((*trail, module))}"
        if module in done:
            return
        visiting.add(module)
        for target in edges[module]:
            visit(target, (*trail, module))
        visiting.discard(module)
        done.add(module)

    for module in edges:
        visit(module, ())
