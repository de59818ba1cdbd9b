"""StackBilt LLM Gateway daemon: the HTTP gateway, its routing, providers and storage.

Owns everything that runs inside the background process. The tray and the dashboard window
talk to it only over its loopback HTTP API.
"""

__version__ = "0.1.0"
