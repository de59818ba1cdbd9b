"""Shipped data files (providers, prices, model capabilities), read through importlib.resources."""
