"""Serve a request through the Claude Code CLI bridge (``claude-cli/<model>``).

The executor for providers whose spec names a bridge: the request is checked (text only, no
tools: ``bridge_prompt``), flattened into a system text and a prompt, and run by the user's own
``claude`` CLI (``upstream.cli_bridge``); its output lines become IR events
(``upstream.cli_events``) rendered in the client's protocol by the client wire's renderer, as
``translated`` renders a translated upstream stream. As there, the client's stream opens only
once the CLI started answering: a failure before that (no binary, a refused login, an API error,
a non-zero exit, a timeout) is an ordinary HTTP error in the client's shape, a failure after it
the protocol's in-stream error (``record.stream_error``). The child is closed — killed if still
running — when the answer ends or the client goes away. Usage comes from the CLI's final
``result`` line, else it is estimated from the text (marked ``estimated``). Never finishes the
record: the pipeline does.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

from ..core import jsonfast
from ..core.context import RequestRecord
from ..core.errors import GatewayError, UpstreamProtocolError
from ..core.ir import GatewayRequest, GatewayResponse, StreamError, StreamEvent, TextPart, Usage
from ..core.tokens import estimate_text_tokens
from ..upstream.cli_bridge import ClaudeCli, CliRun
from ..upstream.cli_events import CliDecoder
from ..upstream.targets import Target
from ..wires.base import SSE_HEADERS, ClientRenderer, StreamWriter
from .bridge_prompt import check_text_only, prompt_text, system_text
from .outcome import Outcome


async def _until_answer(run: CliRun, decoder: CliDecoder) -> list[StreamEvent]:
    """Read until the CLI starts answering (its events so far) or its output ends (``[]``)."""
    events: list[StreamEvent] = []
    while not decoder.started:
        line = await run.line()
        if line is None:
            return events
        events += decoder.feed(line)
        if decoder.result is not None:
            break
    run.answered = True
    return events


async def _rest(run: CliRun, decoder: CliDecoder) -> AsyncIterator[list[StreamEvent]]:
    """The events of the remaining lines, up to the ``result`` line or the end of the output."""
    while decoder.result is None:
        line = await run.line()
        if line is None:
            return
        events = decoder.feed(line)
        if events:
            yield events


async def _failure(run: CliRun, decoder: CliDecoder) -> GatewayError | None:
    """How the run ended: the ``result`` line's verdict, else the exit, else a missing answer."""
    if decoder.result is not None:
        return decoder.error
    failed = await run.exit_error()
    if failed is not None:
        return failed
    if not decoder.started:
        return UpstreamProtocolError("the claude CLI ended without an answer", provider="claude-cli")
    return None


def _usage(decoder: CliDecoder, system: str, prompt: str) -> Usage:
    found = decoder.usage
    if found is not None:
        return found
    return Usage(
        input_tokens=estimate_text_tokens(system) + estimate_text_tokens(prompt),
        output_tokens=estimate_text_tokens("".join(decoder.text)),
        estimated=True,
    )


async def bridge(
    cli: ClaudeCli,
    *,
    target: Target,
    request: GatewayRequest,
    renderer: ClientRenderer,
    record: RequestRecord,
) -> Outcome:
    name = f"{target.spec.name}/{target.model}"
    record.translated = True
    check_text_only(request, name)
    system, prompt = system_text(request), prompt_text(request, name)
    run = await cli.start(model=target.model, system=system, prompt=prompt)
    decoder = CliDecoder(message_id="msg_cli_" + secrets.token_hex(12), model=request.model)
    try:
        first = await _until_answer(run, decoder)
        if not decoder.started or decoder.result is not None:
            failed = await _failure(run, decoder)
            if failed is not None:
                record.status = failed.status
                raise failed
        record.mark_first_byte()
        record.status = 200
        if not request.stream:
            async for _ in _rest(run, decoder):
                pass
            failed = await _failure(run, decoder)
            if failed is not None:
                record.status = failed.status
                raise failed
    except BaseException:
        await run.close()
        raise
    if not request.stream:
        await run.close()
        usage = record.usage = _usage(decoder, system, prompt)
        record.stop_reason = decoder.stop_reason
        result = GatewayResponse(
            id=decoder.message_id,
            model=request.model,
            parts=[TextPart("".join(decoder.text))],
            stop_reason=decoder.stop(),
            usage=usage,
        )
        out = jsonfast.dumps(renderer.response(result, request))
        return Outcome(200, [("content-type", "application/json")], body=out)
    writer = renderer.stream(request)
    stream = _stream(run, decoder, first, writer, record, (system, prompt))
    return Outcome(200, list(SSE_HEADERS), stream=stream)


def _render(writer: StreamWriter, events: list[StreamEvent]) -> bytes:
    return b"".join(writer.render(ev) for ev in events)


async def _stream(
    run: CliRun,
    decoder: CliDecoder,
    first: list[StreamEvent],
    writer: StreamWriter,
    record: RequestRecord,
    texts: tuple[str, str],
) -> AsyncIterator[bytes]:
    error: GatewayError | None = None
    try:
        yield _render(writer, first)
        async for events in _rest(run, decoder):
            yield _render(writer, events)
        error = await _failure(run, decoder)
        if error is None:
            usage = record.usage = _usage(decoder, *texts)
            record.stop_reason = decoder.stop_reason
            yield _render(writer, decoder.finish(usage)) + writer.close()
    except GatewayError as exc:
        error = exc
    finally:
        await run.close()
    if error is not None:
        record.stream_error = error
        yield writer.render(StreamError(error))
