"""`stad data import`: CVAT, Label Studio or CSV annotations -> a MultiSports dataset.

`import_annotations` reads every source file, finds each annotated video in the
videos folder, reads frame counts and sizes from the videos themselves, turns
tracks into tubes (`build.tracks_to_gt`), validates the result, and writes the
layout the rest of the tutorial reads:

    OUT/trainval/<sport>/<name>.mp4          videos of both splits (hard links or
                                             copies; other containers re-encoded)
    OUT/annotations/multisports_GT.pkl

A re-encoded video keeps the size the annotation was made on, odd or even, so
the GT's `resolution`, the boxes and every reader agree (see `place_video`).

Videos are found and named `sport/name` by `videos.VideoIndex` (see there).
Everything is built in a hidden folder beside OUT and renamed into place at the
end: a failed import leaves nothing behind.

Label ids follow one rule for every format: `labels.LABEL_ID_RULE`.

A video annotated in several sources (files, tasks, jobs) is merged by
`merge.merge_sources`: identical tubes kept once with a warning, conflicts
refused. What the import decided or assumed (frame numbering, label ids,
duplicates, which annotation of a task) is appended to `notes` in words; the
CLI prints it in its summary. Without `notes`, the warnings among it are issued
with `warnings.warn` once the dataset is written.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data import layout
from ..data.gt import MultiSportsGT
from ..data.validate import raise_if_invalid
from ..errors import StadError
from ..fileio import check_output_dir, replace_output_dir, temp_dir_beside
from .build import tracks_to_gt
from .csv_format import DEFAULT_MAX_GAP, iter_csv_sources, read_csv
from .cvat import iter_xml_sources, read_cvat
from .label_studio import (
    iter_json_sources,
    list_annotators,
    read_label_studio,
    retime_label_studio,
)
from .labels import LABEL_ID_RULE, choose_labels, read_label_list
from .merge import merge_sources
from .tracks import PathLike, Track, VideoAnnotation
from .videos import VideoIndex, check_against_video, probe_all

__all__ = ["FORMATS", "LABEL_ID_RULE", "import_annotations", "normalize_format",
           "place_video", "read_label_list", "read_sources"]
FORMATS = ("cvat", "label-studio", "csv")
DEFAULT_TEST_RATIO = 0.2


def import_annotations(
    fmt: str,
    sources: Sequence[PathLike] | PathLike,
    videos_dir: PathLike,
    out_dir: PathLike,
    test_ratio: float | None = None,
    test_videos: Iterable[str] | None = None,
    seed: int = 0,
    action_attribute: str | None = None,
    no_action: str | None = None,
    *,
    labels: Sequence[str] | PathLike | None = None,
    frame_base: int | None = None,
    max_gap: int | None = DEFAULT_MAX_GAP,
    annotator: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    notes: list[str] | None = None,
) -> Path:
    """Import annotation files of format `fmt` as a MultiSports dataset; return its GT.

    `sources` are files or folders (searched for the format's files; a file
    given twice is read once). The test split is `test_videos` (keys
    'sport/name', names or file names) or a random `test_ratio` of the videos
    (default 0.2, at least one when there are two), drawn with `seed`. Label ids
    follow `LABEL_ID_RULE` (see the module docstring). `action_attribute` and
    `no_action` are explained in `stad_helpers.annotations.cvat`; `frame_base`
    and `max_gap` (frames) in `...csv_format`; `annotator` in `...label_studio`.
    What was decided or assumed is appended to `notes` (lines starting
    "warning: " are warnings). Raises `StadError` for bad input (one message
    listing every bad box, or every conflict between two annotations of a video).

    Returns:
        The written GT, `out_dir/annotations/multisports_GT.pkl` (videos placed
        in `out_dir/trainval/`, as in MultiSports).

    Raises:
        StadError: An unknown format; both a test ratio and test videos; an
            option of another format (`action_attribute`, `annotator`); a missing or
            unreadable source; two videos with one key; no annotated video; bad
            boxes or conflicting annotations (all listed); no action tube at
            all; `out_dir` inside `videos_dir`, or not a folder the project may
            write (without `overwrite`).
    """
    own_notes = notes is None
    notes = [] if own_notes else notes
    fmt = normalize_format(fmt)
    if test_ratio is not None and test_videos is not None:
        raise StadError("give either a test ratio or a list of test videos, not both")
    if action_attribute is not None and fmt != "cvat":
        raise StadError(f"--action-attribute is for CVAT exports, not {fmt}")
    if annotator is not None and fmt != "label-studio":
        raise StadError(f"--annotator is for Label Studio exports, not {fmt}")
    out_dir = Path(out_dir)
    inputs = [*_as_list(sources), videos_dir]  # never replaced, whatever overwrite
    check_output_dir(out_dir, kind="dataset", inputs=inputs, overwrite=overwrite)
    _refuse_out_inside_videos(out_dir, Path(videos_dir))

    anns, declared = read_sources(fmt, sources, action_attribute, no_action,
                                  frame_base, max_gap=max_gap, annotator=annotator,
                                  notes=notes)
    index = VideoIndex(videos_dir, exclude=out_dir)
    files: dict[str, Path] = {}
    by_key: dict[str, list[VideoAnnotation]] = {}
    for ann in anns:
        path = index.find(ann.names, ann.where)
        key = index.key(path)
        if files.setdefault(key, path) != path:
            raise StadError(f"videos {files[key]} and {path} would both become "
                            f"{key!r}; rename one")
        by_key.setdefault(key, []).append(ann)
    if not by_key:
        raise StadError("no annotated video found in "
                        + ", ".join(map(str, _as_list(sources))))
    keys = sorted(by_key)

    info = probe_all(files, keys, progress)
    tracks: list[Track] = []
    for key in keys:
        if info[key].variable_frame_rate:  # times -> frames through the timestamps
            _variable_rate(files[key], by_key[key], info[key], notes)
        else:  # a Label Studio project whose framerate is not the video's
            _wrong_framerate(files[key], by_key[key], info[key], notes)
        for ann in by_key[key]:
            check_against_video(ann, info[key], files[key])
            for track in ann.tracks:
                track.video = key
                if ann.percent:
                    scale = np.array([info[key].width, info[key].height] * 2) / 100.0
                    track.boxes = track.boxes * scale
        merged = None
        if len(by_key[key]) > 1:  # the same video in several sources
            merged = merge_sources(key, by_key[key], info[key].nframes,
                                   info[key].width, info[key].height, notes)
        tracks += (merged if merged is not None else
                   [t for ann in by_key[key] for t in ann.tracks])

    names = choose_labels(labels, declared, tracks, notes)
    test = _test_split(keys, index, test_ratio, test_videos, seed)
    _warn_empty_split(keys, test, test_ratio, notes)
    gt = tracks_to_gt(tracks, None, names, test, videos=keys, info=info)
    if not any(tubes for v in gt.gttubes.values() for tubes in v.values()):
        raise StadError("the import gives no action tube ("
                        f"{len(tracks)} track(s), none with an action: every box is "
                        "'no action'; check --action-attribute/--no-action, or the "
                        "labels) in " + ", ".join(map(str, _as_list(sources))))
    raise_if_invalid(gt.to_dict(), source="the imported annotations")
    written = _write_dataset(gt, files, info, out_dir, overwrite, progress, inputs)
    if own_notes:
        for line in notes:
            if line.startswith("warning: "):
                warnings.warn(line[len("warning: "):], stacklevel=2)
    return written


def normalize_format(fmt: str) -> str:
    """The canonical name of an annotation format (`FORMATS`): case and `_`
    ignored, `ls`/`labelstudio` mean `label-studio`.

    Raises:
        StadError: A name that is none of `cvat`, `label-studio`, `csv`.
    """
    name = fmt.lower().replace("_", "-")
    name = {"ls": "label-studio", "labelstudio": "label-studio"}.get(name, name)
    if name not in FORMATS:
        raise StadError(f"unknown annotation format {fmt!r}; choose one of "
                        f"{', '.join(FORMATS)}")
    return name


def read_sources(fmt: str, sources, action_attribute: str | None = None,
                 no_action: str | None = None, frame_base: int | None = None, *,
                 max_gap: int | None = DEFAULT_MAX_GAP, annotator: str | None = None,
                 notes: list[str] | None = None,
                 ) -> tuple[list[VideoAnnotation], list[str] | None]:
    """Every `VideoAnnotation` of the source files, and the labels they declare.

    A file named twice (also through a folder) is read once, with a warning in
    `notes`. The declared labels of several files: in order of first declaration.

    Args:
        fmt: `"cvat"`, `"label-studio"` or `"csv"` (see `normalize_format`).
        sources: Files or folders (searched for the format's files).
        action_attribute: CVAT: the attribute holding the action.
        no_action: The value meaning "no action".
        frame_base: CSV: 0 or 1, the file's first frame number.
        max_gap: CSV: frames after which a reused track id is a new track.
        annotator: Label Studio: whose annotation to use.
        notes: List that receives what was decided, in words.

    Returns:
        `(annotations, labels)`: one `VideoAnnotation` per video and task, and
        the labels the files declare (None if none).

    Raises:
        StadError: A source is missing, no file of the format is found, or a
            file cannot be read (see `read_cvat`, `read_csv`,
            `read_label_studio`); `annotator` made none of the annotations.
    """
    fmt = normalize_format(fmt)
    notes = [] if notes is None else notes
    start = len(notes)
    if fmt == "cvat":
        expand = iter_xml_sources

        def read(p):
            return read_cvat(p, action_attribute, no_action, notes=notes)
    elif fmt == "label-studio":
        expand = iter_json_sources

        def read(p):
            return read_label_studio(p, no_action, annotator=annotator, notes=notes)
    else:
        expand = iter_csv_sources

        def read(p):
            return read_csv(p, frame_base, no_action, max_gap=max_gap, notes=notes)
    paths = list(expand(_as_list(sources)))
    if not paths:
        raise StadError(f"no {fmt} annotation files in "
                        + ", ".join(map(str, _as_list(sources))))
    anns: list[VideoAnnotation] = []
    declared: list[str] | None = None
    seen: dict[Path, Path] = {}
    for p in paths:
        if not Path(p).is_file():
            raise StadError("annotation file not found", p)
        real = Path(p).resolve()
        if real in seen:
            notes.append(f"warning: {p} given twice (as {seen[real]}): read once")
            continue
        seen[real] = Path(p)
        got, labels = read(p)
        anns += got
        if labels is not None:
            declared = list(dict.fromkeys([*(declared or []), *labels]))
    _count_repeats(notes, start)
    if fmt == "label-studio" and annotator is not None and not anns:
        present = sorted({w for p in seen.values() for w in list_annotators(p)})
        raise StadError(f"no annotation by annotator {annotator!r} in "
                        + ", ".join(map(str, seen.values())) + "; annotators "
                        "present: " + (", ".join(present) or "none"))
    return anns, declared


def _count_repeats(notes: list[str], start: int) -> None:
    """Say a note that several files gave once, with how many: notes[start:]."""
    counts: dict[str, int] = {}
    for line in notes[start:]:
        counts[line] = counts.get(line, 0) + 1
    notes[start:] = [line if n == 1 else f"{line} ({n} files)"
                     for line, n in counts.items()]


def _as_list(sources) -> list:
    return [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)


def _refuse_out_inside_videos(out_dir: Path, videos_dir: Path) -> None:
    """An output inside the videos folder would hold copies of the videos, which
    the next import from that folder finds twice: refused."""
    out, videos = out_dir.resolve(), videos_dir.resolve()
    if out == videos or videos in out.parents:
        raise StadError(f"the dataset folder is inside the videos folder {videos_dir}"
                        " (its copies of the videos would be found by the next "
                        "import); choose an OUT outside it", out_dir)


def _warn_empty_split(keys: list[str], test: list[str], ratio: float | None,
                      notes: list[str]) -> None:
    """A warning in `notes` when the train or the val split has no video:
    `stad train` needs both."""
    if test and len(test) < len(keys):
        return
    empty = "val (test_videos)" if not test else "train"
    how = (f"--test-ratio {DEFAULT_TEST_RATIO if ratio is None else ratio:g} of "
           f"{len(keys)} video(s) gives {len(test)}" if not test or ratio is not None
           else "--test-videos lists every video")
    notes.append(f"warning: the {empty} split is empty ({how}); `stad train` needs "
                 "videos in both: import more videos (at least 2), or set "
                 "--test-ratio / --test-videos")


def _test_split(keys: list[str], index: VideoIndex, ratio: float | None,
                names: Iterable[str] | None, seed: int) -> list[str]:
    if names is not None:
        out = []
        for name in names:
            if name in keys:
                out.append(name)
                continue
            key = index.key(index.find([name], "test videos"))
            if key not in keys:
                raise StadError(f"test video {name!r} ({key}) has no annotations")
            out.append(key)
        return out
    ratio = DEFAULT_TEST_RATIO if ratio is None else float(ratio)
    if not 0 <= ratio < 1:
        raise StadError(f"test ratio must be in [0, 1), got {ratio}")
    n = round(ratio * len(keys))
    if ratio > 0 and len(keys) >= 2:
        n = min(max(n, 1), len(keys) - 1)
    order = np.random.default_rng(seed).permutation(len(keys))
    return sorted(keys[i] for i in order[:n])


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
def _write_dataset(gt: MultiSportsGT, files: dict[str, Path], info: dict,
                   out_dir: Path, overwrite: bool, progress: bool,
                   inputs: list) -> Path:
    tmp = temp_dir_beside(out_dir)
    try:
        for key in tqdm(sorted(files), desc="placing videos", unit="video",
                        disable=not progress):
            dst = tmp / layout.TRAINVAL / f"{key}{layout.VIDEO_SUFFIX}"
            place_video(files[key], dst, info[key])
        gt.save(layout.gt_file(tmp))
        MultiSportsGT.load(layout.gt_file(tmp))  # validates what was written
        replace_output_dir(tmp, out_dir, kind="dataset", inputs=inputs,
                           overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return layout.gt_file(out_dir)


def _variable_rate(path: Path, anns: list[VideoAnnotation], info,
                   notes: list[str]) -> None:
    """A video whose frame rate varies: say so, and move the frames of tools
    that count time (Label Studio) onto its frames (`retime_label_studio`).
    CVAT and CSV number decoded frames, which need no change."""
    from ..video import frame_times  # PyAV: heavy

    times = frame_times(path)
    notes.append(f"warning: {path}: variable frame rate (frames {info.nframes}, "
                 f"{info.fps:.3g} fps on average); frame numbers are the decoded "
                 "frames' order, times map to frames through its timestamps")
    for ann in anns:
        if ann.tool == "label-studio":
            notes.append(retime_label_studio(ann, times, info.nframes, path))


FRAMERATE_TOL = 0.02  # relative: Label Studio's framerate off by more is wrong


def _wrong_framerate(path: Path, anns: list[VideoAnnotation], info,
                     notes: list[str]) -> None:
    """Label Studio annotations counted at another framerate than the video's
    (the project's `<Video framerate=...>` was wrong): their frames are moved
    onto the video's through the keyframes' times (`retime_label_studio`), with
    a warning. Without times the count check (`check_against_video`) refuses
    them."""
    wrong = [a for a in anns if a.tool == "label-studio" and a.tool_fps
             and info.fps and abs(a.tool_fps - info.fps) > FRAMERATE_TOL * info.fps]
    if not wrong:
        return
    from ..video import frame_times  # PyAV: heavy

    times = frame_times(path)
    for ann in wrong:
        rate = ann.tool_fps
        retime_label_studio(ann, times, info.nframes, path)
        notes.append(f"warning: {ann.where}: the Label Studio project's framerate "
                     f"({rate:g} fps) is not the video's ({info.fps:g} fps, "
                     f"{path}); its frame numbers were wrong, so boxes were placed "
                     "by their times (set framerate=\"" + f"{info.fps:g}" + "\" on "
                     "the <Video> tag for the next tasks)")


def place_video(src: Path, dst: Path, info) -> None:
    """Hard-link (or copy) an mp4 to `dst`; re-encode other containers to H.264 mp4.

    The re-encoded video has exactly `src`'s (displayed) size. H.264's usual
    4:2:0 needs even sizes, and its stream-level cropping works in steps of 2
    pixels, so an odd size cannot be hidden in a padded 4:2:0 stream; padding
    would give a video one pixel larger than the annotation says (`stad data
    validate --videos-root` refuses it), cropping would cut annotated pixels and
    move boxes at the edge. So odd sizes are encoded 4:4:4 (`VideoSink(...,
    exact_size=True)`: no chroma subsampling, any size is legal), which PyAV,
    FFmpeg and decord (the training reader) decode; boxes stay exact.

    Args:
        src: The user's video.
        dst: Its place in the dataset (`trainval/<sport>/<name>.mp4`).
        info: `VideoInfo` of `src` (the frame count and size a re-encoding must
            keep).

    Raises:
        StadError: Re-encoding gives another number of frames or another size
            (convert the video to mp4 yourself then).
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix.lower() == layout.VIDEO_SUFFIX:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return
    from ..video import VideoSink, iter_frames, probe  # PyAV: heavy

    with VideoSink(dst, fps=info.fps or 25.0, exact_size=True) as sink:
        for frame in iter_frames(src):
            sink.write(frame)
    got = probe(dst)
    if got.nframes != info.nframes:
        raise StadError(f"re-encoding to mp4 gave {got.nframes} frames instead of "
                        f"{info.nframes}; convert the video to mp4 yourself", src)
    if (got.width, got.height) != (info.width, info.height):
        raise StadError(f"re-encoding to mp4 gave {got.width}x{got.height} instead "
                        f"of {info.width}x{info.height}; convert the video to mp4 "
                        "yourself", src)
