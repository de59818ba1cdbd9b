"""The one registry of wires: protocol name → ``Wire``.

Everything keyed by a protocol — parsing a client request, rendering for a client, relaying a
same-protocol upstream, translating into another protocol — looks the wire up here. A new wire
(e.g. Gemini) is a new package under ``wires/`` with a ``wire.py``, plus one line below.
"""

from __future__ import annotations

from ..core.providers import ProviderSpec
from .anthropic.wire import WIRE as ANTHROPIC
from .base import UpstreamCodec, Wire
from .chat.wire import WIRE as CHAT
from .gemini.wire import WIRE as GEMINI
from .gemini.wire import route as gemini_route
from .responses.wire import WIRE as RESPONSES

WIRES: dict[str, Wire] = {w.name: w for w in (ANTHROPIC, CHAT, RESPONSES, GEMINI)}
# Wires the gateway can translate into (they have an upstream codec).
TRANSLATABLE: tuple[str, ...] = tuple(name for name, w in WIRES.items() if w.codec is not None)


def translation_wire(spec: ProviderSpec) -> tuple[Wire, UpstreamCodec]:
    """The wire a request from another protocol is translated into for ``spec`` (its
    ``translate_wire`` when set, else its first translatable one, in the provider's order of
    preference) and that wire's codec."""
    chosen = WIRES.get(spec.translate_wire) if spec.translate_wire else None
    if chosen is not None and chosen.codec is not None:
        return chosen, chosen.codec
    for name in spec.wires:
        wire = WIRES.get(name)
        if wire is not None and wire.codec is not None:
            return wire, wire.codec
    raise ValueError(f"provider {spec.name} speaks no wire the gateway can translate into")


def upstream_route(wire: Wire, model: str, *, stream: bool) -> tuple[str, str]:
    """(path, query) of a translated call: the wire's fixed path, or Gemini's per-model method."""
    if wire.name == GEMINI.name:
        return gemini_route(model, stream=stream)
    return wire.upstream_path, ""
