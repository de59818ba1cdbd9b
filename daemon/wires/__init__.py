"""One package per wire protocol (``anthropic``, ``chat``, ``responses``), the same module names in
each, shared wire helpers beside them and one registry of wires."""
