"""Incremental Server-Sent Events parser.

Fed raw byte chunks as they arrive (any split, CRLF/LF/CR line ends, multi-line ``data``,
``:`` comment lines such as OpenRouter's keep-alives); yields complete events. One line or event
past ``max_event_bytes`` (default ``core.config.MAX_SSE_EVENT_BYTES``) raises ``SSETooLarge``: a
hostile peer never makes it buffer more. Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.config import MAX_SSE_EVENT_BYTES


class SSETooLarge(ValueError):
    """One SSE line or event is larger than the parser's ``max_event_bytes``."""


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str


class SSEParser:
    """Split a byte stream into events. ``max_event_bytes`` bounds memory for a hostile peer."""

    __slots__ = ("_buf", "_data", "_event", "_more", "_more_bytes", "_open_bytes", "max_event_bytes")

    def __init__(self, max_event_bytes: int = MAX_SSE_EVENT_BYTES) -> None:
        self._buf = b""
        # Later pieces of a long partial line (after ``_buf``), joined once the line ends.
        self._more: list[bytes] = []
        self._more_bytes = 0
        self._event: str | None = None
        self._data: list[str] = []
        # Bytes fed while an event stayed open (an upper bound on its size: one counter per chunk).
        self._open_bytes = 0
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
        if self._buf and b"\n" not in chunk and b"\r" not in chunk and not self._buf.endswith(b"\r"):
            # The middle of a long line: keep the piece (joining at every chunk is quadratic).
            self._more.append(chunk)
            self._more_bytes += len(chunk)
            if len(self._buf) + self._more_bytes + self._open_bytes > self.max_event_bytes:
                raise SSETooLarge("SSE line exceeds the size limit")
            return []
        if self._more:
            self._join()
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
            raise SSETooLarge("SSE line exceeds the size limit")
        if self._data:
            self._open_bytes += len(chunk)
            if self._open_bytes > self.max_event_bytes:
                raise SSETooLarge("SSE event exceeds the size limit")
        elif self._open_bytes:
            self._open_bytes = 0
        return out

    def _join(self) -> None:
        self._buf = b"".join((self._buf, *self._more))
        self._more = []
        self._more_bytes = 0

    def flush(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line still counts."""
        if self._more:
            self._join()
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

    __slots__ = ("_buf", "_cr", "max_event_bytes")

    def __init__(self, max_event_bytes: int = MAX_SSE_EVENT_BYTES) -> None:
        self._buf = bytearray()
        self._cr = False  # the last chunk ended with a CR (folded with what comes next)
        self.max_event_bytes = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if b"\r" in chunk:
            self._cr = chunk.endswith(b"\r")
            chunk = (chunk[:-1] if self._cr else chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf
        # Only the new bytes (and the one before them) can hold a boundary not yet found.
        pos = len(buf) - 1 if buf else 0
        buf += chunk
        out, start = [], 0
        while (end := buf.find(b"\n\n", pos)) >= 0:
            out.append(bytes(buf[start:end]))
            start = pos = end + 2
        del buf[:start]
        if len(buf) > self.max_event_bytes:
            raise SSETooLarge("SSE event exceeds the size limit")
        return out

    def flush(self) -> list[bytes]:
        rest = bytes(self._buf).strip()
        self._buf.clear()
        self._cr = False
        return [rest] if rest else []
