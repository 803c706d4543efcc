"""``python -m atgen_core`` runs the CLI."""

import sys

from atgen_core.cli import main

sys.exit(main())
