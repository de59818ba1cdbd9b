"""Reaching upstream providers: the one HTTP client, model-name resolution to targets, credentials."""
