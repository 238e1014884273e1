"""A throw-away PostgreSQL server for end-to-end tests: ``initdb`` + ``pg_ctl`` on loopback.

PostgreSQL refuses to run as root ("root execution of the PostgreSQL server is not
permitted"), and CI runs as root. There the cluster is created and started as an
unprivileged account instead: ``postgres`` when the distribution's package created
it, else ``nobody``. ``subprocess`` switches user itself (``user=``/``group=``), so
neither ``su``, ``runuser`` nor ``sudo`` is needed, and the data directory lives in a
fresh ``/tmp`` folder that account owns (pytest's own tmp dirs are root-only, 0700).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

UNPRIVILEGED_ACCOUNTS = ("postgres", "nobody")
SUPERUSER = "postgres"
DATABASE = "warehouse"
START_TIMEOUT_SECONDS = 60


def pg_binary(name: str) -> str:
    """Path of a PostgreSQL server program (``initdb``, ``pg_ctl``, ``psql``)."""
    found = shutil.which(name)
    if found:
        return found
    # Debian/Ubuntu keep the server programs off PATH; prefer the newest version.
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    msg = f"{name} not found: install the PostgreSQL server programs (PostgreSQL 15)"
    raise FileNotFoundError(msg)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The account to run the server as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_ACCOUNTS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    msg = "running as root and found no unprivileged account to run PostgreSQL as"
    raise RuntimeError(msg)


@dataclass
class PostgresServer:
    """A running cluster: connection details and a way to stop it."""

    root: Path
    port: int
    password: str
    account: pwd.struct_passwd | None
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    database: str = DATABASE

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server log (read it when a test fails)."""
        return self.root / "server.log"

    def target_env(self) -> dict[str, str]:
        """Connection settings for meltanolabs target-postgres, as Meltano env vars."""
        return {
            "TARGET_POSTGRES_HOST": self.host,
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_PASSWORD": self.password,
            "TARGET_POSTGRES_DATABASE": self.database,
        }

    def target_config(self, schema: str) -> dict[str, Any]:
        """A config file body for target-postgres run without Meltano."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "default_target_schema": schema,
            "load_method": "upsert",
        }

    def connect(self, database: str | None = None) -> psycopg.Connection:
        """An autocommit connection over TCP with the password (as the target connects)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.database,
            autocommit=True,
        )

    def psql(self, command: str) -> str:
        """Run one psql meta-command or query (e.g. ``\\d schema.table``), return its output."""
        env = {**os.environ, "PGPASSWORD": self.password}
        result = subprocess.run(
            [
                pg_binary("psql"),
                "--no-psqlrc",
                f"--host={self.host}",
                f"--port={self.port}",
                f"--username={self.user}",
                f"--dbname={self.database}",
                f"--command={command}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return result.stdout

    def stop(self) -> None:
        """Stop the server at once (nothing in it is worth a clean shutdown) and delete it."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run(
                [
                    pg_binary("pg_ctl"),
                    f"--pgdata={self.data_dir}",
                    "--mode=immediate",
                    "--wait",
                    "stop",
                ],
                self.account,
                home=self.root,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _run(
    args: list[str], account: pwd.struct_passwd | None, *, home: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a server program, as ``account`` when given (we are root then)."""
    kwargs: dict[str, Any] = {}
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    if account is not None:
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        # root's HOME and cwd are not readable by the account.
        env.update(HOME=str(home), USER=account.pw_name, LOGNAME=account.pw_name)
    return subprocess.run(
        args,
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
        **kwargs,
    )


def start_postgres() -> PostgresServer:
    """Create a cluster in a new temporary directory and start it on a free loopback port."""
    account = _run_as()
    root = Path(tempfile.mkdtemp(prefix="tce-postgres-"))
    password = secrets.token_urlsafe(18)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    pwfile.chmod(0o600)
    server = PostgresServer(root=root, port=0, password=password, account=account)
    try:
        _run(
            [
                pg_binary("initdb"),
                f"--pgdata={server.data_dir}",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                # Password over TCP, as in production; the socket is only for pg_ctl.
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            account,
            home=root,
            timeout=120,
        )
        pwfile.unlink()
        _start(server)
        with psycopg.connect(
            host=server.host,
            port=server.port,
            user=SUPERUSER,
            password=password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    except BaseException:
        server.stop()
        raise
    return server


def _start(server: PostgresServer) -> None:
    """``pg_ctl start`` on a free port; retry if another process took the port first."""
    last_error: subprocess.CalledProcessError | None = None
    for _ in range(5):
        server.port = free_port()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={server.port}",
                f"-c unix_socket_directories={server.root}",
                # A test database: durability buys nothing and costs seconds.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=40",
            ]
        )
        try:
            _run(
                [
                    pg_binary("pg_ctl"),
                    f"--pgdata={server.data_dir}",
                    f"--log={server.log_file}",
                    f"--options={options}",
                    "--wait",
                    f"--timeout={START_TIMEOUT_SECONDS}",
                    "start",
                ],
                server.account,
                home=server.root,
                timeout=START_TIMEOUT_SECONDS + 30,
            )
        except subprocess.CalledProcessError as exc:
            last_error = exc
            time.sleep(0.5)
            continue
        return
    log = server.log_file.read_text() if server.log_file.exists() else ""
    msg = f"PostgreSQL did not start: {last_error and last_error.stderr}\n{log[-2000:]}"
    raise RuntimeError(msg)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A running server for the duration of the block."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
