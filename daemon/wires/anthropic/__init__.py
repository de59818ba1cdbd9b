"""The Anthropic Messages wire: client side, upstream side, pass-through edits and usage tap."""
