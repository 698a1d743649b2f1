"""``python -m gr_colab.synthesis``: see :mod:`gr_colab.synthesis.cli`."""
import sys

from .cli import main

sys.exit(main())
