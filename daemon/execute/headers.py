"""Which headers cross the gateway: client → upstream on pass-through, upstream → client on relay.

Hop-by-hop headers never cross; client credentials and the gateway's own ``x-stackbilt-*``
headers never go upstream (``upstream.credentials`` adds the right credential); the upstream's
``date``/``server``/cookies never reach the client. Order is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Client headers that carry credentials: never forwarded unless deliberately.
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization"})
GATEWAY_KEY_HEADER = "x-stackbilt-gateway-key"
# Upstream response headers not relayed (the gateway's server sets its own; cookies are not ours).
DROP_RESPONSE = HOP_BY_HOP | {"date", "server", "set-cookie", "alt-svc"}


def forward_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Client headers for a pass-through request: everything but hop-by-hop, credentials,
    the gateway's own ``x-stackbilt-*`` headers and ``accept-encoding`` (identity is asked so
    the relayed stream can be tapped)."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        low = name.lower()
        if low in HOP_BY_HOP or low in CREDENTIAL_HEADERS or low.startswith("x-stackbilt-"):
            continue
        if low == "accept-encoding":
            continue
        out.append((name, value))
    out.append(("accept-encoding", "identity"))
    return out


def relay_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in DROP_RESPONSE]
