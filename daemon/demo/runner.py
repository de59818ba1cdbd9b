"""``stackbilt-gw demo``: a throwaway gateway against simulated providers, a replayed agent
session, and the dashboard — so a newcomer sees what the gateway does without keys.

Owns the demo's lifecycle: a temporary ``STACKBILT_GATEWAY_HOME`` (never the user's data dir,
config or keyring: the app gets explicit paths, a fixed environment and ``use_keyring=False``),
the simulated providers (``simulator`` with its agent script), the real gateway app under
Hypercorn (``simulator.threaded``) on a free loopback port with
``STACKBILT_DEMO=1`` (``/health`` says ``"demo": true``; the dashboard shows a banner), the
replay (shadow, then live with a provider outage and fallbacks), two weeks of history derived
from the replayed events, a slow trickle of turns so the numbers move, and clean-up on Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import signal
import tempfile
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from ..compose.state import GatewayState
from ..control.paths import HOME_ENV, resolve_paths
from ..control.secrets import KeyStore
from ..core.config import Config
from ..core.providers import builtin_providers
from ..http.app import create_app
from ..simulator.agent import AgentScript
from ..simulator.threaded import ThreadedServer, free_port
from ..simulator.upstream import FakeUpstream
from ..telemetry.events import GatewayRequestEvent, new_event_id
from ..telemetry.queries import recent
from ..telemetry.store import insert_events, open_db
from .session import TASKS, Agent

DEMO_ENV = "STACKBILT_DEMO"
PROVIDERS = ("anthropic", "openai", "groq", "cerebras")
OUTAGE_CALLS = 8  # the most Groq calls the simulated outage fails
OUTAGE_SESSIONS = 20  # the most new sessions it sends to open the breaker
HISTORY_DAYS = 13
Say = Callable[[str], None]


def simulated_providers() -> FakeUpstream:
    """The demo's providers: the shared simulator with the agent script, keeping no requests."""
    return FakeUpstream(script=AgentScript(), record=False)


def demo_env(upstream: FakeUpstream) -> dict[str, str]:
    """The demo gateway's whole environment: simulated base URLs and placeholder keys."""
    env = {DEMO_ENV: "1"}
    specs = builtin_providers()
    for name in PROVIDERS:
        spec = specs[name]
        env[spec.env_base_url_var] = upstream.base_url(name)
        for var in spec.key_env[:1]:
            env[var] = f"demo-{name}-key-not-real"
    return env


class DemoGateway:
    """The real gateway app on ``127.0.0.1:<port>`` in a thread, with its own shutdown trigger."""

    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.port = port
        self.key = "sgw-demo-" + "".join(random.choice("0123456789abcdef") for _ in range(24))
        self.paths = resolve_paths({HOME_ENV: str(home)})
        self.app = create_app(
            Config(port=port),
            gateway_key=self.key,
            keys=KeyStore(env, self.key, use_keyring=False),
            env=env,
            paths=self.paths,
        )
        self.state: GatewayState = self.app.extensions["stackbilt"]
        self._server = ThreadedServer(self.app, port=port, name="demo-gateway", graceful_timeout=3)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DemoGateway:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def flush(self) -> None:
        if self.state.writer is not None:
            self.state.writer.flush(10.0)

    def set_mode(self, client: httpx.Client, mode: str) -> None:
        client.post(self.url + "/control/mode", json={"mode": mode}, headers={"x-api-key": self.key})

    def breaker(self, client: httpx.Client, provider: str) -> str | None:
        """The provider's breaker state as ``/providers`` reports it (None: never used)."""
        resp = client.get(self.url + "/providers", headers={"x-api-key": self.key})
        resp.raise_for_status()
        found = resp.json()["providers"].get(provider, {}).get("breaker")
        return str(found["state"]) if found else None

    def dashboard_link(self, client: httpx.Client) -> str:
        resp = client.post(self.url + "/control/session", json={}, headers={"x-api-key": self.key})
        resp.raise_for_status()
        return self.url + str(resp.json()["url"])


