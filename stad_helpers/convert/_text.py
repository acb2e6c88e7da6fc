"""Render big tables of numbers as JSON/CSV text with numpy, not a Python loop.

The full MultiSports has ~900k boxes; formatting them one `repr` at a time is
what makes the tutorial's scripts slow. Here each row is laid out in
fixed-width byte columns (a uint8 matrix, NUL where a field is shorter than its
column), and the NULs are dropped at the end: the text is exactly what Python's
own formatting prints, with no padding. Fields:

- `Lit`: the same text on every row;
- `Pick`: one of a few strings per row (e.g. the video name);
- `Int`: an integer, optionally zero-padded (`'%05d'`);
- `Repr`: `repr(float(x))` of float32 values, i.e. what `json.dumps` writes;
- `Fixed3`: `f'{x:.3f}'`.

`Repr` finds the shortest decimal that reads back as the same float64 with
integer arithmetic (`_shortest`); values it does not cover (0 < |x| < 1, huge,
nan) fall back to Python's `repr`. Tests compare all of it with Python's output.

Used in: 02_person_detector, 03_action_detector (through `det_anno` and `ava`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CHUNK = 1 << 17  # rows rendered at a time: bounds memory to ~tens of MB
_POW10 = 10 ** np.arange(19, dtype=np.int64)
_POW5 = 5 ** np.arange(17, dtype=np.int64)
_ZERO = ord("0")
_TABLE_MAX = 1 << 17  # ints below this are formatted by table look-up


class Field:
    """A column of the output: renders rows [start, stop) as an (n, width) matrix."""

    width: int

    def render(self, start: int, stop: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class Lit(Field):
    """The same text on every row."""

    def __init__(self, text: str | bytes):
        self.bytes = np.frombuffer(
            text.encode() if isinstance(text, str) else text, np.uint8)
        self.width = len(self.bytes)

    def render(self, start: int, stop: int) -> np.ndarray:
        return np.broadcast_to(self.bytes, (stop - start, self.width))


class Pick(Field):
    """`strings[index[row]]`, for a small table of strings."""

    def __init__(self, strings: Sequence[str], index: np.ndarray):
        self.table = _to_matrix([s.encode() for s in strings] or [b""])
        self.width = self.table.shape[1]
        self.index = np.asarray(index)

    def render(self, start: int, stop: int) -> np.ndarray:
        return self.table[self.index[start:stop]]


class Int(Field):
    """Integers in decimal; `zero_pad` digits at least (`'%05d'` for 5)."""

    def __init__(self, values: np.ndarray, zero_pad: int = 1):
        self.values = np.asarray(values, np.int64)
        self.zero_pad = zero_pad
        lo = int(self.values.min()) if len(self.values) else 0
        hi = int(self.values.max()) if len(self.values) else 0
        self.signed = lo < 0
        self.width = max(len(str(max(hi, -lo))), zero_pad) + self.signed
        # Small non-negative ranges (frames, labels, ids): look the text up.
        self.table = (_to_matrix([f"{i:0{zero_pad}d}".encode() for i in range(hi + 1)])
                      if lo >= 0 and hi < _TABLE_MAX else None)

    def render(self, start: int, stop: int) -> np.ndarray:
        v = self.values[start:stop]
        if self.table is not None:
            return self.table[v]
        digits = _digits(np.abs(v), self.width - self.signed, self.zero_pad)
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


class Repr(Field):
    """`repr(float(x))` of float32 values: what `json.dumps` writes for them."""

    def __init__(self, values: np.ndarray):
        self.values = np.ascontiguousarray(values, np.float32)

    def render(self, start: int, stop: int) -> np.ndarray:
        v = self.values[start:stop]
        bits = v.view(np.uint32)
        expo = ((bits >> 23) & 0xFF).astype(np.int64)
        # Covered: 1 <= |x| < 2**23, where x = k * 2**-q with 1 <= q <= 23; and 0.
        fast = (expo >= 127) & (expo <= 149)
        zero = (bits & 0x7FFFFFFF) == 0
        k = np.where(fast, (bits & 0x7FFFFF).astype(np.int64) | 0x800000, 1 << 23)
        q = np.where(fast, 150 - expo, 23)  # x = 1 where not covered
        places, c = _shortest(k, q, np.where(fast, np.abs(v), 1))
        places, c = np.where(zero, 0, places), np.where(zero, 0, c)  # '0.0', '-0.0'
        ipart = c // _POW10[places]
        # Columns only as wide as this chunk needs: less to copy and compact.
        int_width = len(str(int(ipart.max()))) if len(v) else 1
        frac_width = max(int(places.max()) if len(v) else 0, 1)
        parts = [_digits(ipart, int_width, 1), np.full((len(v), 1), ord("."), np.uint8),
                 _frac_digits(c - ipart * _POW10[places], places, frac_width)]
        negative = np.signbit(v)
        if negative.any():
            parts.insert(0, np.where(negative, ord("-"), 0).astype(np.uint8)[:, None])
        slow = ~(fast | zero)
        texts = []
        if slow.any():
            with np.errstate(invalid="ignore"):  # NaN payloads
                texts = [repr(x) for x in v[slow].astype(np.float64).tolist()]
            width = sum(p.shape[1] for p in parts)
            longest = max(len(t) for t in texts)
            if longest > width:
                parts.append(np.zeros((len(v), longest - width), np.uint8))
        out = np.concatenate(parts, axis=1)
        if texts:
            _overwrite(out, slow, texts)
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
def _shortest(k: np.ndarray, q: np.ndarray, x: np.ndarray):
    """Shortest round-tripping decimal of float64(x), x = k * 2**-q in [1, 2**23).

    Returns (P, C): x prints as C / 10**P with P decimal places. A candidate
    C = round(x * 10**P) reads back as x iff it lies within half a float64 ulp
    of x; in exact integers that is `dist * 2**30 <= 5**P` (x's ulp is
    2**(E-52), and E + q = 23 for a normalized float32). Round-tripping is
    monotone in P, and P = min(q, 16 - floor(log10 x)) always works (the exact
    value, or 17 significant digits), so a binary search finds the shortest.
    """
    # floor(log10 x): from the binary exponent, corrected by one comparison.
    e10 = ((23 - q) * 0.30102999566398120).astype(np.int64)
    e10 += x >= _POW10[e10 + 1]
    hi = np.minimum(q, 16 - e10)
    lo = np.full_like(hi, -1)  # P = -1 stands for "not enough digits"
    # Most measured values need all their digits: try one place less first.
    _, ok = _round(k, q, np.maximum(hi - 1, 0))
    ok &= hi >= 1
    lo = np.where(ok, lo, hi - 1)
    hi = np.where(ok, hi - 1, hi)
    active = np.flatnonzero(hi - lo > 1)
    while len(active):
        h, lo_a = hi[active], lo[active]
        mid = (lo_a + h) // 2
        _, ok = _round(k[active], q[active], np.maximum(mid, 0))
        ok &= mid >= 0
        hi[active] = np.where(ok, mid, h)
        lo[active] = np.where(ok, lo_a, mid)
        active = active[hi[active] - lo[active] > 1]
    c, _ = _round(k, q, hi)
    return hi, c


def _round(k: np.ndarray, q: np.ndarray, p: np.ndarray):
    """(C, ok): C = x * 10**p rounded half to even; ok: C / 10**p reads back as x.

    Needs p <= q (true for every P `_shortest` tries), so x * 10**p = a / 2**sh
    with sh >= 0.
    """
    pow5 = _POW5[p]
    a = k * pow5  # < 2**24 * 5**16 < 2**62
    sh = q - p
    c = a >> sh
    r2 = (a - (c << sh)) << 1  # twice the remainder, compared with 2**sh
    one = np.int64(1) << sh
    up = (r2 > one) | ((r2 == one) & (c & 1 == 1))
    c += up
    dist2 = np.where(up, (one << 1) - r2, r2)  # twice |C - x * 10**p| * 2**sh
    return c, (dist2 << 29) <= pow5


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


def _frac_digits(frac: np.ndarray, places: np.ndarray, width: int) -> np.ndarray:
    """`places` digits of `frac` (zero-padded, '0' when places == 0), left-aligned
    in `width` >= max(places) columns."""
    d = _digit_cols(frac * _POW10[np.maximum(width - places, 0)], width)
    keep = np.arange(width)[None, :] < np.maximum(places, 1)[:, None]
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
