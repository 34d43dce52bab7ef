"""A real PostgreSQL server for the tests that need one (``minigrad search`` on a shared study).

The server is Debian's (``apt-get install postgresql``; ``.ci/run`` installs it): ``initdb``
makes a fresh cluster in a temporary folder, ``pg_ctl`` starts it listening on 127.0.0.1 only,
on a free port, with no Unix socket, and lets in any user from 127.0.0.1 without a password
(``trust`` in ``pg_hba.conf``: nothing else can reach it). It is stopped, and the folder
removed, when the test session ends, also after a failure.

PostgreSQL refuses to run as root. Under root (CI, containers) every server program runs as
the ``postgres`` user that the package creates (``runuser -u postgres --``), in a folder that
user owns; as any other user the programs run directly.

Use it by importing the fixtures into a test module (they are not in conftest.py, so that
only the modules that need a server pay for one); pytest knows them as ``postgres_server``
and ``postgres_url``, and their functions have other names so that a test's argument does
not shadow an import (pytest's advice for its ``name=`` argument)::

    from postgres_server import fixture_postgres_server, fixture_postgres_url  # noqa: F401

``postgres_url`` gives each test its own fresh database, as the URL a user writes
(libpq's form, which ``psql`` takes too): ``postgresql://postgres@127.0.0.1:PORT/NAME``.
SQLAlchemy, under Optuna, reads ``postgresql://`` as "with the psycopg2 driver"; the project
installs psycopg 3, which SQLAlchemy names ``postgresql+psycopg://`` (``sqlalchemy_url``).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = "apt-get install postgresql"
SUPERUSER = "postgres"
START_TIMEOUT_S = 30  # a cold start on a busy 2-core CI machine takes a few seconds
PORT_TRIES = 3  # a free port can be taken by another process between our check and the bind


def find_server_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``createdb``, or None when absent.

    Debian keeps the server programs in ``/usr/lib/postgresql/<version>/bin`` and puts only
    the client programs on PATH, so that folder is searched (newest version first) when
    ``initdb`` is not on PATH."""
    on_path = shutil.which("initdb")
    candidates = [str(Path(on_path).resolve().parent)] if on_path else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")  # .../15/bin, .../9.6/bin: newest first
    candidates += sorted(versions, key=lambda folder: [int(n) for n in re.findall(r"\d+", Path(folder).parent.name)],
                         reverse=True)
    for folder in map(Path, candidates):
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "createdb")):
            return folder
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server: where it listens and how to run its programs."""

    bin_dir: Path
    folder: Path  # holds data/ (the cluster) and server.log; owned by the user the server runs as
    port: int = 0
    host: str = "127.0.0.1"
    user: str = SUPERUSER

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str) -> str:
        """The URL of ``database``, as a user writes it (libpq's form)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def run(self, program: str, *arguments: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run one of the server's programs, as the ``postgres`` user when we are root.

        The working folder is the server's own: the ``postgres`` user may not be allowed
        into the folder the tests run from."""
        command = [str(self.bin_dir / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return subprocess.run(command, cwd=self.folder, capture_output=True, text=True, timeout=timeout, check=False)

    def log(self) -> str:
        """The server's log, for error messages."""
        try:
            return self.log_file.read_text(errors="replace")
        except OSError as error:
            return f"(no server log: {error})"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its URL."""
        done = self.run("createdb", "--host", self.host, "--port", str(self.port), "--username", self.user, name)
        if done.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {done.stderr.strip()}\nserver log:\n{self.log()}")
        return self.url(name)

    def start(self) -> None:
        """Make a cluster in ``data_dir`` and start the server on a free port; wait until it
        accepts connections (``pg_ctl --wait`` connects until it does) or raise with its log."""
        initdb = self.run("initdb", "--pgdata", str(self.data_dir), "--username", self.user, "--auth", "trust",
                          "--encoding", "UTF8", "--no-locale", "--no-sync")
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        # Only TCP connections from this machine get in, and they need no password.
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text("# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
                       "host    all       all   127.0.0.1/32  trust\n")
        if os.geteuid() == 0:  # written by root: the server must still be able to read it
            shutil.chown(hba, SUPERUSER)
        for _ in range(PORT_TRIES):
            self.port = free_port()
            # No Unix socket (its default folder may not exist or be writable); no durability,
            # which a throw-away test database does not need and which costs seconds.
            options = (f"-c listen_addresses={self.host} -c port={self.port} -c unix_socket_directories='' "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            started = self.run("pg_ctl", "start", "--pgdata", str(self.data_dir), "--log", str(self.log_file),
                               "--wait", "--timeout", str(START_TIMEOUT_S), "-o", options,
                               timeout=START_TIMEOUT_S + 10)
            if started.returncode == 0:
                return
            if "could not bind" not in self.log():
                break
        raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1:{self.port} (pg_ctl waits {START_TIMEOUT_S} s):\n"
                           f"{started.stdout}{started.stderr}\nserver log ({self.log_file}):\n{self.log()}")

    def stop(self) -> None:
        """Stop the server at once (the data are thrown away); kill it if ``pg_ctl`` cannot."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        try:
            stopped = self.run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "immediate", "--wait",
                               timeout=30)
            if stopped.returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        # The first line of postmaster.pid is the server's process id.
        pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def make_server_folder() -> Path:
    """A new temporary folder that the server's user owns (the ``postgres`` user when we
    are root). It is made in the system's temporary folder, not pytest's: pytest's folders
    are private to the user running the tests, so ``postgres`` could not enter them."""
    folder = Path(tempfile.mkdtemp(prefix="minigrad-postgres-"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(SUPERUSER)
        except KeyError:
            shutil.rmtree(folder)
            raise RuntimeError(f"PostgreSQL refuses to run as root and there is no '{SUPERUSER}' user to run it "
                               f"as: reinstall the server ({INSTALL_HINT}), which creates that user") from None
        os.chown(folder, account.pw_uid, account.pw_gid)
    return folder


def sqlalchemy_url(url: str) -> str:
    """``url`` with the driver SQLAlchemy must use for it named: psycopg (version 3)."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session", name="postgres_server")
def fixture_postgres_server():
    """A PostgreSQL server for the whole test session (per xdist worker); skipped, with the
    package to install, where the server binaries are absent."""
    bin_dir = find_server_binaries()
    if bin_dir is None:
        pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT} (CI does)")
    server = PostgresServer(bin_dir=bin_dir, folder=make_server_folder())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(name="postgres_url")
def fixture_postgres_url(postgres_server, request) -> str:
    """The URL of a new, empty database for this test alone (named after the test)."""
    name = re.sub(r"\W", "_", request.node.name).lower()[:40]
    return postgres_server.create_database(f"{name}_{os.getpid()}")
