"""Render the AVA CSV's numbers as text with numpy, not a Python loop.

The full MultiSports has ~900k boxes; formatting them one at a time is what
makes the tutorial's `parse_anno.py` slow, and Python's own `'%.3f'` over the
whole table is still too slow for the 5x target (benchmarks/README.md, "Is
`_text.py` needed?"; det-anno reaches its target with orjson and no longer uses
this module). Here each row is laid out in fixed-width byte columns (a uint8
matrix, NUL where a field is shorter than its column), and the NULs are dropped
at the end: the text is exactly what Python's own formatting prints, with no
padding. Fields:

- `Lit`: the same text on every row;
- `Pick`: one of a few strings per row (e.g. the video name);
- `Int`: an integer;
- `Fixed3`: `f'{x:.3f}'`.

Tests compare all of it with Python's output.

Used in: 03_action_detector (through `ava`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CHUNK = 1 << 17  # rows rendered at a time: bounds memory to ~tens of MB
_POW10 = 10 ** np.arange(19, dtype=np.int64)
_ZERO = ord("0")
_TABLE_MAX = 1 << 17  # ints below this are formatted by table look-up


class Field:
    """A column of the output: renders rows [start, stop) as an (n, width) matrix."""

    width: int

    def render(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover
        """Rows [start, stop) of this column; subclasses implement it.

        Returns:
            A `(stop - start, self.width)` uint8 matrix of ASCII codes, NUL-padded
            on the right where a row's text is shorter than the column.
        """
        raise NotImplementedError


class Lit(Field):
    """The same text on every row."""

    def __init__(self, text: str | bytes):
        self.bytes = np.frombuffer(
            text.encode() if isinstance(text, str) else text, np.uint8)
        self.width = len(self.bytes)

    def render(self, start: int, stop: int) -> np.ndarray:
        """The literal, on each of rows [start, stop).

        Returns:
            A `(stop - start, self.width)` uint8 matrix of ASCII codes, NUL-padded
            on the right where a row's text is shorter than the column.
        """
        return np.broadcast_to(self.bytes, (stop - start, self.width))


class Pick(Field):
    """`strings[index[row]]`, for a small table of strings."""

    def __init__(self, strings: Sequence[str], index: np.ndarray):
        self.table = _to_matrix([s.encode() for s in strings] or [b""])
        self.width = self.table.shape[1]
        self.index = np.asarray(index)

    def render(self, start: int, stop: int) -> np.ndarray:
        """`strings[index[row]]` for rows [start, stop).

        Returns:
            A `(stop - start, self.width)` uint8 matrix of ASCII codes, NUL-padded
            on the right where a row's text is shorter than the column.
        """
        return self.table[self.index[start:stop]]


class Int(Field):
    """Integers in decimal (`'%d'`)."""

    def __init__(self, values: np.ndarray):
        self.values = np.asarray(values, np.int64)
        lo = int(self.values.min()) if len(self.values) else 0
        hi = int(self.values.max()) if len(self.values) else 0
        self.signed = lo < 0
        self.width = len(str(max(hi, -lo))) + self.signed
        # Small non-negative ranges (frames, labels, ids): look the text up.
        self.table = (_to_matrix([str(i).encode() for i in range(hi + 1)])
                      if lo >= 0 and hi < _TABLE_MAX else None)

    def render(self, start: int, stop: int) -> np.ndarray:
        """The integers of rows [start, stop) in decimal (`'%d'`).

        Returns:
            A `(stop - start, self.width)` uint8 matrix of ASCII codes, NUL-padded
            on the right where a row's text is shorter than the column.
        """
        v = self.values[start:stop]
        if self.table is not None:
            return self.table[v]
        digits = _digits(np.abs(v), self.width - self.signed, 1)
        if not self.signed:
            return digits
        sign = np.where(v < 0, ord("-"), 0).astype(np.uint8)[:, None]
        return np.concatenate([sign, digits], axis=1)


class Fixed3(Field):
    """`f'{x:.3f}'` of float64 values holding float32 values exactly; rows where
    `exact` is False (other values) are formatted by Python."""

    def __init__(self, values: np.ndarray, exact: np.ndarray | None = None):
        self.values = np.asarray(values, np.float64)
        self.exact = None if exact is None else np.asarray(exact, bool)
        finite = np.isfinite(self.values)
        # A float32 times 1000 is exact in float64, so rint (half to even, on the
        # exact value) gives the digits Python's '.3f' prints.
        scaled = np.abs(np.where(finite, self.values, 0)) * 1000
        self.n = np.rint(scaled).astype(np.int64)
        big = int(self.n.max()) if len(self.n) else 0
        self.negative = bool(np.signbit(self.values).any())
        self.width = len(f"{big // 1000}.000") + self.negative
        if not finite.all() or (self.exact is not None and not self.exact.all()):
            self.width = max(self.width, 1 + max(len(f"{x:.3f}") for x in
                                                 self.values[~finite | ~self._exact()]))
        self.table = (_to_matrix([f"{i // 1000}.{i % 1000:03d}".encode()
                                  for i in range(big + 1)])
                      if big < _TABLE_MAX else None)

    def _exact(self) -> np.ndarray:
        return np.ones(len(self.values), bool) if self.exact is None else self.exact

    def render(self, start: int, stop: int) -> np.ndarray:
        """The values of rows [start, stop) as `f'{x:.3f}'`.

        Returns:
            A `(stop - start, self.width)` uint8 matrix of ASCII codes, NUL-padded
            on the right where a row's text is shorter than the column.
        """
        v, n = self.values[start:stop], self.n[start:stop]
        if self.table is not None:
            text = self.table[n]
        else:
            dot = np.full((len(v), 1), ord("."), np.uint8)
            text = np.concatenate([_digits(n // 1000, len(str(n.max() // 1000)), 1),
                                   dot, _digits(n % 1000, 3, 3)], axis=1)
        sign = np.where(np.signbit(v), ord("-"), 0).astype(np.uint8)[:, None]
        out = np.zeros((len(v), self.width), np.uint8)
        out[:, :1] = sign if self.negative else 0
        out[:, self.negative:self.negative + text.shape[1]] = text
        slow = ~np.isfinite(v) | ~self._exact()[start:stop]
        if slow.any():
            _overwrite(out, slow, [f"{x:.3f}" for x in v[slow].tolist()])
        return out


def render(n: int, fields: Sequence[Field], chunk: int = CHUNK) -> list[bytes]:
    """The text of `n` rows, each the concatenation of `fields`, NUL padding dropped.

    Returned as a list of byte strings (one per chunk of rows) to write one after
    the other, so the whole text is never copied into one string. Chunks render
    in threads: numpy releases the GIL for this work.
    """

    def one(start: int) -> bytes:
        stop = min(n, start + chunk)
        mat = np.concatenate([f.render(start, stop) for f in fields], axis=1)
        return mat[mat != 0].tobytes()

    starts = range(0, n, chunk)
    workers = min(len(starts), os.cpu_count() or 1)
    if workers <= 1:
        return [one(s) for s in starts]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, starts))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _digit_cols(values: np.ndarray, width: int) -> np.ndarray:
    """The last `width` decimal digits of non-negative ints, as an (n, width) uint8.

    Works in 8-digit uint32 groups with scalar divisors: several times faster
    than dividing int64 by a row of powers of ten.
    """
    v = np.asarray(values, np.int64)
    out = np.empty((len(v), width), np.uint8)
    ten = np.uint32(10)
    stop = width
    while stop > 0:
        group = (v % 100_000_000).astype(np.uint32)
        v = v // 100_000_000
        for j in range(stop - 1, max(stop - 8, 0) - 1, -1):
            q = group // ten
            out[:, j] = group - q * ten
            group = q
        stop -= 8
    return out


def _digits(values: np.ndarray, width: int, min_digits: int) -> np.ndarray:
    """Non-negative ints right-aligned in `width` columns, NUL before the number."""
    v = np.asarray(values, np.int64)
    d = _digit_cols(v, width)
    length = np.full(len(v), max(min_digits, 1), np.int64)
    for i in range(min_digits, width):
        length += v >= _POW10[i]
    keep = np.arange(width)[None, :] >= (width - length)[:, None]
    return np.where(keep, d + np.uint8(_ZERO), np.uint8(0))


def _to_matrix(encoded: Sequence[bytes]) -> np.ndarray:
    width = max(1, max(len(b) for b in encoded))
    arr = np.array(encoded, dtype=f"S{width}")
    return arr.view(np.uint8).reshape(len(encoded), width)


def _overwrite(out: np.ndarray, rows: np.ndarray, texts: list[str]) -> None:
    """Put Python-formatted `texts` into the `rows` of a field matrix."""
    mat = _to_matrix([t.encode() for t in texts])
    if mat.shape[1] > out.shape[1]:
        raise ValueError(f"value too long for its column: {max(texts, key=len)!r}")
    out[rows] = 0
    out[np.flatnonzero(rows)[:, None], np.arange(mat.shape[1])[None, :]] = mat
