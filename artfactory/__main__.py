"""`python -m artfactory`: the same entry point as the `artfactory` command."""

import sys

from artfactory.cli import main

if __name__ == "__main__":
    sys.exit(main())
