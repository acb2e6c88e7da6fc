"""Fixes for known upstream breakage, applied once on `import stad_helpers`.

Each fix is a no-op where its bug is absent, says which upstream version it is
for, and how to tell it can be removed. Fixes that patch a module wait for that
module's import (a post-import hook), so importing `stad_helpers` stays cheap.

Fixes (upstream bug -> remove when):
- `drn_stub`: the mmaction2 1.2.0 wheel lacks `models/localizers/drn`
  -> remove when the wheel ships it.
- `importlib_metadata_alias`: mmaction2 1.2.0 imports `importlib_metadata`
  -> remove when it uses `importlib.metadata`.
- `checkpoint_safe_globals`: torch >= 2.6 loads with `weights_only=True`, which
  refuses mmengine 0.10.7's checkpoints -> remove when mmengine allowlists its types.
- `vid_dets_score`: mmaction2 1.2.0 `get_vid_dets` scores every box with the last
  detection's score -> remove when its source no longer has `frm_det[3]]`.
- `iou3dt_int`: mmaction2 1.2.0 `iou3dt_voc` calls `int()` on an array (numpy
  2.4 refuses) -> remove when its source no longer calls `int(np.where(`.
- `decord_shown_frames`: mmaction2 1.2.0 `DecordInit` takes `total_frames` from
  decord 0.6.0's `len()`, which counts packets an edit list hides and a last
  packet without a picture; such a video's training clips are then read through
  the project's reader -> remove when decord's `len()` equals `video.probe`'s
  count on the videos of tests/test_training_reader.py.

moviepy 2 removed `moviepy.editor`: `ipython_display` below imports the display
function from wherever the installed moviepy has it. OpenCV: `opencv_problem`
tells whether `cv2` is the contrib build mmaction2 wants (bootstrap installs it
last because mmengine's opencv-python writes the same files).

Used in: every notebook (through `import stad_helpers`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import sys
import types
from collections import defaultdict
from collections.abc import Callable

APPLIED: dict[str, bool] = {}  # fix name -> True when it changed something
ORIGINALS: dict[str, Callable] = {}  # fix name -> the upstream function it replaced

# ---------------------------------------------------------------------------
# Post-import hooks: run a patch right after a module is first executed.
# ---------------------------------------------------------------------------
_HOOKS: dict[str, list[Callable[[types.ModuleType], None]]] = defaultdict(list)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds hooked modules with the other finders and wraps their loader."""

    def find_spec(self, name, path=None, target=None):
        if name not in _HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        for patch in _HOOKS.get(module.__name__, []):
            patch(module)

    def __getattr__(self, item):  # get_source, is_package, ... for inspect/pkgutil
        return getattr(self._loader, item)


def when_imported(name: str, patch: Callable[[types.ModuleType], None]) -> None:
    """Run `patch(module)` now if `name` is imported, else right after its import."""
    _HOOKS[name].append(patch)
    if name in sys.modules:
        patch(sys.modules[name])


# ---------------------------------------------------------------------------
# mmaction2 1.2.0: the wheel lacks mmaction/models/localizers/drn, which
# mmaction/models/localizers/__init__.py imports. A stub module stands in, found
# only after every real finder failed, so a wheel that ships DRN is untouched.
# ---------------------------------------------------------------------------
_DRN_MODULES = ("mmaction.models.localizers.drn", "mmaction.models.localizers.drn.drn")


