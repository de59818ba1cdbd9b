"""One request's typed state: its routing context and its record, finished exactly once.

``RequestContext`` holds what the pipeline learns about a request (client, session, repository,
mode, the route decision, requested and would-be routes, the fallback chain, response-cache facts)
in typed fields — no string-keyed dict. ``RequestRecord`` is what happened: provider, model,
status, usage, timings, the error. Executors fill in facts (``mark_first_byte``, ``note_error``,
usage); only the pipeline calls ``finish``, which hands the record to its ``on_finish`` hook once
(breaker, session memory, telemetry) and logs it. No I/O beyond logging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from .errors import GatewayError
from .ir import Usage
from .route_classes import RouteClass

log = logging.getLogger("stackbilt_gateway.request")

ClientKind = Literal["claude-code", "codex", "sdk", "unknown"]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The class of one turn, how sure the classifier is, and the facts behind it."""

    route_class: RouteClass
    confidence: float
    # The id of the rule that fired (see docs/routing.md).
    rule: str
    signals: Mapping[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class RouteTask:
    """The task a request belongs to (a user turn and its tool loop) and the routing verdicts
    behind its model: recorded on the event, shown by ``explain``."""

    task_id: str
    decision_id: str
    # True on the task's first request (where the model is decided).
    start: bool
    # The fresh-context lane applied (a subagent run, a title or topic call).
    fresh: bool = False
    # Served as requested because the session is in the holdout.
    holdout: bool = False
    # The same request again (a client retry), and tool results marked as errors in this turn.
    retry: bool = False
    tool_errors: int = 0
    # The model that served this identity's previous request (None: unknown).
    previous: tuple[str, str] | None = None
    # The lower effort the task is served at (live mode), and the effort the client asked for.
    effort: str | None = None
    effort_from: str | None = None
    # The output the lower effort saved on this request, priced (its own kind of saving; an
    # estimate: the model's average output at the clients' own effort minus this answer's).
    effort_saving_usd: float | None = None
    # The verdicts: each candidate with its reason and expected task cost.
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FallbackAttempt:
    """One candidate tried for a request, in order."""

    provider: str
    model: str
    # "ok", "error", "skipped" (breaker open / not configured)
    status: str
    # The error class (``GatewayError.kind``) for a failed attempt.
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseHit:
    """A request answered from the response cache: where the stored answer came from."""

    provider: str | None
    model: str | None
    # What producing the stored answer used (its cost is what the hit saved).
    usage: Usage | None


class Releasable(Protocol):
    """A request's claim on shared limits, given back once when its record is finished."""

    def release(self, record: RequestRecord) -> None: ...


@dataclass(slots=True)
class RequestContext:
    """What the pipeline learned about a request (attribution, routing, caching)."""

    client: ClientKind = "unknown"
    session: str | None = None
    repo: str | None = None
    branch: str | None = None
    mode: str = "shadow"
    # (provider, model) the client asked for, and what live routing would have chosen.
    requested: tuple[str, str] | None = None
    would: tuple[str, str] | None = None
    decision: RouteDecision | None = None
    plan_reasons: list[str] = field(default_factory=list)
    chain: list[FallbackAttempt] = field(default_factory=list)
    # True once a stream was handed to the client (its outcome is known at its end).
    streaming: bool = False
    # False for the gateway's own calls (compaction): they never move a session's stickiness.
    sticky: bool = True
    # The response-cache policy's verdict ("miss", "hit", "bypass: …"), when the cache is on.
    response_cache: str | None = None
    response_hit: ResponseHit | None = None
    # Conditions some prices depend on, from the client's headers (``costs.conditions``: e.g.
    # "anthropic-beta:context-1m" when it asked for the 1M-context beta).
    price_conditions: frozenset[str] = frozenset()
    # The prompt-cache identity: the session plus a digest of the stable prefix (system text
    # without Claude Code's billing line, tool names); fresh contexts get their own.
    cache_identity: str | None = None
    # The latest user turn's text, kept only when telemetry.store_prompts is on (redacted on write).
    prompt: str | None = None
    # Governance (``governance.admission``): the client id the request is attributed to; True when
    # a ``degrade`` budget is used up (routing serves non-tool-loop classes from the cheaper tier);
    # the rule that refused it; the providers it may reach (None: any); its admission, released
    # once when the record is finished (``compose.settle``).
    client_id: str | None = None
    degrade: bool = False
    refusal: str | None = None
    allowed_providers: frozenset[str] | None = None
    admission: Releasable | None = None
    # The task and the routing verdicts (None: the request has no cache identity).
    task: RouteTask | None = None
    # Items in a Responses request's ``input`` (where the answer's reasoning items will sit).
    history_items: int | None = None


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request; stored as telemetry at the end and logged (a failure at
    INFO, a success at DEBUG: every request is in the telemetry database already)."""

    request_id: str
    protocol: str
    client_model: str = ""
    provider: str = ""
    upstream_model: str = ""
    stream: bool = False
    status: int = 0
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)
    first_byte_ms: float | None = None
    translated: bool = False
    error_kind: str | None = None
    # An error after a stream started (the in-stream error event was sent); set by executors.
    stream_error: GatewayError | None = None
    context: RequestContext = field(default_factory=RequestContext)
    on_finish: Callable[[RequestRecord], None] | None = None
    done: bool = False
    # Why the model stopped, in the upstream's own words ("end_turn", "stop", "tool_calls", …);
    # None when the answer did not say (set by executors where they set usage).
    stop_reason: str | None = None
    # Wall-clock time and latency when the record was finished (None while in flight).
    finished_at: float | None = None
    final_latency_ms: float | None = None

    def mark_first_byte(self) -> None:
        if self.first_byte_ms is None:
            self.first_byte_ms = (time.perf_counter() - self.started) * 1000

    @property
    def latency_ms(self) -> float:
        """Milliseconds from start to finish (to now while the request is in flight)."""
        if self.final_latency_ms is not None:
            return self.final_latency_ms
        return (time.perf_counter() - self.started) * 1000

    def finish(self, status: int | None = None, error: GatewayError | None = None) -> None:
        """Close the record once: hand it to ``on_finish`` and log it. The pipeline's to call."""
        if self.done:
            return
        self.done = True
        self.final_latency_ms = (time.perf_counter() - self.started) * 1000
        self.finished_at = time.time()
        if status is not None:
            self.status = status
        if error is not None:
            self.error = f"{error.kind}: {error.message}"
            self.error_kind = error.kind
            self.status = self.status if self.status >= 400 else error.status
        if self.on_finish is not None:
            try:
                self.on_finish(self)
            except Exception:  # telemetry must never break serving
                log.exception("recording request %s failed", self.request_id)
        level = logging.INFO if (self.error or self.status >= 400) else logging.DEBUG
        if not log.isEnabledFor(level):
            return
        u = self.usage
        log.log(
            level,
            "%s %s model=%s -> %s/%s%s status=%s ms=%.0f ttfb=%s in=%d cache_r=%d cache_w=%d out=%d%s",
            self.request_id,
            self.protocol,
            self.client_model,
            self.provider or "-",
            self.upstream_model or "-",
            " (translated)" if self.translated else "",
            self.status,
            self.latency_ms,
            f"{self.first_byte_ms:.0f}" if self.first_byte_ms is not None else "-",
            u.input_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.output_tokens,
            f" error={self.error}" if self.error else "",
        )
