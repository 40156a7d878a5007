"""A private PostgreSQL server for tests and benchmarks: started in a temp dir, removed after.

Binaries come from the machine (`pg_ctl` on PATH, or Debian's /usr/lib/postgresql) or else
from the `pgserver` wheel in the dev dependencies, so a fresh machine needs nothing installed
by hand. `initdb` and `postgres` refuse to run as root: as root, they run as the `postgres`
user (created if missing) via `runuser`. The server listens on a unix socket in its
directory and on 127.0.0.1 at a free port; TCP logins need the password (scram), so tests
can check a wrong one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "postgres"
PASSWORD = "jobs-test-secret"
TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
"""For tests: nothing here needs to survive a power cut."""
COMMON_SETTINGS = {"max_connections": "400", "shared_buffers": "128MB"}


class NoPostgresError(RuntimeError):
    """Neither the machine nor the dev dependencies provide PostgreSQL."""


def find_binaries() -> Path:
    """The directory holding `initdb`, `pg_ctl` and `postgres`."""
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(os.path.realpath(pg_ctl)).parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if debian:
        return Path(debian[-1]).parent
    try:
        import pgserver  # type: ignore[import-untyped]
    except ImportError:
        raise NoPostgresError(
            "no PostgreSQL found: install it (pg_ctl on PATH) or run `uv sync` for pgserver"
        ) from None
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


@dataclass
class PgServer:
    """A running private server; `stop()` ends it and deletes its files."""

    directory: Path
    binaries: Path
    port: int
    run_as: str | None
    stopped: bool = field(default=False)

    def url(self, database: str = "postgres", *, schema: str | None = None, **params: str) -> str:
        """A TCP URL with the password (tests see it masked wherever it is printed)."""
        query = dict(params, **({"schema": schema} if schema else {}))
        tail = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}{tail}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` through the unix socket as the superuser; its output."""
        result = subprocess.run(
            [str(self.binaries / "psql"), "-h", str(self.directory), "-p", str(self.port),
             "-U", USER, "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return result.stdout

    def pg_ctl(self, *args: str) -> None:
        _run(self.run_as, [str(self.binaries / "pg_ctl"), "-D", str(self.data), *args])

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def restart(self) -> None:
        """Stop (fast: every session is cut) and start again on the same port."""
        self.pg_ctl("-m", "fast", "-w", "stop")
        self.pg_ctl("-w", "-l", str(self.directory / "log"), "start")

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            self.pg_ctl("-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_server(*, durable: bool = False) -> PgServer:
    """Create and start a server (tests: fsync off; `durable=True` keeps the defaults)."""
    binaries = find_binaries()
    run_as = _unprivileged_user()
    directory = Path(tempfile.mkdtemp(prefix="jobs-pg-"))
    if run_as is not None:
        shutil.chown(directory, run_as)
    pwfile = directory / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if run_as is not None:
        shutil.chown(pwfile, run_as)
    _run(run_as, [
        str(binaries / "initdb"), "-D", str(directory / "data"), "-U", USER,
        f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
        "-E", "UTF8", "--locale=C", "--no-sync",
    ])  # fmt: skip
    settings = dict(COMMON_SETTINGS, **({} if durable else TEST_SETTINGS))
    for attempt in range(5):
        port = _free_port()
        conf = dict(settings, port=str(port), listen_addresses="'127.0.0.1'",
                    unix_socket_directories=f"'{directory}'")  # fmt: skip
        with open(directory / "data" / "postgresql.auto.conf", "a") as auto:
            auto.writelines(f"{k} = {v}\n" for k, v in conf.items())
        server = PgServer(directory=directory, binaries=binaries, port=port, run_as=run_as)
        try:
            server.pg_ctl("-w", "-t", "30", "-l", str(directory / "log"), "start")
            return server
        except subprocess.CalledProcessError:
            if attempt == 4:
                shutil.rmtree(directory, ignore_errors=True)
                raise
    raise AssertionError("unreachable")


def _unprivileged_user() -> str | None:
    """Who runs the server: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in (USER, "jobs-postgres"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
         "jobs-postgres"],
        check=True, capture_output=True,
    )  # fmt: skip
    return "jobs-postgres"


def _run(run_as: str | None, command: list[str]) -> None:
    full = ["runuser", "-u", run_as, "--", *command] if run_as else command
    subprocess.run(full, check=True, capture_output=True, timeout=120, cwd="/")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
