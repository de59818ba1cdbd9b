"""A throwaway PostgreSQL server for the team-ledger tests: Debian's ``postgresql`` binaries, a
fresh cluster in a temporary folder, listening on 127.0.0.1 only (a free port) with its unix
socket in that folder, password (SCRAM) authentication over TCP.

PostgreSQL refuses to run as root, and CI runs the suite as root: then the cluster belongs to
``nobody`` and every server command runs as that user through ``setpriv`` (util-linux). The
temporary folder is made directly under the system temp dir, since pytest's own are private to
root. ``stop``/``start`` leave the data in place (the outage tests); ``destroy`` removes it all.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "ledger"
PASSWORD = "team-ledger-pw-7Qx2"
DATABASE = "ledger"
RUN_AS = "nobody"


def pg_bin() -> Path:
    """The newest installed server's bin folder (``apt install postgresql``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise AssertionError(
            "PostgreSQL server binaries are missing: apt-get install postgresql "
            "(`bash .ci/run` installs it with every other system package)"
        )
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class PgServer:
    root: Path
    port: int
    bin: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def url_with(self, *, password: str | None = None, port: int | None = None) -> str:
        return f"postgresql://{SUPERUSER}:{password or PASSWORD}@127.0.0.1:{port or self.port}/{DATABASE}"

    def _run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.getuid() == 0:
            cmd = ["setpriv", f"--reuid={RUN_AS}", f"--regid={_group()}", "--clear-groups", "--", *cmd]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(self.root)}
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if out.returncode != 0:
            raise AssertionError(
                f"{' '.join(args[:2])} failed ({out.returncode}): {out.stderr or out.stdout}"
            )
        return out

    @classmethod
    def create(cls) -> PgServer:
        root = Path(tempfile.mkdtemp(prefix="sgw-pg-"))
        server = cls(root=root, port=free_port(), bin=pg_bin())
        (root / "pwfile").write_text(PASSWORD + "\n")
        if os.getuid() == 0:
            account = pwd.getpwnam(RUN_AS)
            for path in (root, root / "pwfile"):
                os.chown(path, account.pw_uid, account.pw_gid)
        server._run(
            str(server.bin / "initdb"),
            "-D",
            str(server.data),
            "-U",
            SUPERUSER,
            f"--pwfile={root / 'pwfile'}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        server.start()
        server.sql(f"CREATE DATABASE {DATABASE}", database="postgres")
        return server

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def sql(self, statement: str, *, database: str = DATABASE) -> str:
        """Run ``statement`` with psql over the unix socket; its unaligned, tuples-only output."""
        out = self._run(
            str(self.bin / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", SUPERUSER,
            "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", statement,
        )  # fmt: skip
        return out.stdout.strip()

    def destroy(self) -> None:
        if self.running():
            try:
                self.stop()
            except AssertionError:
                pass
        deadline = time.monotonic() + 10
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def _group() -> str:
    return str(pwd.getpwnam(RUN_AS).pw_gid)
