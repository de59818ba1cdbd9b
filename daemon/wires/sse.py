"""Incremental Server-Sent Events parser.

Fed raw byte chunks as they arrive (any split, CRLF/LF/CR line ends, multi-line ``data``,
``:`` comment lines such as OpenRouter's keep-alives); yields complete events. Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str


class SSEParser:
    """Split a byte stream into events. ``max_event_bytes`` bounds memory for a hostile peer."""

    __slots__ = ("_buf", "_data", "_event", "max_event_bytes")

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = b""
        self._event: str | None = None
        self._data: list[str] = []
        self.max_event_bytes = max_event_bytes

    @property
    def at_boundary(self) -> bool:
        """True when no partial line or undispatched event is buffered."""
        return not self._buf and not self._data

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if (
            not self._buf
            and not self._data
            and chunk.startswith(b"data: ")
            and chunk.endswith(b"\n\n")
            and chunk.count(b"\n") == 2
            and b"\r" not in chunk
        ):
            # One whole event with a single data line, the usual shape of a chunk: the same
            # event the general path below would build, without splitting lines.
            event = SSEEvent(self._event, chunk[6:-2].decode("utf-8", errors="replace"))
            self._event = None
            return [event]
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # CRLF and lone CR end lines too: fold them to LF. A CR at the very end may be
            # the first half of a CRLF, so it waits for the next chunk.
            held = buf.endswith(b"\r")
            buf = (buf[:-1] if held else buf).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                buf += b"\r"
        out: list[SSEEvent] = []
        last = buf.rfind(b"\n")
        if last >= 0:
            # Complete lines split at C speed; the partial last line stays buffered. Blank
            # and ``data:`` lines (nearly all of a stream) are handled inline.
            data = self._data
            for line in buf[:last].split(b"\n"):
                if not line:
                    if data:
                        out.append(SSEEvent(self._event, "\n".join(data)))
                        data = self._data = []
                    self._event = None
                elif line.startswith(b"data:"):
                    value = line[6:] if line[5:6] == b" " else line[5:]
                    data.append(value.decode("utf-8", errors="replace"))
                else:
                    self._line(line, out)
                    data = self._data
            buf = buf[last + 1 :]
        self._buf = buf
        if len(buf) > self.max_event_bytes:
            raise ValueError("SSE line exceeds the size limit")
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line still counts."""
        out: list[SSEEvent] = []
        if self._buf:
            self._line(self._buf, out)
            self._buf = b""
        self._dispatch(out)
        return out

    def _line(self, raw: bytes, out: list[SSEEvent]) -> None:
        if not raw:
            self._dispatch(out)
            return
        if raw[:1] == b":":
            return
        line = raw.decode("utf-8", errors="replace")
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value

    def _dispatch(self, out: list[SSEEvent]) -> None:
        if self._data:
            out.append(SSEEvent(self._event, "\n".join(self._data)))
        self._data = []
        self._event = None


class BlockScanner:
    """Splits a byte stream into raw event blocks with C-speed searches, parsing nothing.

    For observers (usage taps) that care about a few events of a long stream: they test each
    raw block cheaply and hand only the interesting ones to ``SSEParser``. CRLF and CR line ends
    are folded to LF first (a trailing CR waits for the next chunk: it may start a CRLF).
    """

    __slots__ = ("_buf", "max_event_bytes")

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self.max_event_bytes = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf
        buf += chunk
        if b"\r" in buf:
            held = buf.endswith(b"\r")
            folded = bytes(buf[:-1] if held else buf).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            buf[:] = folded + (b"\r" if held else b"")
        out, start = [], 0
        while (end := buf.find(b"\n\n", start)) >= 0:
            out.append(bytes(buf[start:end]))
            start = end + 2
        del buf[:start]
        if len(buf) > self.max_event_bytes:
            raise ValueError("SSE event exceeds the size limit")
        return out

    def flush(self) -> list[bytes]:
        rest = bytes(self._buf).strip()
        self._buf.clear()
        return [rest] if rest else []
