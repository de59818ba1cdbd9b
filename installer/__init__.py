"""Per-OS installation and login start-up registration."""