class _MissingDRN:
    """Placeholder for mmaction2's DRN localizer, absent from the 1.2.0 wheel."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            "mmaction2 1.2.0's wheel does not include the DRN localizer "
            "(mmaction/models/localizers/drn); install mmaction2 from source to use it"
        )


class _DRNStubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name not in _DRN_MODULES:
            return None
        APPLIED["drn_stub"] = True
        return importlib.machinery.ModuleSpec(
            name, self, is_package=name == _DRN_MODULES[0]
        )

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__ == _DRN_MODULES[0]:
            module.__path__ = []
        module.DRN = _MissingDRN


def _fix_drn() -> None:
    if not any(isinstance(f, _DRNStubFinder) for f in sys.meta_path):
        sys.meta_path.append(_DRNStubFinder())  # last: only when the real one is absent


# ---------------------------------------------------------------------------
# mmaction2 1.2.0 (mmaction/utils/dependency.py) imports `importlib_metadata`
# without declaring it. The standard library's importlib.metadata has the same
# two names it uses; alias it when the backport is not installed.
# ---------------------------------------------------------------------------
def _fix_importlib_metadata() -> None:
    try:
        import importlib_metadata  # noqa: F401
    except ImportError:
        import importlib.metadata

        sys.modules["importlib_metadata"] = importlib.metadata
        APPLIED["importlib_metadata_alias"] = True


# ---------------------------------------------------------------------------
# torch >= 2.6 loads checkpoints with weights_only=True; mmengine 0.10.7 calls
# torch.load without it, and its checkpoints hold a message hub (HistoryBuffer
# with numpy arrays and scalars). Allow exactly those types; weights_only stays
# on for everything else. Remove when mmengine loads with an explicit allowlist.
# ---------------------------------------------------------------------------
def _history_buffer_getattr(obj, name):
    """`getattr` as MMEngine checkpoints use it, and nothing more.

    HistoryBuffer pickles its statistics methods (`min`, `max`, ...) as
    `getattr(HistoryBuffer, 'min')`; any other use is refused.
    """
    from mmengine.logging import HistoryBuffer

    # The class registers its defaults only when the first buffer is built, which
    # may not have happened yet in the process that loads the checkpoint.
    allowed = {"min", "max", "current", "mean", *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise TypeError(
        f"checkpoint may only look up HistoryBuffer statistics, not {name!r}")


def checkpoint_safe_globals() -> list:
    """The non-tensor types an MMEngine checkpoint contains."""
    import numpy as np
    from mmengine.logging import HistoryBuffer

    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [
        type(np.dtype(t))
        for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                  "uint32", "uint64", "float16", "float32", "float64", "U", "S", "O")
    ]
    return [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes,
            (_history_buffer_getattr, "builtins.getattr")]


def _fix_checkpoint_loading(_module: types.ModuleType | None = None) -> None:
    import torch

    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is None:  # torch < 2.4 has no weights_only default to fight
        return
    have = torch.serialization.get_safe_globals()
    missing = [g for g in checkpoint_safe_globals() if g not in have]
    if missing:
        add(missing)
        APPLIED["checkpoint_safe_globals"] = True


# ---------------------------------------------------------------------------
# mmaction2 1.2.0 multisports_utils: Dataset.get_vid_dets builds each box as
# [*frm_dets[-4:], frm_det[3]] -- `frm_det` is the leftover variable of the
# previous loop, i.e. the LAST detection of the video, so every box gets that
# score; tube linking and video-mAP are then wrong. And iou3dt_voc calls int()
# on the one-element arrays np.where returns, which numpy >= 2.4 refuses.
# ---------------------------------------------------------------------------
def _get_vid_dets(self):
    """Per video, frame and label: (n, 5) arrays of x1, y1, x2, y2, score."""
    import numpy as np

    by_video = defaultdict(list)
    for det in self.frm_alldets:
        by_video[self.video_list[int(det[0])]].append(det)
    self.vid_det = {}
    for vid_name, dets in by_video.items():
        per_frame = {
            f: {lab: np.empty((0, 5)) for lab in range(len(self.labels))}
            for f in range(1, self.nframes[vid_name] + 1)
        }
        for det in dets:
            frame, label = int(det[1]), int(det[2])
            row = np.array([*det[-4:], det[3]])[None, :]
            per_frame[frame][label] = np.concatenate([per_frame[frame][label], row])
        self.vid_det[vid_name] = per_frame
    return self.vid_det


def _iou3dt_voc(b1, b2, spatialonly=False, temporalonly=False):
    """mmaction2's iou3dt_voc with scalar indices (numpy 2.4 safe)."""
    import numpy as np
    from mmaction.evaluation.functional import multisports_utils as mu

    tmin = max(b1[0, 0], b2[0, 0])
    tmax = min(b1[-1, 0], b2[-1, 0])
    if tmax < tmin:
        return 0.0
    temporal_inter = tmax - tmin
    temporal_union = max(b1[-1, 0], b2[-1, 0]) - min(b1[0, 0], b2[0, 0])

    def crop(b):
        start = np.flatnonzero(b[:, 0] == tmin)[0]
        stop = np.flatnonzero(b[:, 0] == tmax)[0] + 1
        return b[start:stop, :]

    if temporalonly:
        return temporal_inter / temporal_union
    return mu.iou3d_voc(crop(b1), crop(b2)) * (
        1.0 if spatialonly else temporal_inter / temporal_union
    )


def _source(obj) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def _fix_multisports_utils(module: types.ModuleType) -> None:
    if "frm_det[3]]" in _source(module.Dataset.get_vid_dets):
        ORIGINALS["vid_dets_score"] = module.Dataset.get_vid_dets
        module.Dataset.get_vid_dets = _get_vid_dets
        APPLIED["vid_dets_score"] = True
    if "int(np.where(" in _source(module.iou3dt_voc):
        ORIGINALS["iou3dt_int"] = module.iou3dt_voc
        module.iou3dt_voc = _iou3dt_voc
        APPLIED["iou3dt_int"] = True


# ---------------------------------------------------------------------------
# mmaction2 1.2.0 DecordInit (decord 0.6.0): `total_frames = len(VideoReader)`
# counts the packets an mp4 edit list hides (a file cut with `ffmpeg -c copy`)
# and a last packet that holds no picture, and SampleAVAFrames clamps a clip's
# indices to that count. Measured (tests/test_training_reader.py): 60 packets,
# 50 shown -> a keyframe near the end asks for indices 50..59, which decord
# answers with the last frame again or, read alone, an earlier frame; with more
# than one keyframe a clip that starts with a seek comes back 10 frames early
# (index i is then the coded frame i, not the shown frame i + 1); 21 packets, 20
# pictures -> DECORDError and the training run stops. Where decord's count
# differs from the frames shown (`video.probe`), the clip is read through the
# project's reader (`viz.FrameReader`: index i is frame i + 1, upright, RGB as
# decord gives) and `total_frames` is the shown count; elsewhere (the tutorial's
# and most videos) DecordInit's result is untouched.
# ---------------------------------------------------------------------------
class _Frames:
    """A decoded batch with decord's `asnumpy()`: (N, H, W, 3) uint8 RGB."""

    def __init__(self, array):
        self._array = array

    def asnumpy(self):
        return self._array


