"""Upstream providers: their descriptions (data), the shared HTTP client, wire-format codecs."""
