"""``stackbilt-gw demo --no-open``: a throwaway gateway with simulated providers starts, replays a
session (shadow, then live with a Groq outage and fallbacks), serves its dashboard as demo data,
keeps producing traffic, and on Ctrl-C stops and deletes its data — never touching the user's."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
CLI = "import sys; from stackbilt_gateway.daemon.cli import main; sys.exit(main())"


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    out: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)
        out.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return out


def _wait_line(
    lines: queue.Queue[str | None], pattern: str, seen: list[str], timeout: float
) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r} in {timeout:g}s; output:\n{''.join(seen)}")


def test_demo_runs_labels_itself_and_cleans_up(isolated_home: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "demo", "--no-open", "--trickle", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    seen: list[str] = []
    try:
        lines = _lines(proc)
        home = Path(_wait_line(lines, r"data in (\S+), deleted on exit", seen, 30).group(1))
        assert home.is_dir() and home != isolated_home
        link = _wait_line(lines, r"dashboard \(demo data\): (\S+)", seen, 90).group(1)
        base = link.split("/ui/")[0]
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as ui:
            assert ui.get(link, follow_redirects=False).status_code == 303  # the one-time link works
            assert ui.get("/health").json()["demo"] is True
            assert ui.get("/ui/api/settings").json()["demo"] is True
            events = ui.get("/events/recent", params={"limit": 500, "since": "today"}).json()["events"]
            assert len(events) >= 20
            assert {e["mode"] for e in events} == {"shadow", "live"}
            assert {e["client"] for e in events} == {"claude-code"}
            classes = {e["route_class"] for e in events}
            assert {"tool_loop", "background", "summary"} <= classes
            fallbacks = [e for e in events if any(a["status"] == "error" for a in e["fallback_chain"])]
            assert any(
                e["selected_provider"] == "cerebras" for e in fallbacks
            )  # Groq failed, Cerebras served
            assert any(e["status"] == "error" for e in events)  # the simulated Anthropic overload
            breaker = ui.get("/providers").json()["providers"]["groq"]["breaker"]["state"]
            assert breaker in ("open", "half_open")
            assert ui.get("/metrics", params={"since": "30d"}).json()["totals"]["requests"] > len(events)
            before = ui.get("/metrics/summary", params={"since": "today"}).json()["requests"]
            deadline = time.monotonic() + 20
            while ui.get("/metrics/summary", params={"since": "today"}).json()["requests"] <= before:
                assert time.monotonic() < deadline, "the demo stopped producing traffic"
                time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        _wait_line(lines, r"demo stopped; removed", seen, 5)
        assert not home.exists()
        assert not (isolated_home / "data").exists()  # the user's gateway home was never touched
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_healed_outage_fails_no_more_calls() -> None:
    """The demo's outage ends once the breaker opens: the failures still queued for Groq go, the
    others stay."""
    from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream

    upstream = FakeUpstream().start()
    try:
        upstream.fail("groq", 5)
        upstream.fail("cerebras", 2)
        with httpx.Client(trust_env=False, timeout=10) as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            assert client.post(upstream.base_url("groq") + "/chat/completions", json=body).status_code == 503
            assert upstream.heal("groq") == 4
            assert upstream.heal("groq") == 0
            assert client.post(upstream.base_url("groq") + "/chat/completions", json=body).status_code == 200
            assert (
                client.post(upstream.base_url("cerebras") + "/chat/completions", json=body).status_code == 503
            )
    finally:
        upstream.stop()
