"""Running the user's own Claude Code CLI for the ``claude-cli`` provider: one process per request.

Owns the process side of the bridge: finding the binary (``STACKBILT_CLAUDE_BIN``, else ``claude``
on the daemon's ``PATH``; missing → 503 naming it), the argument list (never a shell:
``claude -p --output-format stream-json --verbose --include-partial-messages --tools "" …``, the
model and the system text as ``--opt=value`` so nothing is read as an option), the child's
environment (the daemon's, without ``ANTHROPIC_API_KEY`` — the bridge serves from the user's own
login — and without an ``ANTHROPIC_BASE_URL`` that points back at the gateway), the prompt on
stdin, the concurrency limit (``providers.claude-cli.concurrency``, default 2: a request waits
for a slot, at most the first-byte timeout), the timeouts (``timeouts.first_byte`` until the
first line of the answer, ``idle`` between lines, ``stream_total`` for the run), stdout lines as
JSON objects (one line at most ``MAX_SSE_EVENT_BYTES``), stderr kept bounded, and the end of a
run: a non-zero exit becomes an error carrying the redacted tail of stderr, and ``close`` kills
a child still running (its whole process group) and waits for it, so a client that goes away
leaves no process behind. Does not decode the lines (``cli_events``) nor render them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..core.config import MAX_SSE_EVENT_BYTES, Config, Timeouts
from ..core.errors import (
    GatewayError,
    InvalidRequest,
    NoProviderAvailable,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .cli_events import PROVIDER, bounded

ENV_BIN = "STACKBILT_CLAUDE_BIN"
DEFAULT_CONCURRENCY = 2
# The end of stderr kept for an error message (bytes).
STDERR_KEEP = 8 * 1024
# One argument's limit on Linux is 128 KiB; the system text goes in one argument.
MAX_SYSTEM_BYTES = 100 * 1024
# Seconds a child gets to exit after SIGTERM before SIGKILL.
KILL_GRACE = 2.0
# Variables never passed to the child (the run must use the user's own login).
_DROPPED_ENV = ("ANTHROPIC_API_KEY",)
_QUIET_ENV = {"DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


def find_binary(env: Mapping[str, str]) -> str:
    """The CLI to run: ``STACKBILT_CLAUDE_BIN`` (a path, or a name looked up on ``PATH``), else
    ``claude`` on the daemon's ``PATH``; a 503 naming what was looked for when there is none."""
    path = env.get("PATH") or os.defpath
    wanted = env.get(ENV_BIN, "").strip()
    if wanted:
        found = shutil.which(wanted, path=path)
        if found is None:
            raise NoProviderAvailable(
                f"the Claude Code CLI named by {ENV_BIN} ({wanted}) does not exist or is not "
                "executable: point it at the `claude` binary",
                provider=PROVIDER,
            )
        return found
    found = shutil.which("claude", path=path)
    if found is None:
        raise NoProviderAvailable(
            "the Claude Code CLI (`claude`) was not found on the daemon's PATH: install Claude Code "
            f"and log in, or set {ENV_BIN} to the binary",
            provider=PROVIDER,
        )
    return found


def check_model(model: str) -> str:
    """A model name safe to hand to the CLI: letters, digits and ``.-_:[]`` only."""
    if not model or model[0] in "-." or any(not (c.isalnum() or c in ".-_:[]") for c in model):
        raise InvalidRequest(
            f"claude-cli/{model!s}: not a model name the claude CLI takes "
            "(use an alias such as claude-cli/sonnet or a full name such as claude-cli/claude-sonnet-4-5)",
            param="model",
        )
    return model


def command(binary: str, *, model: str, system: str) -> list[str]:
    """The argument list of one run (no shell; the prompt goes on stdin)."""
    if len(system.encode()) > MAX_SYSTEM_BYTES:
        raise InvalidRequest(
            f"the system text is longer than {MAX_SYSTEM_BYTES} bytes, more than the claude CLI "
            "takes in one argument; shorten it or pin another provider",
            param="system",
        )
    return [
        binary,
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        f"--model={check_model(model)}",
        f"--system-prompt={system}",
        "--tools=",
        "--strict-mcp-config",
        "--disable-slash-commands",
        "--no-session-persistence",
    ]


