"""The SSE parser and block scanner: any chunking, any line ending, same events."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.wires.sse import BlockScanner, SSEEvent, SSEParser

_TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)
_EVENTS = st.lists(
    st.tuples(st.none() | _TEXT.filter(bool), st.lists(_TEXT, min_size=1, max_size=3)), max_size=6
)
_EOL = st.sampled_from(["\n", "\r\n", "\r"])


def _encode(events: list[tuple[str | None, list[str]]], eol: str, comment: bool) -> bytes:
    out = []
    for name, lines in events:
        if comment:
            out.append(": keep-alive" + eol)
        if name is not None:
            out.append(f"event: {name}{eol}")
        out += [f"data: {line}{eol}" for line in lines]
        out.append(eol)
    return "".join(out).encode()


def _chunks(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    edges = [0, *points, len(raw)]
    return [raw[a:b] for a, b in pairwise(edges)]


@settings(max_examples=300, deadline=None)
@given(_EVENTS, _EOL, st.booleans(), st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_any_chunking_and_line_ending_gives_the_same_events(
    events: list[tuple[str | None, list[str]]], eol: str, comment: bool, cuts: list[int]
) -> None:
    raw = _encode(events, eol, comment)
    parser = SSEParser()
    got: list[SSEEvent] = []
    for chunk in _chunks(raw, cuts):
        got += parser.feed(chunk)
    got += parser.flush()
    assert got == [SSEEvent(name, "\n".join(lines)) for name, lines in events]
    assert parser.at_boundary

    scanner = BlockScanner()
    blocks: list[bytes] = []
    for chunk in _chunks(raw, cuts):
        blocks += scanner.feed(chunk)
    blocks += scanner.flush()
    assert len(blocks) == len(events)


@settings(max_examples=300, deadline=None)
@given(_EVENTS, _EOL, st.booleans())
def test_one_event_per_chunk_gives_the_same_events(
    events: list[tuple[str | None, list[str]]], eol: str, split_name: bool
) -> None:
    """Upstreams usually send one whole event per chunk: the parser's shortcut for that shape
    must agree with the general path, event names carried in an earlier chunk included."""
    parser = SSEParser()
    got: list[SSEEvent] = []
    for name, lines in events:
        raw = _encode([(name, lines)], eol, comment=False)
        if split_name and name is not None:
            head = f"event: {name}{eol}".encode()
            got += parser.feed(head)
            raw = raw[len(head) :]
        got += parser.feed(raw)
    got += parser.flush()  # a trailing lone CR waits for the next chunk: it may start a CRLF
    assert got == [SSEEvent(name, "\n".join(lines)) for name, lines in events]
    assert parser.at_boundary


def test_a_final_event_without_its_blank_line_is_flushed_and_a_long_line_is_refused() -> None:
    parser = SSEParser(max_event_bytes=64)
    assert parser.feed(b"event: a\ndata: 1\n\ndata: tail") == [SSEEvent("a", "1")]
    assert parser.flush() == [SSEEvent(None, "tail")]
    try:
        parser.feed(b"data: " + b"x" * 100)
    except ValueError as exc:
        assert "size limit" in str(exc)
    else:
        raise AssertionError("an over-long line was buffered")
