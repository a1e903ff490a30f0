"""``python -m loadtest``: the load generator's command line (``loadtest.cli``)."""

import sys

from loadtest.cli import main

sys.exit(main())
