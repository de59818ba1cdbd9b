"""Simulated LLM providers for tests, the benchmark and ``stackbilt-gw demo``.

Owns the one fake upstream (``upstream.FakeUpstream``: an ASGI app speaking Anthropic Messages,
Chat Completions and Responses, streaming or not, driven by a script such as ``markers`` for
tests or ``agent`` for the demo), the raw-asyncio transport the benchmark serves the same wire
frames over (``fast``), and the helper that runs any ASGI app under Hypercorn in a thread on a
free loopback port (``threaded``). Never imported by the daemon's request path; it reaches the
daemon only through what it is handed.
"""