class ShownFramesReader:
    """decord.VideoReader's interface over the frames a player shows.

    `len()` is the number of shown frames (`video.probe`), index i (0-based, as
    decord) is frame i + 1; frames are upright (H, W, 3) uint8 RGB. What
    MMAction2's `DecordDecode` calls: `get_batch` (mode 'accurate'), `seek` and
    `next` (mode 'efficient'), and `get_avg_fps`.

    Raises:
        StadError: The video cannot be read or decoded (`viz.FrameReader`).
    """

    def __init__(self, path: str, nframes: int, avg_fps: float):
        self.path, self._n, self._fps, self._next = path, nframes, avg_fps, 0

    def __len__(self) -> int:
        return self._n

    def get_avg_fps(self) -> float:
        """The average frame rate decord reported (frames per second)."""
        return self._fps

    def get_batch(self, indices) -> _Frames:
        """Frames at 0-based `indices`, as one (N, H, W, 3) uint8 RGB batch.

        Raises:
            IndexError: An index outside 0..len-1.
            StadError: The video cannot be decoded there.
        """
        import numpy as np

        from .viz.reader import FrameReader

        with FrameReader(self.path, rgb=True) as reader:
            return _Frames(np.stack([reader[int(i) + 1] for i in indices]))

    def seek(self, index: int) -> None:
        """Make `next()` return the frame at 0-based `index`."""
        self._next = int(index)

    def next(self) -> _Frames:
        """The frame at the position `seek` set, (H, W, 3) uint8 RGB; moves on.

        Raises:
            IndexError: Past the last shown frame.
            StadError: The video cannot be decoded there.
        """
        frame = self.get_batch([self._next]).asnumpy()[0]
        self._next += 1
        return _Frames(frame)


_SHOWN: dict[tuple[str, int, int], int] = {}  # (path, mtime_ns, size) -> frames


def shown_frames(path: str) -> int:
    """Number of frames a player shows (`video.probe`), cached per file version.

    Raises:
        StadError: `path` is not a readable video (`video.probe`).
    """
    import os

    from .video import probe

    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    if key not in _SHOWN:
        _SHOWN[key] = probe(path).nframes
    return _SHOWN[key]


def _decord_init_transform(self, results: dict) -> dict:
    """DecordInit.transform, then the shown frames where decord counts others."""
    import os

    results = ORIGINALS["decord_shown_frames"](self, results)
    path = results["filename"]
    if os.path.splitext(path)[0] == path:  # as DecordInit: '.mp4' is implied
        path += ".mp4"
    if self.io_backend != "disk" or not os.path.isfile(path):
        return results  # not a local file: nothing to compare with
    shown = shown_frames(path)
    if shown != results["total_frames"]:
        results["video_reader"] = ShownFramesReader(path, shown, results["avg_fps"])
        results["total_frames"] = shown
    return results


def _fix_decord_init(module: types.ModuleType) -> None:
    init = module.DecordInit
    if "decord_shown_frames" in ORIGINALS or "len(container)" not in _source(
            init.transform):
        return
    ORIGINALS["decord_shown_frames"] = init.transform
    init.transform = _decord_init_transform
    APPLIED["decord_shown_frames"] = True


# ---------------------------------------------------------------------------
# moviepy 2 removed moviepy.editor; its notebook display moved.
# ---------------------------------------------------------------------------
def ipython_display(*args, **kwargs):
    """moviepy's `ipython_display`, from moviepy 2 or 1."""
    try:
        from moviepy.video.io.display_in_notebook import display_in_notebook as show
    except ImportError:  # moviepy 1.x
        from moviepy.editor import ipython_display as show
    return show(*args, **kwargs)


# ---------------------------------------------------------------------------
# OpenCV: mmengine depends on opencv-python, mmaction2 on opencv-contrib-python;
# both install the same `cv2` package and the last one wins.
# ---------------------------------------------------------------------------
def opencv_problem() -> str | None:
    """None when cv2 imports and is the contrib build, else what is wrong."""
    try:
        import cv2
    except ImportError as exc:
        return f"cv2 does not import ({exc})"
    if not hasattr(cv2, "ximgproc"):
        return "cv2 is opencv-python, not opencv-contrib-python (mmaction2 wants it)"
    return None


_DONE = False


def apply() -> None:
    """Install every fix (idempotent)."""
    global _DONE
    if _DONE:
        return
    _DONE = True
    if not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())
    _fix_drn()
    _fix_importlib_metadata()
    when_imported("mmengine.runner.checkpoint", _fix_checkpoint_loading)
    when_imported("mmaction.evaluation.functional.multisports_utils",
                  _fix_multisports_utils)
    when_imported("mmaction.datasets.transforms.loading", _fix_decord_init)
