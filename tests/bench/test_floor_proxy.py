"""The floor relay (``bench.floor_proxy``) forwards bytes faithfully, streams included.

It is a diagnostic seat for ``bench.run --reference floor``; if it dropped or reordered a byte,
every floor measurement would be wrong. Real processes on loopback: the fake upstream and the
relay, driven by a plain httpx client.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


def _spawn(args: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY"), line
    return proc, int(line.split()[1])


@pytest.fixture
def relay() -> Iterator[tuple[str, str]]:
    upstream, up_port = _spawn(["stackbilt_gateway.daemon.simulator.fast", "--port", "0", "--chunks", "7"])
    port = free_port()
    floor, _ = _spawn(["bench.floor_proxy", "--port", str(port), "--upstream", f"http://127.0.0.1:{up_port}"])
    try:
        yield f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{port}"
    finally:
        for proc in (floor, upstream):
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def _post(base: str, body: dict[str, object]) -> tuple[int, bytes]:
    with httpx.Client(timeout=10) as client:
        resp = client.post(base + "/v1/messages", content=json.dumps(body), headers={"x-api-key": "k"})
        return resp.status_code, resp.content


@pytest.mark.timeout(60)
def test_the_floor_relays_what_the_upstream_sends(relay: tuple[str, str]) -> None:
    direct, floor = relay
    small = {"model": "claude-opus-5-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    big = {**small, "stream": True, "messages": [{"role": "user", "content": "x" * 300_000}]}
    for body in (small, big, small):
        via_direct, via_floor = _post(direct, body), _post(floor, body)
        assert via_floor[0] == via_direct[0] == 200
        assert via_floor[1].count(b"BQX") == via_direct[1].count(b"BQX")
        if body.get("stream"):
            assert via_floor[1].count(b"BQX") == 7 and via_floor[1].endswith(b"\n\n")
            assert via_floor[1].count(b"event: ") == via_direct[1].count(b"event: ")
        else:
            assert json.loads(via_floor[1])["type"] == "message"
    with httpx.Client(timeout=5) as client:
        assert client.get(floor + "/health").json() == {"status": "ok"}
