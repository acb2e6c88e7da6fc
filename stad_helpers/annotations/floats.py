"""Coordinates as text that reads back exactly: what the exporters write.

Every exporter writes each float32 coordinate as its shortest exact text, so an
exported GT imported back is the same GT, bit for bit.

Used in: 05_your_own_data (through the exporters).
"""

from __future__ import annotations

import numpy as np


def fmt_float(value: float) -> str:
    """Shortest text that reads back as the same float32 (exact round trips)."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def fmt_floats(values: np.ndarray) -> np.ndarray:
    """`fmt_float` of every value (same shape, str); fast for 2-decimal values."""
    v32 = np.asarray(values, np.float32)
    flat = v32.ravel()
    texts = [f"{x:.2f}".rstrip("0").rstrip(".")
             for x in flat.astype(np.float64).tolist()]
    back = np.array([float(t) for t in texts], np.float64).astype(np.float32)
    for i in np.flatnonzero(back != flat):
        texts[i] = fmt_float(flat[i])
    return np.array(texts, dtype=object).reshape(v32.shape)
