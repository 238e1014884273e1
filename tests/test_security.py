"""The key stays secret, personal data stays out of logs, and TLS is never weakened.

Most checks run the real ``tap-claude-enterprise`` command in a child process against a
loopback sandbox, and search everything it printed.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3.util.connection

import tap_claude_enterprise
from tap_claude_enterprise.http.errors import InsecureURLError, RedirectError, TLSVerificationError
from tap_claude_enterprise.http.redaction import install_secret_filter
from tap_claude_enterprise.sandbox import Fault, SandboxServer
from tap_claude_enterprise.sandbox.data import OrgConfig
from tap_claude_enterprise.sandbox.server import SandboxSettings
from tap_claude_enterprise.tap import TapClaudeEnterprise
from tests.helpers import FAST_RATE, run_cli, run_tap, small_config

KEY = "sk-ant-api01-TOPSECRET-4f1c9e2d"
# Fatal answers must fail at once; should one ever be retried, fail in seconds, not 10 min.
SHORT_BUDGET = {"max_retry_seconds": 5}
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.fixture
def keyed(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """A sandbox that accepts ``KEY``."""
    return make_sandbox(members=10, api_key=KEY)


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def assert_no_secret(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr


# --- the key in logs ------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["LOGLEVEL", "TAP_CLAUDE_ENTERPRISE_LOGLEVEL"])
def test_key_and_emails_never_logged_at_debug(keyed, tmp_path, variable):
    # Error bodies that echo the key and an address, and a 429: the logging paths of a
    # retry run at DEBUG, where urllib3 and the SDK log the most.
    keyed.add_faults(
        Fault("status", status=503, endpoint="users", message=f"overloaded: {KEY} a@b.example"),
        Fault("status", status=429, endpoint="skills", retry_after="1"),
    )
    path = write_config(tmp_path, small_config(keyed, days_back=1, api_key=KEY))

    result = run_cli(["--config", str(path)], env={variable: "DEBUG"})

    assert result.returncode == 0, result.stderr[-2000:]
    assert " DEBUG " in result.stderr  # the level really was DEBUG
    assert "retrying in" in result.stderr
    assert_no_secret(result, KEY)
    assert EMAIL.findall(result.stderr) == []
    assert "@acme.example" in result.stdout  # records do carry e-mails: the check bites


def test_key_never_logged_when_the_sync_fails(keyed, tmp_path):
    keyed.add_faults(Fault("status", status=400, endpoint="users", message=f"bad {KEY}", times=-1))
    path = write_config(tmp_path, small_config(keyed, days_back=1, api_key=KEY))

    result = run_cli(["--config", str(path)], env={"LOGLEVEL": "DEBUG"})

    assert result.returncode != 0
    assert "/users rejected the request (400)" in result.stderr
    assert "Traceback" in result.stderr  # the exception itself was logged, and redacted
    assert_no_secret(result, KEY)


@pytest.mark.parametrize(
    ("api_key", "secret", "settings"),
    [
        (918273645501928374, "918273645501928374", {}),
        ([KEY], KEY, {}),
        ({"value": "Zq7xTOPSECRET-dict"}, "Zq7xTOPSECRET-dict", {}),
        (KEY, KEY, {"report_bucket_width": "2d", "surprise_setting": KEY}),
        (KEY, KEY, {"max_requests_per_minute": "many"}),
    ],
    ids=["number", "list", "object", "invalid-setting", "mistyped-setting"],
)
@pytest.mark.parametrize("mode", [[], ["--test"]], ids=["sync", "test"])
def test_key_never_printed_when_settings_fail_validation(tmp_path, api_key, secret, settings, mode):
    config = {"api_key": api_key, "api_url": "http://127.0.0.1:9", **settings}
    path = write_config(tmp_path, config)

    result = run_cli(["--config", str(path), *mode], env={"LOGLEVEL": "DEBUG"})

    assert result.returncode == 1
    assert_no_secret(result, secret)
    assert not result.stdout.strip()


def test_secret_filter_covers_numbers_and_tracebacks():
    install_secret_filter(4815162342108)
    stream = io.StringIO()
    logger = logging.getLogger("tests.secret_filter")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)

    def reject() -> None:
        raise ValueError("config value 4815162342108 rejected")

    try:
        reject()
    except ValueError:
        logger.exception("failed with 4815162342108")
    finally:
        logger.removeHandler(handler)

    text = stream.getvalue()
    assert "4815162342108" not in text
    assert text.startswith("failed with [redacted]\n")  # the message
    assert "ValueError: config value [redacted] rejected" in text  # and the traceback


# --- where the key goes ---------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every request the tap hands to ``requests``, with the session's TLS setting."""
    calls: list[dict[str, Any]] = []
    real = requests.Session.send

    def spy(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any):
        calls.append(
            {
                "url": request.url,
                "headers": dict(request.headers),
                "verify": kwargs.get("verify", self.verify),
                "allow_redirects": kwargs.get("allow_redirects", True),
            }
        )
        return real(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", spy)
    return calls


def test_key_goes_only_to_api_url_and_only_in_x_api_key(keyed, sent):
    run = run_tap(small_config(keyed, days_back=1, api_key=KEY))

    assert run.error is None
    assert run.records
    assert len(sent) == len(keyed.requests_for())
    base = keyed.url + "/v1/organizations/analytics/"
    for call in sent:
        assert call["url"].startswith(base)
        assert KEY not in call["url"]
        assert call["headers"]["x-api-key"] == KEY
        others = {k: v for k, v in call["headers"].items() if k.lower() != "x-api-key"}
        assert KEY not in json.dumps(others)
        # True, or the CA bundle the environment names; never off.
        assert call["verify"] is True or Path(call["verify"]).is_file()
        assert call["allow_redirects"] is False
    assert KEY not in json.dumps(run.messages, default=str)
    assert KEY not in run.log


def test_a_redirect_is_refused_so_the_key_never_reaches_another_host(make_sandbox):
    api = make_sandbox(members=10)
    elsewhere = make_sandbox(members=10)
    path = "/v1/organizations/analytics/summaries"
    api.add_faults(Fault("redirect", endpoint="summaries", location=elsewhere.url + path))

    started = time.monotonic()
    run = run_tap(small_config(api, **SHORT_BUDGET), raise_errors=False)

    assert isinstance(run.error, RedirectError)
    assert "never follows a redirect" in str(run.error)
    assert elsewhere.requests_for() == []
    assert len(api.requests_for()) == 1  # fatal at once, not retried
    assert time.monotonic() - started < 5


def test_plain_http_off_loopback_is_refused_before_any_connection(monkeypatch):
    opened: list[object] = []

    def guard(address: object, *args: Any, **kwargs: Any) -> None:
        opened.append(address)  # even a regression must not leave loopback
        raise OSError("this test opens no connection")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", guard)
    config = {"api_key": KEY, "api_url": "http://10.255.255.1:9", **SHORT_BUDGET}

    run = run_tap(config, raise_errors=False)

    assert isinstance(run.error, InsecureURLError)
    assert "https://" in str(run.error)
    assert "10.255.255.1" not in str(run.error)  # no setting's value in a message
    assert opened == []


# --- TLS ------------------------------------------------------------------------------


def test_tls_verification_is_never_switched_off(monkeypatch, tmp_path):
    package = Path(tap_claude_enterprise.__file__).parent
    for source in package.rglob("*.py"):
        assert "verify=False" not in source.read_text(), source
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    tap = TapClaudeEnterprise(config={"api_key": KEY}, validate_config=False)
    assert {s.requests_session.verify for s in tap.streams.values()} == {True}

    bundle = tmp_path / "proxy-ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    tap = TapClaudeEnterprise(config={"api_key": KEY}, validate_config=False)
    assert {s.requests_session.verify for s in tap.streams.values()} == {str(bundle)}


@pytest.fixture
def https_sandbox(tmp_path: Path) -> Iterator[tuple[SandboxServer, str, Path]]:
    """A sandbox behind TLS with a self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    settings = SandboxSettings(org=OrgConfig(members=10), rate_limit_per_minute=FAST_RATE)
    server = SandboxServer(settings)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.start()
    try:
        yield server, server.url.replace("http://", "https://"), cert
    finally:
        server.stop()


def test_an_unverifiable_certificate_fails_at_once(https_sandbox, monkeypatch):
    server, url, _ = https_sandbox
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)

    started = time.monotonic()
    config = {**small_config(server, **SHORT_BUDGET), "api_url": url}
    run = run_tap(config, raise_errors=False)

    assert isinstance(run.error, TLSVerificationError)
    assert "REQUESTS_CA_BUNDLE" in str(run.error)
    assert "retrying" not in run.log
    assert time.monotonic() - started < 5
    assert server.requests_for() == []


def test_a_ca_bundle_from_the_environment_is_trusted(https_sandbox, monkeypatch):
    server, url, cert = https_sandbox
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))

    run = run_tap({**small_config(server), "api_url": url})

    assert run.records["summaries"]
    assert server.requests_for()


# --- the connection test (--test) -----------------------------------------------------


def test_connection_test_passes_with_one_request(keyed, tmp_path):
    path = write_config(tmp_path, small_config(keyed, api_key=KEY))

    result = run_cli(["--config", str(path), "--test"])

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == "Connection test passed."
    assert not [m for m in result.stdout.splitlines() if '"RECORD"' in m]  # not a sync
    [request] = keyed.requests_for()
    assert request["endpoint"] == "summaries"
    assert request["status"] == 200
    assert_no_secret(result, KEY)


@pytest.mark.parametrize(
    ("fault", "explained"),
    [
        (None, "the API refused the key (404)"),
        (Fault("status", status=401, endpoint="summaries"), "the API refused the key (401)"),
    ],
    ids=["wrong-key", "401"],
)
def test_connection_test_fails_with_a_one_line_explanation(keyed, tmp_path, fault, explained):
    key = "sk-ant-api01-someone-elses-key" if fault is None else KEY
    if fault is not None:
        keyed.add_faults(fault)
    path = write_config(tmp_path, small_config(keyed, api_key=key, **SHORT_BUDGET))

    result = run_cli(["--config", str(path), "--test"])

    assert result.returncode == 1
    # The verdict is the last line, and it carries the explanation itself.
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Connection test failed:")
    assert explained in line
    for hint in ("read:analytics", "Analytics API access", "Admin key"):
        assert hint in line
    assert len(keyed.requests_for()) == 1
    assert_no_secret(result, key, KEY)


def test_connection_test_is_advertised():
    result = run_cli(["--about", "--format=json"])

    assert result.returncode == 0
    assert "test" in json.loads(result.stdout)["capabilities"]
