"""The pytest side of ``browser.mjs``: a real headless Chromium (Debian's ``chromium``) driven by
playwright-core from npm, one JSON-lines call at a time, each bounded by a timeout.

Nothing here is skipped: a missing Chromium, Node or playwright-core fails the test with what to
install (``.ci/run`` installs the apt package, ``tests/run.sh`` runs ``npm ci`` in ``webui/``).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBUI_DIR = ROOT / "webui"
SCRIPT = Path(__file__).with_name("browser.mjs")
CHROMIUM = os.environ.get("STACKBILT_TEST_CHROMIUM", "/usr/bin/chromium")


def require_browser_tools() -> None:
    """Fail (never skip) with the fix when the browser stack is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard tests need Debian's `chromium` "
            "(apt-get install chromium; `bash .ci/run` installs it with every other system package)"
        )
    if shutil.which("node") is None:
        pytest.fail("node is missing: install Node.js 20+ (see tests/run.sh)")
    if not (WEBUI_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is missing: run `npm ci --prefix webui` (tests/run.sh does it)")


class BrowserError(AssertionError):
    """A browser operation failed or timed out."""


class Browser:
    """One Chromium page at 1100x760 (the dashboard window's default size)."""

    def __init__(self, *, timeout: float = 20.0) -> None:
        require_browser_tools()
        env = {**os.environ, "WEBUI_DIR": str(WEBUI_DIR), "CHROMIUM": CHROMIUM}
        self._timeout = timeout
        self._proc = subprocess.Popen(
            ["node", str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self._proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self._next = 0
        hello = self._read(60.0)
        self.version = str(hello.get("version"))

    def _pump(self, stream: Any, out: queue.Queue[str | None]) -> None:
        for line in stream:
            out.put(line)
        out.put(None)

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line)

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"the browser did not answer in {timeout:g}s") from None
        if line is None:
            raise BrowserError("the browser driver exited: " + "".join(self._stderr)[-2000:])
        data: dict[str, Any] = json.loads(line)
        return data

    def call(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        self._next += 1
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"id": self._next, "op": op, "args": args}) + "\n")
        self._proc.stdin.flush()
        answer = self._read(timeout or self._timeout)
        if not answer.get("ok"):
            raise BrowserError(f"{op}({args}): {answer.get('error')}")
        return answer.get("result")

    # Shorthands for the common operations.
    def goto(self, url: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("goto", url=url)
        return result

    def text(self, selector: str) -> str:
        return str(self.call("text", selector=selector))

    def texts(self, selector: str) -> list[str]:
        return list(self.call("texts", selector=selector))

    def wait_for(self, expression: str, timeout: float = 10.0) -> None:
        self.call("waitFor", timeout=timeout + 5, expression=expression, ms=int(timeout * 1000))

    def eval(self, expression: str) -> Any:
        return self.call("eval", expression=expression)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(json.dumps({"id": 0, "op": "close"}) + "\n")
                self._proc.stdin.flush()
                self._proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(5)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
