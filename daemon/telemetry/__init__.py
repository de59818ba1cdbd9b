"""Telemetry: one typed event per request, written to SQLite by a single writer thread and read
back by the query helpers behind /metrics, /events/recent, /shadow/stats and ``stats``."""

from .events import FallbackAttempt, GatewayRequestEvent, cache_status, new_event_id
from .redact import redact
from .store import db_path
from .writer import EventWriter

__all__ = [
    "EventWriter",
    "FallbackAttempt",
    "GatewayRequestEvent",
    "cache_status",
    "db_path",
    "new_event_id",
    "redact",
]
