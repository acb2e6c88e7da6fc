"""The one exception type for errors a user can cause (bad files, missing videos).

The CLI prints a `StadError` in one line and exits non-zero; anything else is a
bug of ours and keeps its traceback.
"""

from __future__ import annotations

import os


class StadError(Exception):
    """A user-facing error that names the file and the place of the problem."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
