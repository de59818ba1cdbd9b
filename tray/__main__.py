"""``python -m stackbilt_gateway.tray``: run the tray (same as ``stackbilt-gw-tray``)."""

from __future__ import annotations

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
