"""Write pickles the way Python 2 (cPickle, protocol 2) and its numpy wrote them.

The ACT-format ground truths of UCF101-24 and JHMDB (`UCF101v2-GT.pkl`,
`JHMDB-GT.pkl`, https://github.com/vkalogeiton/caffe/tree/act-detector) were
written by Python 2: every `str` is a byte string (opcode SHORT_BINSTRING 'U' /
BINSTRING 'T', no encoding), and numpy arrays are
`numpy.core.multiarray._reconstruct(ndarray, (0,), 'b')` followed by BUILD with
`(1, shape, dtype, is_fortran, raw bytes as a py2 str)`; dtypes are
`numpy.dtype('f4', 0, 1)` + BUILD `(3, '<', None, None, None, -1, -1, 0)`
(numpy's `array_reduce` / `arraydescr_reduce` under Python 2). Python 3 reads
them only with `encoding='latin1'`.

`dumps_py2` assembles those opcodes by hand for plain data (dict, list, tuple,
int, float, None, bool, str as a py2 byte string, numpy arrays), so the tests
check the loader against the bytes Python 2 wrote, not against what Python 3
writes.
"""

from __future__ import annotations

import struct

import numpy as np


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")
        self.memo = 0

    def put(self) -> None:  # BINPUT, as cPickle memoized every object
        if self.memo < 256:
            self.out += b"q" + bytes([self.memo])
        else:
            self.out += b"r" + struct.pack("<I", self.memo)
        self.memo += 1

    def global_(self, module: str, name: str) -> None:
        self.out += b"c" + f"{module}\n{name}\n".encode()
        self.put()

    def py2_str(self, data: bytes) -> None:
        if len(data) < 256:
            self.out += b"U" + bytes([len(data)]) + data
        else:
            self.out += b"T" + struct.pack("<i", len(data)) + data
        self.put()

    def int_(self, value: int) -> None:
        if 0 <= value < 256:
            self.out += b"K" + bytes([value])
        elif 0 <= value < 65536:
            self.out += b"M" + struct.pack("<H", value)
        else:
            self.out += b"J" + struct.pack("<i", value)

    def save(self, obj) -> None:  # noqa: C901 - one branch per type, as pickle's
        out = self.out
        if obj is None:
            out += b"N"
        elif obj is True or obj is False:
            out += b"\x88" if obj else b"\x89"
        elif isinstance(obj, int):
            self.int_(obj)
        elif isinstance(obj, float):
            out += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            self.py2_str(obj.encode("latin1"))
        elif isinstance(obj, bytes):
            self.py2_str(obj)
        elif isinstance(obj, tuple):
            if len(obj) == 0:
                out += b")"
            elif len(obj) <= 3:
                for x in obj:
                    self.save(x)
                out += b"\x85\x86\x87"[len(obj) - 1:len(obj)]
            else:
                out += b"("
                for x in obj:
                    self.save(x)
                out += b"t"
            self.put()
        elif isinstance(obj, list):
            out += b"]"
            self.put()
            if obj:
                out += b"("
                for x in obj:
                    self.save(x)
                out += b"e"
        elif isinstance(obj, dict):
            out += b"}"
            self.put()
            if obj:
                out += b"("
                for k, v in obj.items():
                    self.save(k)
                    self.save(v)
                out += b"u"
        elif isinstance(obj, np.ndarray):
            self.ndarray(obj)
        else:
            raise TypeError(f"no Python 2 form for {type(obj).__name__}")

    def ndarray(self, arr: np.ndarray) -> None:
        self.global_("numpy.core.multiarray", "_reconstruct")
        self.global_("numpy", "ndarray")
        self.save((0,))
        self.py2_str(b"b")
        self.out += b"\x87"
        self.put()
        self.out += b"R"
        self.put()
        self.out += b"("
        self.int_(1)
        self.save(tuple(arr.shape))
        self.dtype(arr.dtype)
        self.out += b"\x89"  # not Fortran-ordered
        self.py2_str(np.ascontiguousarray(arr).tobytes())
        self.out += b"t"
        self.put()
        self.out += b"b"

    def dtype(self, dt: np.dtype) -> None:
        self.global_("numpy", "dtype")
        self.py2_str(f"{dt.kind}{dt.itemsize}".encode())
        self.int_(0)
        self.int_(1)
        self.out += b"\x87"
        self.put()
        self.out += b"R"
        self.put()
        self.out += b"("
        self.int_(3)
        self.py2_str(b"<" if dt.itemsize > 1 else b"|")
        self.out += b"NNN"
        self.out += b"J" + struct.pack("<i", -1) + b"J" + struct.pack("<i", -1)
        self.int_(0)
        self.out += b"t"
        self.put()
        self.out += b"b"


def dumps_py2(obj) -> bytes:
    """`obj` pickled as Python 2's cPickle.dumps(obj, 2) with numpy 1.x wrote it."""
    writer = _Writer()
    writer.save(obj)
    writer.out += b"."
    return bytes(writer.out)
