"""The daemon's main: single-instance guard, listening socket, pidfile, Hypercorn, signals.

Owns the process around the app: refusing a second instance (an OS file lock plus the pidfile),
binding the port (a clear ``PortInUse`` message, exit code 3), logging to stderr (the launcher
redirects it to the log file), loading the gateway key and provider key store, running Hypercorn
with our own SIGTERM/SIGINT shutdown trigger and connection hygiene (``connections``: the
``max_connections`` cap and the ``accept()`` back-off), and removing the pidfile on exit. Does not own the
app itself (``http.app.create_app``) nor background start/stop (``lifecycle``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import __version__, connections, gcpolicy
from .control.gatewaykey import load_or_create_gateway_key
from .control.lifecycle import DaemonInfo, PortInUse, bind_socket, find_daemon, remove_pidfile, write_pidfile
from .control.lock import InstanceLock
from .control.paths import Paths
from .control.secrets import KeyStore
from .core.config import Config
from .storage.redact import RedactingFormatter

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_PORT_IN_USE = 3
EXIT_ALREADY_RUNNING = 4
KEEP_ALIVE_TIMEOUT = 75.0  # above common client idle-pool timeouts, so the client closes first

log = logging.getLogger("stackbilt_gateway.daemon")


def _setup_logging(level: str) -> None:
    """Log to stderr (the launcher points it at ``daemon.log``), every line redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def _hypercorn_config(config: Config, fd: int) -> Any:
    from hypercorn.config import Config as HypercornConfig

    hc = HypercornConfig()
    # The socket is already bound (so the pidfile names a process that owns the port); Hypercorn
    # listens on it. Equivalent to bind = f"{host}:{port}" (IPv6 literals bracketed).
    hc.bind = [f"fd://{fd}"]
    hc.graceful_timeout = config.graceful_timeout
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.keep_alive_timeout = KEEP_ALIVE_TIMEOUT
    hc.include_server_header = False
    return hc


async def _serve(app: Any, hc: Any, on_ready: Callable[[], None]) -> None:
    from hypercorn.asyncio import serve

    from .http.app import begin_shutdown

    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    connections.install_backoff(loop)  # accept() out of descriptors: backed off, logged once

    def on_signal(signum: int) -> None:
        if stop_event.is_set():
            log.warning("second %s: already shutting down", signal.Signals(signum).name)
            return
        log.info(
            "%s received: finishing in-flight requests (up to %g s), then exiting",
            signal.Signals(signum).name,
            hc.graceful_timeout,
        )
        begin_shutdown(app)
        stop_event.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError):  # Windows event loops
            signal.signal(signum, lambda s, _f: loop.call_soon_threadsafe(on_signal, s))
    on_ready()  # the pidfile appears only once a signal can stop the daemon gracefully
    await serve(app, hc, shutdown_trigger=stop_event.wait)


def serve_forever(config: Config, paths: Paths, *, env: Mapping[str, str] | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; return the process exit code."""
    env = os.environ if env is None else env
    _setup_logging(config.log_level)
    paths.ensure()
    lock = InstanceLock(paths.lockfile)
    if not lock.try_acquire():
        running = find_daemon(paths)
        where = f" (pid {running.pid}, {running.url})" if running else ""
        log.error("another gateway daemon is already running%s; not starting a second one", where)
        return EXIT_ALREADY_RUNNING
    try:
        running = find_daemon(paths)
        if running is not None and running.pid != os.getpid():
            log.error("another gateway daemon is already running (pid %d, %s)", running.pid, running.url)
            return EXIT_ALREADY_RUNNING
        try:
            sock = bind_socket(config.host, config.port)
        except PortInUse as exc:
            log.error("%s", exc)
            return EXIT_PORT_IN_USE
        gateway_key, key_source = load_or_create_gateway_key(paths, env)
        keys = KeyStore(env, gateway_key)

        from .http.app import create_app

        app = create_app(config, gateway_key=gateway_key, keys=keys, env=env)
        hc = _hypercorn_config(config, sock.detach())
        info = DaemonInfo(os.getpid(), config.port, config.host, time.time(), __version__)
        log.info(
            "StackBilt LLM Gateway %s on %s (pid %d); gateway key from %s; config from %s",
            __version__,
            info.url,
            info.pid,
            key_source,
            ", ".join(str(p) for p in config.sources) or "defaults",
        )
        gcpolicy.tune()
        connections.install(config.max_connections)
        asyncio.run(_serve(app, hc, lambda: write_pidfile(paths, info)))
        log.info("stopped")
        return EXIT_OK
    except Exception:
        log.exception("the daemon failed")
        return EXIT_ERROR
    finally:
        remove_pidfile(paths, pid=os.getpid())
        lock.release()
