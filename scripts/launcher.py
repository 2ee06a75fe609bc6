"""Entry point of the frozen app: the same `artfactory` command, GUI or CLI."""

import sys

from artfactory.cli import main

if __name__ == "__main__":
    sys.exit(main())
