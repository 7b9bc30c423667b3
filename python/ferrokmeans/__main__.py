"""``python -m ferrokmeans``: the colour-quantisation demo in :mod:`ferrokmeans._demo`."""

import sys

from ferrokmeans._demo import main

if __name__ == "__main__":
    sys.exit(main())
