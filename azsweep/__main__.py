"""``python -m azsweep``: the same as the ``azsweep`` command."""

import sys

from azsweep.cli import main

sys.exit(main())
