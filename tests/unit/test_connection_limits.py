"""``max_connections`` (validated), the connection cap and the ``accept()`` back-off as units, and
the doctor's file-limit check (``cli.setup._fd_budget``) against this process's real limits.

The real daemon under a low descriptor limit is ``tests/e2e/test_connection_cap.py``.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import json
import logging
import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.cli.setup import FD_HEADROOM, Report, _fd_budget
from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.connections import (
    ACCEPT_EXHAUSTED,
    BACKOFF_FIRST,
    BACKOFF_MAX,
    AcceptBackoff,
    ConnectionCap,
)
from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.core.config import DEFAULT_MAX_CONNECTIONS, ConfigError


def test_max_connections_defaults_and_is_validated(isolated_home: Path, tmp_path: Path) -> None:
    paths = resolve_paths(dict(os.environ))
    assert load_config(env={}, paths=paths, cwd=tmp_path).max_connections == DEFAULT_MAX_CONNECTIONS == 512
    config_file = tmp_path / "gateway.config.json"
    config_file.write_text(json.dumps({"max_connections": 2000}))
    assert load_config(env={}, paths=paths, cwd=tmp_path).max_connections == 2000
    for bad, shown in [(0, "0"), (-5, "-5"), ("many", '"many"'), (True, "true"), (1.5, "1.5")]:
        config_file.write_text(json.dumps({"max_connections": bad}))
        with pytest.raises(ConfigError) as err:
            load_config(env={}, paths=paths, cwd=tmp_path)
        assert str(err.value).startswith(
            'gateway.config.json: "max_connections": expected an integer 1-1000000'
        )
        assert shown in str(err.value)


def test_the_cap_admits_up_to_its_limit_and_logs_once_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    cap = ConnectionCap(limit=2)
    with caplog.at_level(logging.INFO, logger="stackbilt_gateway.daemon.connections"):
        assert cap.admit() and cap.admit()
        assert [cap.admit() for _ in range(5)] == [False] * 5
        assert (cap.active, cap.refused) == (2, 5)
        cap.release()
        assert cap.admit()  # a slot freed: served again
        assert not cap.admit()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("refusing more with 503" in m for m in messages) == 2  # two episodes, not six refusals
    assert sum("serving connections again" in m for m in messages) == 1
    assert ConnectionCap(limit=0).admit()  # 0: no cap


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
    asyncio.constants.ACCEPT_RETRY_DELAY = 1  # type: ignore[misc]  # asyncio's own value


def test_accept_exhaustion_backs_off_doubling_and_logs_once(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    others: list[dict[str, object]] = []
    backoff = AcceptBackoff(previous=lambda _loop, context: others.append(context))
    exhausted = OSError(errno.EMFILE, "Too many open files")
    delays = []
    with caplog.at_level(logging.INFO, logger="stackbilt_gateway.daemon.connections"):
        for _ in range(8):
            backoff(loop, {"message": ACCEPT_EXHAUSTED, "exception": exhausted})
            delays.append(asyncio.constants.ACCEPT_RETRY_DELAY)
        backoff.accepted()
        backoff(loop, {"message": ACCEPT_EXHAUSTED, "exception": exhausted})
        backoff.accepted()
        backoff(loop, {"message": "something else", "exception": ValueError("x")})
    assert delays[0] == BACKOFF_FIRST and delays[1] == 2 * BACKOFF_FIRST
    assert all(b == min(BACKOFF_MAX, 2 * a) for a, b in itertools.pairwise(delays))
    assert delays[-1] == BACKOFF_MAX
    assert asyncio.constants.ACCEPT_RETRY_DELAY == BACKOFF_FIRST  # reset once accepting again
    assert (backoff.episodes, backoff.total_failures) == (2, 9)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("accept() failed" in m for m in messages) == 2
    assert sum("accept() works again after 8 failures" in m for m in messages) == 1
    assert [c["message"] for c in others] == ["something else"]  # not ours: passed on


@pytest.fixture
def soft_limit() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_doctor_warns_when_the_file_limit_is_short(
    soft_limit: None, capsys: pytest.CaptureFixture[str]
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    report = Report()
    _fd_budget(report, 512, None)
    line = capsys.readouterr().out.strip()
    need = 512 + FD_HEADROOM
    assert line.startswith(
        f"[warn] file limit: this shell's (the daemon inherits it) soft limit 256 < {need}"
    )
    assert (
        f"`ulimit -n {need}` before `stackbilt-gw start`, or LimitNOFILE={need} in the systemd unit" in line
    )
    assert line.endswith("or lower max_connections to 1")
    assert report.failed == 0  # a warning, not a failure

    # A running daemon's own limit is read (here: this process stands in for it).
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    _fd_budget(report, 512, os.getpid())
    line = capsys.readouterr().out.strip()
    assert (
        line
        == f"[ ok ] file limit: the daemon's soft limit {min(4096, hard)} ≥ {need} (max_connections 512"
        + " + 256)"
    )
    resource.setrlimit(resource.RLIMIT_NOFILE, (700, hard))
    _fd_budget(report, 200, os.getpid())
    assert capsys.readouterr().out.startswith("[ ok ] file limit: the daemon's soft limit 700 ≥ 456")
    _fd_budget(report, 1000, os.getpid())
    assert "or lower max_connections to 444" in capsys.readouterr().out
