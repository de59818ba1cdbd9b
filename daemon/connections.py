"""Connection hygiene: prompt close on peer close, a cap on open connections, accept() back-off.

* Hypercorn 0.17 and 0.18 (h11) does not close a connection whose client hung up between
  requests: ``H11Protocol.handle(Closed())`` only closes an open stream, so the connection's idle
  task keeps the socket (and its file descriptor) until ``keep_alive_timeout`` passes — 75 s here,
  chosen so that clients close idle connections first. ``install`` wraps that handler once: after
  the peer's ``Closed`` with no stream in flight, the protocol asks its server to close the socket.
* ``install(max_connections=N)`` also caps the client connections open at once: Hypercorn's
  ``TCPServer.run`` is wrapped so that a connection beyond ``N`` is answered ``503`` (a JSON error
  object both the Anthropic and the OpenAI SDKs read, with ``retry-after``) and closed at once,
  without ever reaching the app. The refusals are logged once per episode (until a connection is
  served again), and counted (``CAP.refused``).
* ``AcceptBackoff`` is the event loop's exception handler for ``accept()`` failing for want of
  descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): asyncio stops reading the listening
  socket and retries after ``asyncio.constants.ACCEPT_RETRY_DELAY``; the handler doubles that delay
  from ``BACKOFF_FIRST`` up to ``BACKOFF_MAX`` while failures go on and logs once per episode
  (its start, then its end with the count), instead of a traceback per failure.

Idempotent; each patch does nothing where Hypercorn lacks what it wraps (a future Hypercorn).
Does not own the listening socket or the server's configuration (``server``).
"""

from __future__ import annotations

import asyncio
import asyncio.constants
import errno
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("stackbilt_gateway.daemon.connections")

_MARK = "_stackbilt_closes_on_peer_close"
_CAP_MARK = "_stackbilt_connection_cap"
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 1.0
ACCEPT_EXHAUSTED = "socket.accept() out of system resource"
_EXHAUSTION = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_REFUSAL_BODY = (
    b'{"type":"error","error":{"type":"overloaded_error","code":"too_many_connections",'
    b'"message":"the gateway has too many open connections; retry"}}\n'
)
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(_REFUSAL_BODY)
) + _REFUSAL_BODY


@dataclass
class ConnectionCap:
    """The open client connections, the cap on them and the refusals (one per event loop's daemon)."""

    limit: int = 0  # 0: no cap
    active: int = 0
    refused: int = 0
    _refusing: bool = False

    def admit(self) -> bool:
        """True when one more connection may be served (it is then counted as open)."""
        if self.limit and self.active >= self.limit:
            self.refused += 1
            if not self._refusing:
                self._refusing = True
                log.warning(
                    "%d client connections open (max_connections): refusing more with 503 until one closes",
                    self.active,
                )
            return False
        if self._refusing:
            self._refusing = False
            log.info("serving connections again (%d refused in all so far)", self.refused)
        self.active += 1
        return True

    def release(self) -> None:
        self.active = max(0, self.active - 1)


CAP = ConnectionCap()


async def _refuse(writer: asyncio.StreamWriter) -> None:
    """A 503 that needs no request read, then the socket closed (bounded: never waits on the peer)."""
    try:
        writer.write(REFUSAL)
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (OSError, TimeoutError, RuntimeError):
        writer.transport.abort()


def _install_close_on_peer_close() -> bool:
    try:
        from hypercorn.events import Closed
        from hypercorn.protocol.h11 import H11Protocol
    except ImportError:  # pragma: no cover - hypercorn is a dependency
        return False
    handle = H11Protocol.handle
    if getattr(handle, _MARK, False):
        return True

    async def closing_handle(self: Any, event: Any) -> None:
        await handle(self, event)
        if isinstance(event, Closed) and getattr(self, "stream", None) is None:
            send = getattr(self, "send", None)
            if send is not None:
                await send(Closed())

    setattr(closing_handle, _MARK, True)
    H11Protocol.handle = closing_handle  # type: ignore[method-assign]
    return True


def _install_cap() -> bool:
    try:
        from hypercorn.asyncio.tcp_server import TCPServer
    except ImportError:  # pragma: no cover - hypercorn is a dependency
        return False
    run = TCPServer.run
    if getattr(run, _CAP_MARK, False):
        return True

    async def capped_run(self: Any) -> None:
        BACKOFF.accepted()
        if not CAP.admit():
            await _refuse(self.writer)
            return
        try:
            await run(self)
        finally:
            CAP.release()

    setattr(capped_run, _CAP_MARK, True)
    TCPServer.run = capped_run  # type: ignore[method-assign]
    return True


def install(max_connections: int = 0) -> bool:
    """Patch Hypercorn (see the module docstring); True when both patches are active.
    ``max_connections``: the cap on open client connections (0: none)."""
    CAP.limit = max(0, max_connections)
    return _install_close_on_peer_close() & _install_cap()


class AcceptBackoff:
    """The event loop's exception handler: ``accept()`` exhaustion backed off and logged once per
    episode; anything else goes to the handler that was there before (or asyncio's default)."""

    def __init__(self, previous: Any = None) -> None:
        self.previous = previous
        self.delay = BACKOFF_FIRST
        self.failures = 0  # in the current episode
        self.episodes = 0
        self.total_failures = 0
        self._since = 0.0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if context.get("message") == ACCEPT_EXHAUSTED and (
            not isinstance(exc, OSError) or exc.errno in _EXHAUSTION
        ):
            self.failed(exc)
            return
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def failed(self, exc: object) -> None:
        """One failed ``accept()``: set the next retry's delay; log the episode's start only."""
        self.total_failures += 1
        if self.failures == 0:
            self.episodes += 1
            self._since = time.monotonic()
            self.delay = BACKOFF_FIRST
            log.warning(
                "accept() failed (%s) with %d client connections open: backing off (up to %g s) "
                "until descriptors free up; raise the file limit (ulimit -n) or lower max_connections",
                exc,
                CAP.active,
                BACKOFF_MAX,
            )
        else:
            self.delay = min(BACKOFF_MAX, self.delay * 2)
        self.failures += 1
        # asyncio reads the module constant when it schedules the retry, just after this handler.
        asyncio.constants.ACCEPT_RETRY_DELAY = self.delay  # type: ignore[misc,assignment]

    def accepted(self) -> None:
        """A connection was accepted: ends an episode (logged once) and resets the delay."""
        if self.failures:
            log.info(
                "accept() works again after %d failures over %.1f s",
                self.failures,
                time.monotonic() - self._since,
            )
            self.failures = 0
            self.delay = BACKOFF_FIRST
            asyncio.constants.ACCEPT_RETRY_DELAY = BACKOFF_FIRST  # type: ignore[misc,assignment]


BACKOFF = AcceptBackoff()


def install_backoff(loop: asyncio.AbstractEventLoop) -> AcceptBackoff:
    """Make ``BACKOFF`` the loop's exception handler (keeping the one before for the rest)."""
    if loop.get_exception_handler() is not BACKOFF:
        BACKOFF.previous = loop.get_exception_handler()
        loop.set_exception_handler(BACKOFF)
    return BACKOFF
