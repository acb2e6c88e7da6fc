"""The one exception type for errors a user can cause (bad files, missing videos).

The CLI prints a `StadError` in one line and exits non-zero; anything else is a
bug of ours and keeps its traceback.
"""

from __future__ import annotations

import os


class StadError(Exception):
    """A user-facing error that names the file and the place of the problem.

    Raised for anything a user's input can cause (a missing or malformed file, an
    out-of-range option); the CLI prints `str(error)` in one line and exits 1.

    Args:
        message: What is wrong and where inside the file (`"video 'a/b', label
            4, tube 2: x1 >= x2 at frame 17"`), ideally with what to do.
        path: The file or folder concerned; the message is then prefixed with
            `"<path>: "` and the path kept in `.path` (None otherwise).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
