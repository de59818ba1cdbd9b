"""The Claude Code CLI's ``--output-format stream-json`` lines → IR stream events, usage, errors.

Owns the decoding of one bridged run's output (``cli_bridge`` runs the process). The CLI wraps
each Anthropic Messages stream event in a ``stream_event`` line (``--include-partial-messages``);
they become IR text blocks — text only: thinking and any other block are dropped deliberately,
and the text blocks of successive API messages are renumbered into one client message. A whole
``assistant`` line whose message was not streamed is emitted as text (an API error message, marked
``error``, never is). The final ``result`` line gives the usage of the whole run and the stop
reason; with ``is_error`` it is the run's failure, mapped into the error hierarchy (its text
redacted and bounded). Pure: no I/O, renders nothing.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import (
    AuthenticationFailed,
    GatewayError,
    RateLimited,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamUnavailable,
)
from ..core.ir import (
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    StopReason,
    StreamEvent,
    TextDelta,
    Usage,
)
from ..storage.redact import redact
from ..wires.anthropic.response import STOP_REASONS

PROVIDER = "claude-cli"
# The most characters of the CLI's own error text (or stderr) a client is shown.
MAX_ERROR_TEXT = 2000


def bounded(text: str) -> str:
    """``text`` redacted, stripped and cut to ``MAX_ERROR_TEXT`` characters (an ellipsis marks a cut)."""
    clean = redact(text).strip()
    return clean if len(clean) <= MAX_ERROR_TEXT else clean[: MAX_ERROR_TEXT - 1] + "…"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_of(raw: object) -> Usage | None:
    """The ``result`` line's ``usage`` in the IR (None when it has none)."""
    if not isinstance(raw, dict):
        return None
    creation = raw.get("cache_creation")
    details = raw.get("output_tokens_details")
    return Usage(
        input_tokens=_int(raw.get("input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        cache_read_tokens=_int(raw.get("cache_read_input_tokens")),
        cache_write_tokens=_int(raw.get("cache_creation_input_tokens")),
        reasoning_tokens=_int(details.get("thinking_tokens")) if isinstance(details, dict) else 0,
        cache_write_1h_tokens=(
            _int(creation.get("ephemeral_1h_input_tokens")) if isinstance(creation, dict) else 0
        ),
    )


def result_error(result: dict[str, Any], api_error: str | None) -> GatewayError:
    """A failed run (``is_error``) as a gateway error: the API status the CLI reports when it has
    one, a refused login as 401, anything else as 502 — each naming the CLI and its own words."""
    text = result.get("result")
    said = bounded(text) if isinstance(text, str) and text.strip() else str(result.get("subtype") or "error")
    message = f"the claude CLI failed: {said}"
    status = result.get("api_error_status")
    kw: dict[str, Any] = {"provider": PROVIDER, "upstream_type": api_error}
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599:
        if status == 429:
            return RateLimited(message, **kw)
        if status == 529:
            return UpstreamOverloaded(message, **kw)
        if status in (401, 403):
            return AuthenticationFailed(message, **kw)
        cls: type[UpstreamError] = UpstreamServerError if status >= 500 else UpstreamRejected
        return cls(message, status=status, **kw)
    if api_error in ("authentication_failed", "oauth_org_not_allowed", "billing_error"):
        return AuthenticationFailed(
            f"{message} (log the claude CLI in as the user the daemon runs as: run `claude`, then /login)",
            **kw,
        )
    if api_error == "rate_limit":
        return RateLimited(message, **kw)
    return UpstreamUnavailable(message, **kw)


class CliDecoder:
    """One run's output lines → IR events (see the module docstring). ``started`` turns true at the
    first API message (the client's stream may open); ``result`` is the final line, once seen."""

    def __init__(self, *, message_id: str, model: str) -> None:
        self.message_id = message_id
        self.model = model
        self.started = False
        self.result: dict[str, Any] | None = None
        self.api_error: str | None = None
        self.text: list[str] = []
        self.stop_reason: str | None = None
        self._index = -1
        self._open = False
        self._streamed: set[str] = set()

    @property
    def error(self) -> GatewayError | None:
        """The run's failure as its ``result`` line reported it (None: no result, or a success)."""
        if self.result is None or self.result.get("is_error") is not True:
            return None
        return result_error(self.result, self.api_error)

    @property
    def usage(self) -> Usage | None:
        return usage_of(self.result.get("usage")) if self.result is not None else None

    def _start(self) -> list[StreamEvent]:
        if self.started:
            return []
        self.started = True
        return [MessageStart(self.message_id, self.model)]

    def _open_block(self) -> list[StreamEvent]:
        self._index += 1
        self._open = True
        return [BlockStart(self._index, "text")]

    def _text(self, text: str) -> list[StreamEvent]:
        if not text:
            return []
        self.text.append(text)
        return [TextDelta(self._index, text)]

    def _close_block(self) -> list[StreamEvent]:
        if not self._open:
            return []
        self._open = False
        return [BlockStop(self._index)]

    def feed(self, line: dict[str, Any]) -> list[StreamEvent]:
        kind = line.get("type")
        if kind == "stream_event" and isinstance(event := line.get("event"), dict):
            return self._stream_event(event)
        if kind == "assistant" and isinstance(message := line.get("message"), dict):
            return self._assistant(line, message)
        if kind == "result":
            self.result = line
            if isinstance(stop := line.get("stop_reason"), str):
                self.stop_reason = stop
        return []

    def _stream_event(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict) and isinstance(mid := message.get("id"), str):
                self._streamed.add(mid)
            return self._start()
        if kind == "content_block_start":
            block = event.get("content_block")
            if isinstance(block, dict) and block.get("type") == "text":
                out = self._start() + self._close_block() + self._open_block()
                return out + self._text(str(block.get("text") or ""))
            return []
        if kind == "content_block_delta" and self._open:
            delta = event.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                return self._text(str(delta.get("text") or ""))
            return []
        if kind == "content_block_stop":
            return self._close_block()
        if kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and isinstance(stop := delta.get("stop_reason"), str):
                self.stop_reason = stop
        return []

    def _assistant(self, line: dict[str, Any], message: dict[str, Any]) -> list[StreamEvent]:
        if line.get("error") is not None or line.get("is_api_error_message"):
            self.api_error = str(line.get("error") or "api_error")
            return []
        if message.get("id") in self._streamed:
            return []
        out: list[StreamEvent] = []
        for block in message.get("content") or ():
            if isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
                out += self._start() + self._close_block() + self._open_block()
                out += self._text(str(block["text"])) + self._close_block()
        return out

    def finish(self, usage: Usage) -> list[StreamEvent]:
        """Close the message: its last block, the stop reason and ``usage``."""
        return [
            *self._start(),
            *self._close_block(),
            MessageDelta(self.stop(), usage=usage),
            MessageStop(),
        ]

    def stop(self) -> StopReason | None:
        return STOP_REASONS.get(self.stop_reason or "end_turn", "end_turn")
