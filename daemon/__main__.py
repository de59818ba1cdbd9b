"""``python -m stackbilt_gateway.daemon [--host H] [--port P]``: run the daemon in the foreground.

Owns only argument parsing and the config-error exit (code 2); everything else is
``server.serve_forever``. ``stackbilt-gw start`` launches this module in the background.
"""

from __future__ import annotations

import argparse
import sys

from .config_load import load_config
from .control.paths import resolve_paths
from .core.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stackbilt_gateway.daemon",
        description="Run the StackBilt LLM Gateway daemon in the foreground.",
    )
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", help="listen port (default 8787)")
    args = parser.parse_args(argv)
    try:
        config = load_config(cli={"host": args.host, "port": args.port})
    except ConfigError as exc:
        print(f"stackbilt-gw: configuration error: {exc}", file=sys.stderr)
        return 2

    from .server import serve_forever

    return serve_forever(config, resolve_paths())


if __name__ == "__main__":
    sys.exit(main())
