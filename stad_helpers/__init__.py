"""stad-tutorial helpers: the code that the tutorial notebooks and the `stad` CLI call.

Importing the package installs the upstream compatibility fixes
(`stad_helpers.compat`); everything heavy (torch, mmdet, mmaction2) is imported
only by the modules that need it.
"""

from . import compat
from .errors import StadError

__version__ = "0.1.0"
__all__ = ["StadError", "__version__", "compat"]

compat.apply()
