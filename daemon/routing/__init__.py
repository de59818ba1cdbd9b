"""Routing: which provider and model serve a request."""