def points_at(url: str, host: str, port: int) -> bool:
    """True when ``url`` is the gateway's own listen address (the bridge would call itself)."""
    parts = urlsplit(url)
    try:
        url_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    name = (parts.hostname or "").lower()
    own = {host.lower(), "localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}
    return url_port == port and name in own


def child_env(env: Mapping[str, str], *, host: str, port: int) -> dict[str, str]:
    """The child's environment (see the module docstring)."""
    out = {k: v for k, v in env.items() if k not in _DROPPED_ENV}
    base = out.get("ANTHROPIC_BASE_URL")
    if base and points_at(base, host, port):
        del out["ANTHROPIC_BASE_URL"]
    for name, value in _QUIET_ENV.items():
        out.setdefault(name, value)
    return out


@dataclass(slots=True)
class ClaudeCli:
    """The bridge's process runner, one per daemon (``Providers.cli``)."""

    env: Mapping[str, str]
    timeouts: Timeouts = field(default_factory=Timeouts)
    concurrency: int = DEFAULT_CONCURRENCY
    host: str = "127.0.0.1"
    port: int = 0
    running: int = 0
    _slots: asyncio.Semaphore | None = None

    @classmethod
    def from_config(cls, config: Config, env: Mapping[str, str]) -> ClaudeCli:
        settings = config.providers.get(PROVIDER)
        limit = settings.concurrency if settings is not None and settings.concurrency else None
        return cls(
            env=env,
            timeouts=config.timeouts,
            concurrency=limit or DEFAULT_CONCURRENCY,
            host=config.host,
            port=config.port,
        )

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        return self._slots

    async def start(self, *, model: str, system: str, prompt: str) -> CliRun:
        """Wait for a slot, start the CLI and hand it the prompt; the caller must ``close`` the run."""
        argv = command(find_binary(self.env), model=model, system=system)
        slots = self._semaphore()
        started = time.monotonic()
        try:
            await asyncio.wait_for(slots.acquire(), self.timeouts.first_byte)
        except TimeoutError:
            raise UpstreamTimeout(
                f"no claude-cli slot came free within {self.timeouts.first_byte:g}s "
                f"(providers.claude-cli.concurrency is {self.concurrency})",
                provider=PROVIDER,
            ) from None
        run = CliRun(self, started)
        try:
            await run.spawn(argv, prompt)
        except BaseException:
            await run.close()
            raise
        return run


@dataclass(slots=True)
class CliRun:
    """One running CLI: its output lines, its exit, its end (see the module docstring)."""

    owner: ClaudeCli
    started: float
    proc: asyncio.subprocess.Process | None = None
    stderr: bytearray = field(default_factory=bytearray)
    answered: bool = False
    _drain: asyncio.Task[None] | None = None
    _cwd: tempfile.TemporaryDirectory[str] | None = None
    _released: bool = False
    _closing: asyncio.Future[None] | None = None

    async def spawn(self, argv: list[str], prompt: str) -> None:
        owner = self.owner
        self.owner.running += 1
        self._cwd = tempfile.TemporaryDirectory(prefix="stackbilt-claude-cli-")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=child_env(owner.env, host=owner.host, port=owner.port),
                cwd=self._cwd.name,
                limit=MAX_SSE_EVENT_BYTES,
                start_new_session=True,
            )
        except OSError as exc:
            raise UpstreamUnavailable(
                f"the claude CLI ({argv[0]}) could not be started: {exc.strerror or exc}", provider=PROVIDER
            ) from exc
        self._drain = asyncio.create_task(self._keep_stderr())
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(prompt.encode())
            await asyncio.wait_for(stdin.drain(), owner.timeouts.first_byte)
            stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child exited early: its exit code and stderr tell why
        except TimeoutError:
            raise UpstreamTimeout(
                f"the claude CLI did not read its prompt within {owner.timeouts.first_byte:g}s",
                provider=PROVIDER,
            ) from None

    async def _keep_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self.stderr += chunk
            if len(self.stderr) > STDERR_KEEP:
                del self.stderr[: len(self.stderr) - STDERR_KEEP]

    def _timeout(self) -> tuple[float, str]:
        t = self.owner.timeouts
        now = time.monotonic()
        left_total = self.started + t.stream_total - now
        if not self.answered:
            left_first = self.started + t.first_byte - now
            if left_first < left_total:
                return left_first, f"the claude CLI sent no answer within {t.first_byte:g}s"
        if t.idle < left_total:
            return t.idle, f"the claude CLI sent nothing for {t.idle:g}s"
        return left_total, f"the claude CLI run took longer than {t.stream_total:g}s"

    async def line(self) -> dict[str, Any] | None:
        """The next JSON line of the output (other lines are skipped); None at its end."""
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            wait, why = self._timeout()
            try:
                raw = await asyncio.wait_for(self.proc.stdout.readline(), max(wait, 0.0))
            except TimeoutError:
                raise UpstreamTimeout(why, provider=PROVIDER) from None
            except ValueError as exc:  # a line past the reader's limit
                raise UpstreamProtocolError(
                    f"the claude CLI wrote a line longer than {MAX_SSE_EVENT_BYTES} bytes", provider=PROVIDER
                ) from exc
            if not raw:
                return None
            text = raw.strip()
            if not text.startswith(b"{"):
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict):
                return obj

    async def exit_error(self) -> GatewayError | None:
        """After the output ended: the exit as an error (non-zero: with the redacted end of stderr)."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), KILL_GRACE * 5)
        except TimeoutError:
            return UpstreamProtocolError(
                "the claude CLI closed its output but did not exit", provider=PROVIDER
            )
        if self._drain is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._drain), KILL_GRACE)
        if code == 0:
            return None
        said = bounded(self.stderr.decode("utf-8", "replace"))
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return UpstreamUnavailable(
            f"the claude CLI {how}" + (f": {said}" if said else " and wrote nothing on stderr"),
            provider=PROVIDER,
        )

    async def close(self) -> None:
        """End the run: a child still running is killed (its process group), then reaped. Runs to
        its end even when the caller is cancelled (a client that went away)."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        proc = self.proc
        try:
            if proc is not None and proc.returncode is None:
                _signal(proc, force=False)
                try:
                    await asyncio.wait_for(asyncio.shield(proc.wait()), KILL_GRACE)
                except TimeoutError:
                    _signal(proc, force=True)
                    await proc.wait()
            if proc is not None and proc.stdout is not None:  # to its end: the pipes close
                with contextlib.suppress(TimeoutError, ValueError, OSError):
                    await asyncio.wait_for(_discard(proc.stdout), KILL_GRACE)
            if self._drain is not None:
                await asyncio.wait([self._drain], timeout=KILL_GRACE)
                self._drain.cancel()
        finally:
            if not self._released:
                self._released = True
                self.owner.running = max(0, self.owner.running - 1)
                self.owner._semaphore().release()
            if self._cwd is not None:
                with contextlib.suppress(OSError):
                    self._cwd.cleanup()
                self._cwd = None


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(64 * 1024):
        pass


def _signal(proc: asyncio.subprocess.Process, *, force: bool) -> None:
    """SIGTERM (``force``: SIGKILL) to the child's process group — its own, from
    ``start_new_session`` — where there are process groups, else terminate/kill the child."""
    killpg = getattr(os, "killpg", None)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if killpg is not None:
            killpg(proc.pid, signal.SIGKILL if force else signal.SIGTERM)
        elif force:
            proc.kill()
        else:
            proc.terminate()
