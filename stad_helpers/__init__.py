"""stad-tutorial helpers: the code that the tutorial notebooks and the `stad` CLI call.

Importing the package installs the upstream compatibility fixes
(`stad_helpers.compat`); everything heavy (torch, mmdet, mmaction2) is imported
only by the modules that need it.
"""

import os

# Idle OpenMP threads spin by default; on a busy CPU that made a training
# iteration 6-9x slower. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import compat  # noqa: E402
from .errors import StadError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["StadError", "__version__", "compat"]

compat.apply()
