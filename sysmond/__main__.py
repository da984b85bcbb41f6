"""`python -m sysmond` is the `sysmond` command."""

import sys

from sysmond.cli import main

sys.exit(main())