def replay(gw: DemoGateway, upstream: FakeUpstream, client: httpx.Client, say: Say) -> int:
    """The scripted session: shadow first, then live with a Groq outage. Returns requests sent."""
    agent = Agent(client, gw.url, gw.key)
    say("replaying an agent session in shadow mode (the requested model answers every turn)…")
    agent.quota_probe()
    agent.title(TASKS[0])
    agent.task(TASKS[0])
    upstream.fail("anthropic", 1)  # one overloaded answer: the client sees the error and retries
    agent.task(TASKS[1])
    agent.task(TASKS[1])
    agent.task(TASKS[2])
    agent.summary()
    say("switching to live mode: housekeeping turns go to cheaper providers…")
    gw.set_mode(client, "live")
    live = Agent(client, gw.url, gw.key)
    live.quota_probe()
    live.title(TASKS[3])
    live.task(TASKS[3])
    live.summary()
    say("simulating a Groq outage: live turns fall back to the next provider, then its breaker opens…")
    upstream.fail("groq", OUTAGE_CALLS)
    sent = agent.sent + live.sent
    # New sessions (a sticky session would avoid Groq after its first failure) until the breaker
    # opens: a session in the holdout (one in ten, by its random id) is served as requested.
    for _ in range(OUTAGE_SESSIONS):
        other = Agent(client, gw.url, gw.key)
        other.title("Recap the retention fix")
        sent += other.sent
        if gw.breaker(client, "groq") == "open":
            break
    upstream.heal("groq")
    live.summary("tl;dr of the session for the changelog")
    gw.set_mode(client, "shadow")
    return sent + 1


def backfill(gw: DemoGateway, days: int = HISTORY_DAYS, seed: int = 11) -> int:
    """Copy the replayed events into the previous ``days`` days (2-6 turns a day) for the charts."""
    gw.flush()
    events = recent(gw.state.db_path, limit=1000)
    if not events:
        return 0
    rng = random.Random(seed)
    names = {f.name for f in dataclasses.fields(GatewayRequestEvent)}
    copies: list[GatewayRequestEvent] = []
    now = time.time()
    for day in range(1, days + 1):
        for row in rng.sample(events, min(len(events), rng.randint(4, 12))):
            fields: dict[str, Any] = {k: v for k, v in row.items() if k in names and k != "fallback_chain"}
            fields["ts"] = now - day * 86_400 + rng.uniform(-4, 4) * 3600
            fields["id"] = new_event_id()
            copies.append(GatewayRequestEvent(**fields))
    conn = open_db(gw.state.db_path)
    try:
        return insert_events(conn, copies)
    finally:
        conn.close()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_demo(*, open_dashboard: bool, port: int | None, trickle: float, say: Say = print) -> int:
    """Run until Ctrl-C (SIGINT) or SIGTERM; always removes the temporary home."""
    home = Path(tempfile.mkdtemp(prefix="stackbilt-demo-"))
    upstream = simulated_providers().start()
    gw: DemoGateway | None = None
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        gw = DemoGateway(home, demo_env(upstream), port or free_port()).start()
        say(f"demo gateway at {gw.url} (data in {home}, deleted on exit)")
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            sent = replay(gw, upstream, client, say)
            history = backfill(gw)
            say(f"replayed {sent} requests; added {history} events of simulated history")
            link = gw.dashboard_link(client)
            say(f"dashboard (demo data): {link}")
            say("  the link works once, for 60 s; Ctrl-C stops the demo and deletes its data")
            if open_dashboard:
                webbrowser.open(link)
            turn = 0
            while True:  # a slow trickle of turns, so the dashboard visibly updates
                time.sleep(trickle)
                agent = Agent(client, gw.url, gw.key)
                if turn % 3 == 0:
                    agent.title(TASKS[turn % len(TASKS)])
                else:
                    agent.task(TASKS[turn % len(TASKS)])
                turn += 1
    except KeyboardInterrupt:
        say("stopping the demo…")
        return 0
    finally:
        if gw is not None:
            gw.stop()
        upstream.stop()
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(home, ignore_errors=True)
        say(f"demo stopped; removed {home}")
