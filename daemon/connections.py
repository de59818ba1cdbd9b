"""Connection hygiene: a client connection is closed as soon as its peer closes it.

Hypercorn 0.17 and 0.18 (h11) does not close a connection whose client hung up between requests:
``H11Protocol.handle(Closed())`` only closes an open stream, so the connection's idle task keeps
the socket (and its file descriptor) until ``keep_alive_timeout`` passes — 75 s here, chosen so
that clients close idle connections first. A burst of short connections then exhausts a 1 024-fd
limit and the daemon stops accepting. ``install`` wraps that handler once: after the peer's
``Closed`` with no stream in flight, the protocol asks its server to close the socket at once.
Idempotent; does nothing where the protocol has no ``send`` (a future Hypercorn).
"""

from __future__ import annotations

from typing import Any

_MARK = "_stackbilt_closes_on_peer_close"


def install() -> bool:
    """Patch Hypercorn's h11 protocol (see the module docstring); True when active."""
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
