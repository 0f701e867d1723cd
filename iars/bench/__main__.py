"""``python -m iars.bench`` is ``iars-bench``."""
import sys

from iars.bench import main

sys.exit(main())
