"""`python -m femto`: the `femto` command."""

import sys

from femto.cli import main

sys.exit(main())
