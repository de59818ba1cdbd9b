"""``python -m stackbilt_gateway.daemon.cli``: the ``stackbilt-gw`` command.

Owns only the module entry point; the parser and every command are ``cli``'s.
"""

import sys

from . import main

sys.exit(main())
