"""CVAT export: a MultiSports GT, or `stad demo` predictions, as CVAT tasks.

`export_cvat` and `export_cvat_predictions` write one "CVAT for video 1.1" XML
per video (https://docs.cvat.ai/docs/manual/advanced/xml_format/) that CVAT
imports into a task made from that video ("Upload annotations", format
"CVAT 1.1"), with `cvat_labels.json` to paste into the task's label constructor
(Raw). Frames are 0-based there (CVAT frame f = MultiSports frame f + 1);
coordinates are written in full (`floats.fmt_floats`), so `read_cvat` gives
the same GT back.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import colorsys
import io
from pathlib import Path
from xml.etree import ElementTree as StdET
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ..data.gt import MultiSportsGT
from ..data.layout import VIDEO_SUFFIX
from ..errors import StadError
from ..fileio import atomic_open, dump_json
from ..predictions import Predictions
from .floats import fmt_floats
from .interpolate import keyframe_indices
from .linking import load_predictions, predictions_to_tracks
from .tracks import IDLE_LABEL, PathLike, Track, as_gt, gt_to_tracks

LABELS_JSON = "cvat_labels.json"


def export_cvat(
    gt: MultiSportsGT | PathLike,
    out_dir: PathLike,
    action_attribute: str | None = None,
    keyframe_tol: float = 0.0,
) -> list[Path]:
    """Write one CVAT-for-video XML per video: `OUT_DIR/<sport>/<name>.xml`.

    Each tube and idle tube is a track; every frame is written (as CVAT does),
    with keyframes only where interpolation would miss the box by more than
    `keyframe_tol` px, and an outside box after its last frame. Labels are the
    actions plus "no action" for idle people, or, with `action_attribute`, one
    label "person" whose mutable attribute holds the action. Importing the
    files back gives the same GT (exactly: coordinates are written in full).
    """
    gt = as_gt(gt)
    out_dir = Path(out_dir)
    spec = _labels_spec(gt.labels, action_attribute)
    texts = {}
    for video in gt.videos:
        h, w = gt.resolution[video]
        tracks = gt_to_tracks(gt, video)
        texts[out_dir / f"{video}.xml"] = _task_xml(
            video, Path(video).name + VIDEO_SUFFIX, int(gt.nframes[video]), (w, h),
            spec, tracks, action_attribute, keyframe_tol, dense=True)
    for path, text in texts.items():  # all rendered first: no half set on error
        with atomic_open(path, "wb") as fh:
            fh.write(text)
    dump_json(spec, out_dir / LABELS_JSON, indent=2)
    return list(texts)


def export_cvat_predictions(
    demo_json: PathLike,
    video: PathLike,
    out_dir: PathLike,
    action_attribute: str | None = "action",
    score_thr: float = 0.0,
    iou_thr: float = 0.1,
) -> Path:
    """`stad demo` predictions on `video` -> a CVAT task to correct, `OUT/<name>.xml`.

    Each person id of the demo's JSON is a track, with that id (predictions
    without ids are tracked here: ByteTrack, `tracking.track_people`, `iou_thr`
    its least IoU), so the user fixes tracks, not single boxes; predicted
    frames become keyframes and CVAT interpolates between them. By default
    each track is a "person" whose mutable `action` attribute holds the best
    action per keyframe (its default
    "no action" marks it, so the import finds it without `--action-attribute`);
    with `action_attribute=None` tracks are split where the action changes and
    labelled with it. The predictions must be of `video`: a different video name,
    frame size or frame count in the demo's JSON (or a predicted frame past the
    video's end) raises `StadError` naming both, and nothing is written.

    Args:
        demo_json: The JSON `stad demo` wrote beside its video.
        video: The video the demo ran on.
        out_dir: Folder for `<name>.xml` (CVAT for video 1.1).
        action_attribute: Name of the per-keyframe action attribute, or None
            to split tracks where the action changes.
        score_thr: Actions scoring below it are dropped (in [0, 1]).
        iou_thr: Least IoU continuing a track, for predictions without ids.

    Returns:
        The XML written.

    Raises:
        StadError: The JSON is not the demo's, the video is unreadable, or the
            predictions are of another video (name, size or frame count).
    """
    from ..video import probe  # PyAV: heavy

    video = Path(video)
    preds = load_predictions(demo_json, score_thr=score_thr)  # the JSON first
    info = probe(video)
    _check_predictions_video(Path(demo_json), preds, video, info)
    tracks = predictions_to_tracks(preds, video.stem, iou_thr=iou_thr)
    if action_attribute is None:
        tracks = _split_by_action(tracks)
    spec = _labels_spec(list(preds.class_names), action_attribute)
    out = Path(out_dir) / f"{video.stem}.xml"
    text = _task_xml(video.stem, video.name, info.nframes, (info.width, info.height),
                     spec, tracks, action_attribute, 0.0, dense=False)
    with atomic_open(out, "wb") as fh:
        fh.write(text)
    dump_json(spec, Path(out_dir) / LABELS_JSON, indent=2)
    return out


def _check_predictions_video(demo_json: Path, preds: Predictions, video: Path,
                             info) -> None:
    """Raise `StadError` unless the demo's predictions describe `video` (name, size,
    frames).

    The demo writes `video`, `width`, `height` and `nframes` at the top of its
    JSON (`preds.video`, `preds.size`, `preds.meta`); files without them are
    checked by their frame numbers only.
    """
    frames = preds.frames
    what = f"predictions {demo_json}"
    theirs = preds.video
    if isinstance(theirs, str) and theirs and Path(theirs).stem != video.stem:
        raise StadError(f"{what} are of video {Path(theirs).name!r}, not of {video} "
                        "(pass the video the demo ran on)")
    h, w = preds.size or (None, None)
    n = preds.meta.get("nframes")
    if w is not None and (w, h) != (info.width, info.height):
        raise StadError(f"{what} were made on a {w}x{h} video, but {video} is "
                        f"{info.width}x{info.height}")
    if isinstance(n, int) and n > 0 and info.nframes and n != info.nframes:
        raise StadError(f"{what} were made on a video of {n} frames, but {video} "
                        f"has {info.nframes}")
    last = int(np.max(frames)) if len(frames) else 0
    if info.nframes and last > info.nframes:
        raise StadError(f"{what} reach frame {last}, but {video} has only "
                        f"{info.nframes} frames")


def _split_by_action(tracks: list[Track]) -> list[Track]:
    out = []
    for t in tracks:
        codes = np.array([hash(a) for a in t.actions])
        cuts = np.flatnonzero(np.diff(codes) != 0) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(codes)]):
            out.append(Track(t.video, f"{len(out)}", t.frames[a:b], t.boxes[a:b],
                             t.actions[a:b]))
    return out


def _colors(n: int) -> list[str]:
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95)
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return out


def _labels_spec(labels: list[str], attribute: str | None) -> list[dict]:
    """CVAT's label definitions (the Raw label constructor's JSON)."""
    if IDLE_LABEL in labels:
        raise StadError(f"an action is called {IDLE_LABEL!r}, the name kept for "
                        "people standing by; rename it")
    if attribute is None:
        names = [*labels, IDLE_LABEL]
        return [{"name": n, "color": c, "type": "rectangle", "attributes": []}
                for n, c in zip(names, _colors(len(names)))]
    return [{"name": "person", "color": _colors(1)[0], "type": "rectangle",
             "attributes": [{"name": attribute, "mutable": True,
                             "input_type": "select", "default_value": IDLE_LABEL,
                             "values": [IDLE_LABEL, *labels]}]}]


def _task_xml(name: str, source: str, nframes: int, size: tuple[int, int],
              spec: list[dict], tracks: list[Track], attribute: str | None,
              keyframe_tol: float, dense: bool) -> bytes:
    """The XML of one CVAT task ("CVAT for video 1.1"); frames 0-based."""
    E, Sub = StdET.Element, StdET.SubElement
    root = E("annotations")
    Sub(root, "version").text = "1.1"
    meta = Sub(root, "meta")
    task = Sub(meta, "task")
    for tag, value in (("id", "1"), ("name", name), ("size", str(nframes)),
                       ("mode", "interpolation"), ("overlap", "0"),
                       ("start_frame", "0"), ("stop_frame", str(nframes - 1)),
                       ("frame_filter", "")):
        Sub(task, tag).text = value
    labels_el = Sub(task, "labels")
    for label in spec:
        lab = Sub(labels_el, "label")
        Sub(lab, "name").text = label["name"]
        Sub(lab, "color").text = label["color"]
        Sub(lab, "type").text = label["type"]
        attrs = Sub(lab, "attributes")
        for a in label["attributes"]:
            ael = Sub(attrs, "attribute")
            Sub(ael, "name").text = a["name"]
            Sub(ael, "mutable").text = str(a["mutable"])
            Sub(ael, "input_type").text = a["input_type"]
            Sub(ael, "default_value").text = a["default_value"]
            Sub(ael, "values").text = "\n".join(a["values"])
    orig = Sub(task, "original_size")
    Sub(orig, "width").text = str(size[0])
    Sub(orig, "height").text = str(size[1])
    Sub(task, "source").text = source
    Sub(meta, "source").text = source

    StdET.indent(root, "  ")
    buf = io.BytesIO()
    StdET.ElementTree(root).write(buf, encoding="utf-8", xml_declaration=True)
    head = buf.getvalue().decode("utf-8").rsplit("</annotations>", 1)[0]
    parts = [head.rstrip() + "\n"]
    ids = [int(t.track_id) if t.track_id.isdigit() else -1 for t in tracks]
    if min(ids, default=0) < 0 or len(set(ids)) < len(ids):
        ids = list(range(len(tracks)))  # not numbered: number them in order
    for tid, track in zip(ids, tracks):  # the demo's person ids stay CVAT's
        parts.append(_track_xml(tid, track, nframes, attribute, keyframe_tol, dense))
    parts.append("</annotations>\n")
    return "".join(parts).encode("utf-8")


def _track_xml(tid: int, track: Track, nframes: int, attribute: str | None,
               keyframe_tol: float, dense: bool) -> str:
    """One <track>: its boxes (0-based frames) and an outside box after the last."""
    n = len(track.frames)
    label = ("person" if attribute is not None
             else track.actions[0] if track.actions[0] is not None else IDLE_LABEL)
    if dense:
        changes = [i for i in range(1, n) if track.actions[i] != track.actions[i - 1]]
        key = np.zeros(n, bool)
        key[keyframe_indices(track.boxes, keyframe_tol, changes, track.frames)] = True
    else:
        key = np.ones(n, bool)
    frames = track.frames - 1
    boxes, actions = track.boxes, list(track.actions)
    outside = np.zeros(n, bool)
    if int(track.frames[-1]) < nframes:  # 1-based last frame = 0-based next one
        frames = np.r_[frames, track.frames[-1]]
        boxes = np.concatenate([boxes, boxes[-1:]])
        key, outside = np.r_[key, True], np.r_[outside, True]
        actions.append(actions[-1])
    coords = fmt_floats(boxes)
    lines = [f'  <track id="{tid}" label={quoteattr(label)} source="manual">']
    for i in range(len(frames)):
        x1, y1, x2, y2 = coords[i]
        box = (f'    <box frame="{frames[i]}" keyframe="{int(key[i])}" '
               f'outside="{int(outside[i])}" occluded="0" xtl="{x1}" ytl="{y1}" '
               f'xbr="{x2}" ybr="{y2}" z_order="0"')
        if attribute is None:
            lines.append(box + " />")
        else:
            value = actions[i] if actions[i] is not None else IDLE_LABEL
            lines.append(f"{box}>\n      <attribute name={quoteattr(attribute)}>"
                         f"{escape(value)}</attribute>\n    </box>")
    lines.append("  </track>\n")
    return "\n".join(lines)
