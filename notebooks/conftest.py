"""nbval settings for executing the notebooks (`pytest notebooks/`).

nbval waits only 5 s for a cell's outputs to arrive once the kernel reports the
cell done (hard-coded in `IPyNbCell`); on a loaded 2-core machine a training cell's
last outputs (progress bars, log lines of worker processes) can lag longer, and
the cell then fails although it ran. Allow them `OUTPUT_TIMEOUT` seconds; the cell
execution limit itself stays `--nbval-cell-timeout` (pyproject.toml).
"""

from __future__ import annotations

OUTPUT_TIMEOUT = 120  # seconds


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's notebook cells
            item.output_timeout = max(item.output_timeout, OUTPUT_TIMEOUT)
