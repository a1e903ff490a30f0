"""``python -m hub.cluster gateway|worker CONFIG``: started by the supervisor only."""

import sys

from hub.cluster.processes import main

raise SystemExit(main(sys.argv[1:]))
