"""``python -m tinymask``: the command line (see tinymask/cli.py)."""

import sys

from .cli import main

sys.exit(main())
