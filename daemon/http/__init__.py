"""The HTTP surface: the app factory, request guards and thin protocol blueprints."""
