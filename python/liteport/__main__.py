"""`python -m liteport ...` is the `liteport` command."""
import sys

from .cli import main

sys.exit(main())
