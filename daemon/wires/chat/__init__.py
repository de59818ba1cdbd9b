"""The OpenAI Chat Completions wire: client side, upstream side and usage tap."""
