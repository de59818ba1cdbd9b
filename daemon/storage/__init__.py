"""Local storage helpers shared by telemetry and the response cache: opening a SQLite database
with the gateway's settings and applying ordered, named migrations (``sqlite``), and the secret
redaction applied to anything written to disk or kept in a cache (``redact``). Owns no schema
and no file names: each store brings its own."""
