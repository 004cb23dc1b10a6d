"""`python -m volt.cli`."""

import sys

from volt.cli import main

sys.exit(main())
