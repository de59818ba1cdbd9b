"""Telemetry's name for the shared secret redaction that ``storage.redact`` owns (the patterns
live there): ``telemetry.redact`` and ``telemetry.redact.redact`` keep working for their
importers. The package imports ``redact`` through this module, so importing the submodule never
shadows the function on the package. Nothing else here."""

from __future__ import annotations

from ..storage.redact import MASK, redact

__all__ = ["MASK", "redact"]
