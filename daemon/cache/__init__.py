"""Cache discipline: prompt-cache hints for upstreams (``prefix``) and the exact-match response
cache (``policy`` decides what may be cached and under which key, ``store`` keeps entries in
SQLite, ``replay`` turns responses into cache entries and entries back into client responses).
See docs/caching.md."""
