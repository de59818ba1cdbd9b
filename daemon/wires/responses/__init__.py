"""The OpenAI Responses wire: client side (Codex) and usage tap."""
