"""``python -m stackbilt_gateway.daemon.cli``: the ``stackbilt-gw`` command."""

import sys

from . import main

sys.exit(main())
