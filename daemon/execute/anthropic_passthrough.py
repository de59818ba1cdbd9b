"""Faithful pass-through of Anthropic Messages requests to an Anthropic upstream.

The client's body goes upstream unchanged except for deliberate edits (the model name when
routing mapped it; gateway-synthesised thinking blocks, which Anthropic would reject). Headers
are kept in order minus hop-by-hop and credentials; the credential is the configured provider
key, or — when none is configured — the client's own Anthropic credential (subscription login
or own key). Upstream bytes are relayed as they arrive and parsed on the side for usage.
Upstream errors are relayed with their status, body and retry headers intact.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from ..adapters.anthropic_response import SSEWriter
from ..core.errors import AuthenticationFailed, GatewayError, UpstreamProtocolError, from_upstream_status
from ..core.ir import StreamError, Usage
from ..providers.sse import SSEParser
from ..providers.upstream import UpstreamClient, UpstreamResponse
from ..routing.resolve import Target
from .common import (
    ClientCredential,
    Outcome,
    RequestRecord,
    forward_headers,
    relay_response_headers,
)

MAX_ERROR_BODY = 1024 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024


def usage_from_anthropic(u: dict[str, Any], into: Usage) -> None:
    """Apply an Anthropic ``usage`` object; later values overwrite (message_delta semantics)."""
    if "input_tokens" in u and u["input_tokens"] is not None:
        into.input_tokens = int(u["input_tokens"])
    if "output_tokens" in u and u["output_tokens"] is not None:
        into.output_tokens = int(u["output_tokens"])
    if u.get("cache_read_input_tokens") is not None:
        into.cache_read_tokens = int(u["cache_read_input_tokens"])
    if u.get("cache_creation_input_tokens") is not None:
        into.cache_write_tokens = int(u["cache_creation_input_tokens"])
    details = u.get("output_tokens_details")
    if isinstance(details, dict) and details.get("thinking_tokens") is not None:
        into.reasoning_tokens = int(details["thinking_tokens"])


class UsageTap:
    """Reads usage, the stop reason and in-stream errors from relayed SSE bytes."""

    __slots__ = ("error", "parser", "stop_reason", "stopped", "usage")

    _WANTED = frozenset({"message_start", "message_delta", "message_stop", "error"})

    def __init__(self, usage: Usage) -> None:
        self.parser = SSEParser()
        self.usage = usage
        self.stop_reason: str | None = None
        self.stopped = False
        self.error: str | None = None

    def feed(self, chunk: bytes) -> None:
        for ev in self.parser.feed(chunk):
            if ev.event not in self._WANTED:
                continue
            try:
                data = json.loads(ev.data)
            except ValueError:
                continue
            if ev.event == "message_start":
                usage_from_anthropic(data.get("message", {}).get("usage") or {}, self.usage)
            elif ev.event == "message_delta":
                usage_from_anthropic(data.get("usage") or {}, self.usage)
                self.stop_reason = (data.get("delta") or {}).get("stop_reason")
            elif ev.event == "message_stop":
                self.stopped = True
            else:
                err = data.get("error") or {}
                self.error = f"{err.get('type')}: {err.get('message')}"


def _strip_gateway_thinking(body: dict[str, Any]) -> bool:
    """Remove thinking blocks the gateway synthesised (``gw:`` signatures). True if changed."""
    changed = False
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list):
            continue
        kept = [
            b
            for b in content
            if not (
                isinstance(b, dict)
                and b.get("type") == "thinking"
                and str(b.get("signature", "")).startswith("gw:")
            )
        ]
        if len(kept) != len(content):
            msg["content"] = kept
            changed = True
    return changed


def upstream_body(raw: bytes, parsed: dict[str, Any], target: Target) -> bytes:
    """The body to send: the client's bytes, re-serialised only when an edit is needed."""
    edited = False
    if parsed.get("model") != target.model:
        parsed["model"] = target.model
        edited = True
    if _strip_gateway_thinking(parsed):
        edited = True
    if not edited:
        return raw
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode()


def choose_credential(provider_key: str | None, client: ClientCredential | None) -> tuple[str, str]:
    if provider_key:
        return ("x-api-key", provider_key)
    if client is not None:
        return (client.header, client.value)
    raise AuthenticationFailed(
        "no Anthropic API key is configured for the gateway and the client sent no Anthropic "
        "credential of its own. Run `stackbilt-gw keys set anthropic`, set ANTHROPIC_API_KEY in "
        "the daemon's environment, or let the client send its own login and authenticate to the "
        "gateway with the x-stackbilt-gateway-key header.",
        provider="anthropic",
    )


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def relay_error(resp: UpstreamResponse, target: Target, record: RequestRecord) -> Outcome:
    """Relay an upstream error response intact, and record it in the hierarchy's terms."""
    try:
        body = await resp.read(MAX_ERROR_BODY)
    finally:
        await resp.aclose()
    message, etype = body.decode("utf-8", "replace")[:500], None
    try:
        err = json.loads(body).get("error") or {}
        message, etype = str(err.get("message", message)), err.get("type")
    except (ValueError, AttributeError):
        pass
    mapped = from_upstream_status(
        resp.status,
        message,
        retry_after=_retry_after(resp.headers),
        provider=target.spec.name,
        upstream_type=etype,
    )
    record.finish(resp.status, mapped)
    return Outcome(resp.status, relay_response_headers(resp.headers.multi_items()), body=body)


async def passthrough(
    client: UpstreamClient,
    *,
    target: Target,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    raw_body: bytes,
    parsed: dict[str, Any],
    provider_key: str | None,
    client_credential: ClientCredential | None,
    record: RequestRecord,
) -> Outcome:
    url = f"{target.base_url}{path}" + (f"?{query}" if query else "")
    out_headers = forward_headers(headers)
    out_headers.append(choose_credential(provider_key, client_credential))
    body = upstream_body(raw_body, parsed, target)
    resp = await client.open("POST", url, headers=dict(out_headers), content=body, provider=target.spec.name)
    record.mark_first_byte()
    if resp.status >= 400:
        return await relay_error(resp, target, record)
    resp_headers = relay_response_headers(resp.headers.multi_items())
    ctype = resp.headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        return Outcome(resp.status, resp_headers, stream=_relay_stream(resp, record))
    try:
        data = await resp.read(MAX_JSON_BODY)
    finally:
        await resp.aclose()
    try:
        usage_from_anthropic(json.loads(data).get("usage") or {}, record.usage)
    except (ValueError, AttributeError):
        pass
    record.finish(resp.status)
    return Outcome(resp.status, resp_headers, body=data)


async def _relay_stream(resp: UpstreamResponse, record: RequestRecord) -> AsyncIterator[bytes]:
    tap = UsageTap(record.usage)
    error: GatewayError | None = None
    status = resp.status
    try:
        async for chunk in resp.iter_raw():
            try:
                tap.feed(chunk)
            except ValueError:
                pass  # the tap never breaks the relay
            yield chunk
        if not tap.stopped and tap.error is None:
            error = UpstreamProtocolError(
                "the upstream stream ended before message_stop", provider="anthropic"
            )
    except GatewayError as exc:
        error = exc
    except (GeneratorExit, asyncio.CancelledError):
        status, record.error = 499, "client disconnected"
        raise
    finally:
        await resp.aclose()
        if tap.error and error is None:
            record.error = tap.error
        record.finish(status, error)
    if error is not None:
        prefix = b"" if tap.parser.at_boundary else b"\n\n"
        yield prefix + SSEWriter().render(StreamError(error))
