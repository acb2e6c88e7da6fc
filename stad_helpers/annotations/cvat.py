"""CVAT ("CVAT for video 1.1"): read tracks from its XML or zip; write GT, predictions.

Reading (`read_cvat`): the XML comes from outside, so it is parsed with
defusedxml, with DTDs, entity declarations and external references refused (a
"billion laughs" file fails at once, before any expansion), streamed so a long
video's export does not have to fit in memory. Task, job and project exports are
read; each task is matched to its video by its `<source>` (the video's file
name) or its `<name>`. CVAT numbers frames from 0, MultiSports from 1: CVAT frame
f is MultiSports frame f + 1 (CVAT exports video frame numbers, whatever the
task's start frame or frame step; a project export adds to each task's frames
the frames of the tasks before it in its subset, which is undone here).

Ranges the export declares bound the annotation: a track never closed holds
its last box to the task's (or, in a job export, the job's) `<stop_frame>`, not
to the end of the video file; with a frame step (`frame_filter` "step=N") boxes
between task frames are interpolated. Per-job exports of one task overlap by
the task's `<overlap>` frames: the importer joins the tracks that continue from
one job into the next (`merge.py`), so nothing is counted twice.

The action of a box is its track's label, or the value of a (mutable, per-box)
attribute of a "person" track: `action_attribute`, or, when not given, the
attribute the file declares for it (a mutable attribute named "action", or whose
default value is the no-action value, as `export_cvat_predictions` writes). A
track labelled `no_action` (default "no action"), or whose attribute holds the
attribute's default value (or `no_action` when given), is a person standing by:
no tube, but its boxes still train the person detector (`idle_tubes`).
`outside="1"` ends a visible stretch.

Writing (`export_cvat`, `export_cvat_predictions`): one XML per video that CVAT
imports into a task made from that video ("Upload annotations", format "CVAT 1.1"),
with `cvat_labels.json` to paste into the task's label constructor (Raw).

Used in: 05_your_own_data.
"""

from __future__ import annotations

import colorsys
import contextlib
import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Union
from xml.etree import ElementTree as StdET
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import numpy as np
from defusedxml.expatreader import DefusedExpatParser

from ..data.gt import MultiSportsGT
from ..errors import StadError
from ..fileio import atomic_open, dump_json
from ..predictions import Predictions
from .tracks import (
    IDLE_LABEL,
    Track,
    VideoAnnotation,
    as_gt,
    fmt_floats,
    gt_to_tracks,
    keyframe_indices,
    load_predictions,
    predictions_to_tracks,
)

PathLike = Union[str, os.PathLike]
LABELS_JSON = "cvat_labels.json"


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
def read_cvat(
    path: PathLike,
    action_attribute: str | None = None,
    no_action: str | None = None,
    notes: list[str] | None = None,
) -> tuple[list[VideoAnnotation], list[str] | None]:
    """The tracks of every task in a CVAT-for-video XML (or zip), and its labels.

    Returns one `VideoAnnotation` per task (or job) and the action labels the
    file declares (in its order, without the no-action value), or None if it
    declares none. What was detected (the action attribute, a frame step, a
    project's frame offsets) is appended to `notes` in words. Raises `StadError`
    for a file that is not a CVAT-for-video XML or holds bad tracks.
    """
    notes = [] if notes is None else notes
    path = Path(path)
    handler = _CvatHandler()
    with _open_xml(path) as (fh, shown):
        parser = DefusedExpatParser(forbid_dtd=True)
        parser.setContentHandler(handler)
        try:
            parser.parse(fh)
        except defusedxml.DefusedXmlException as exc:
            raise StadError(f"refused: the XML declares a DTD or entities "
                            f"({type(exc).__name__}), which CVAT never writes; it "
                            "may be an entity-expansion or external-entity attack",
                            shown) from None
        except SAXParseException as exc:
            raise StadError(f"not well-formed XML (line {exc.getLineNumber()}, "
                            f"column {exc.getColumnNumber()}: {exc.getMessage()})",
                            shown) from None
        except _NotCvat as exc:
            raise StadError(f"not a CVAT XML: the root element is <{exc}>, expected "
                            "<annotations>", shown) from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise StadError(f"cannot read ({exc})", shown) from None
    parsed = handler.tracks
    images_with_shapes = handler.images_with_shapes
    tasks, label_specs, meta_source = ({}, [], None) if handler.meta is None else (
        _read_meta(handler.meta))
    if not parsed and images_with_shapes:
        raise StadError("this is a 'CVAT for images' export; export the task as "
                        "'CVAT for video 1.1' instead", shown)
    if not tasks:
        tasks = {None: {"name": None, "source": None}}
    if len(tasks) == 1:
        info = next(iter(tasks.values()))
        info["source"] = info.get("source") or meta_source

    if action_attribute is None:
        action_attribute = _declared_action_attribute(label_specs, no_action)
        if action_attribute is not None:
            notes.append(f"the action is the attribute {action_attribute!r} the "
                         "CVAT file declares for it (--action-attribute to choose "
                         "another)")
    idle_values, labels = _action_values(label_specs, action_attribute, no_action)
    videos = {tid: _task_video(info, path, shown, len(tasks) == 1)
              for tid, info in tasks.items()}
    for tr in parsed:
        task_id = tr["task_id"]
        if len(tasks) == 1:
            video = next(iter(videos.values()))
        elif task_id in videos:
            video = videos[task_id]
        else:
            raise StadError(f"track {tr['id']} belongs to task {task_id!r}, which the "
                            "file's <meta> does not describe", shown)
        track = _to_track(tr, video, action_attribute, idle_values, label_specs,
                          shown)
        if track is not None:
            video.tracks.append(track)
    _undo_project_offsets(tasks, videos, shown, notes)
    for tid, info in tasks.items():
        if info.get("step", 1) > 1:
            notes.append(f"{videos[tid].where}: frame step {info['step']}: boxes "
                         "between the task's frames are interpolated")
    return list(videos.values()), labels


def _declared_action_attribute(specs: list[dict], no_action: str | None
                               ) -> str | None:
    """The one attribute a file declares for the action, or None.

    A mutable attribute named "action", or whose default is the no-action value
    (how `export_cvat_predictions` and `export_cvat(action_attribute=...)` write
    it), with at least one other value.
    """
    idle = no_action if no_action is not None else IDLE_LABEL
    names = {a["name"] for s in specs for a in s["attributes"]
             if a["mutable"] and a["name"]
             and (a["name"].lower() == "action" or a["default"] == idle)
             and any(v != a["default"] for v in a["values"])}
    return names.pop() if len(names) == 1 else None


def _undo_project_offsets(tasks: dict, videos: dict, shown: str,
                          notes: list[str]) -> None:
    """Shift a project export's frames back to each task's video frame numbers.

    CVAT (2.x) exports a project's task frames after the frames of the tasks
    before it in the same subset (by task id): offset = sum of start_frame +
    step * size of those. Applied only where every box of the task lies at or
    past its offset (older CVAT versions write no offset).
    """
    if len(tasks) < 2 or not all(i.get("project") for i in tasks.values()):
        return
    offset: dict[str, int] = {}
    order = sorted(tasks, key=lambda t: (tasks[t].get("subset") or "",
                                         _int(t) if _int(t) is not None else 0))
    for tid in order:
        info = tasks[tid]
        subset = info.get("subset") or ""
        shift = offset.get(subset, 0)
        offset[subset] = shift + (info.get("start") or 0) + info.get(
            "step", 1) * (info.get("frames") or 0)
        tracks = videos[tid].tracks
        if not shift or not tracks:
            continue
        if min(int(t.frames.min()) for t in tracks) - 1 >= shift:
            for t in tracks:  # (<start_frame>/<stop_frame> are not shifted)
                t.frames = t.frames - shift
            notes.append(f"{videos[tid].where}: frames shifted back by {shift}, "
                         "the project export's offset of this task")


@contextlib.contextmanager
def _open_xml(path: Path) -> Iterator[tuple[IO[bytes], str]]:
    """(binary file, name for messages) of an XML file, or of the XML in a zip."""
    if not path.is_file():
        raise StadError("annotation file not found", path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            yield fh, str(path)
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise StadError(f"cannot open zip ({exc})", path) from None
    with zf:
        names = [n for n in zf.namelist() if n.lower().endswith(".xml")]
        name = ("annotations.xml" if "annotations.xml" in names
                else names[0] if len(names) == 1 else None)
        if name is None:
            raise StadError("the zip holds no annotations.xml (export the task as "
                            "'CVAT for video 1.1')" if not names else
                            f"the zip holds several XML files and no "
                            f"annotations.xml: {', '.join(names)}", path)
        with zf.open(name) as fh:
            yield fh, f"{path}:{name}"


def _text(el: StdET.Element | None, tag: str, default: str | None = None) -> str | None:
    child = el.find(tag) if el is not None else None
    return default if child is None or child.text is None else child.text.strip()


def _int(text: str | None) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _read_meta(meta: StdET.Element) -> tuple[dict, list[dict], str | None]:
    """Tasks (id -> info), label specs and the meta-level <source> of a <meta>."""
    tasks = {}
    containers = [meta.find("task"), meta.find("job"),
                  *meta.findall("project/tasks/task")]
    for i, el in enumerate(containers):
        if el is None:
            continue
        width, height = _int(_text(el, "original_size/width")), _int(
            _text(el, "original_size/height"))
        if width is None:  # a job's meta has original_size beside <job>
            width, height = _int(_text(meta, "original_size/width")), _int(
                _text(meta, "original_size/height"))
        start, stop = _int(_text(el, "start_frame")), _int(_text(el, "stop_frame"))
        step = re.search(r"step\s*=\s*(\d+)", _text(el, "frame_filter", "") or "")
        tasks[_text(el, "id")] = {
            "name": _text(el, "name"),
            "source": _text(el, "source"),
            "size": (width, height) if width and height else None,
            "nframes": stop + 1 if stop is not None and stop >= 0 else None,
            "start": start, "stop": stop, "step": max(1, int(step[1])) if step else 1,
            "frames": _int(_text(el, "size")), "subset": _text(el, "subset"),
            "id": _text(el, "id"), "job": el.tag == "job", "project": i >= 2,
        }
    specs, seen = [], set()
    for label in meta.iter("label"):
        if _text(label, "name") in seen:
            continue  # a project export repeats its labels per task
        seen.add(_text(label, "name"))
        attrs = []
        for attr in label.iter("attribute"):
            values = _text(attr, "values", "") or ""
            attrs.append({
                "name": _text(attr, "name"),
                "mutable": (_text(attr, "mutable", "") or "").lower() == "true",
                "default": _text(attr, "default_value"),
                "values": [v.strip() for v in values.split("\n") if v.strip()],
            })
        specs.append({"name": _text(label, "name"), "attributes": attrs})
    return tasks, specs, _text(meta, "source")


class _NotCvat(Exception):
    pass


class _CvatHandler(ContentHandler):
    """Streams a CVAT XML: keeps <meta> as a small tree and each track's boxes as
    lists of strings (other shapes are skipped), never the whole document."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.meta: StdET.Element | None = None
        self.tracks: list[dict] = []
        self.images_with_shapes = 0
        self._meta: StdET.TreeBuilder | None = None
        self._track: dict | None = None
        self._in_box = False
        self._in_image = False
        self._attr: str | None = None
        self._text: list[str] = []

    def startElement(self, name: str, attrs) -> None:  # noqa: N802 (SAX API)
        self.depth += 1
        depth = self.depth
        if depth == 1:
            if name != "annotations":
                raise _NotCvat(name)
        elif self._meta is not None:
            self._meta.start(name, dict(attrs))
        elif depth == 2:
            if name == "meta":
                self._meta = StdET.TreeBuilder()
                self._meta.start(name, {})
            elif name == "track":
                self._track = {"id": attrs.get("id"), "label": attrs.get("label"),
                               "task_id": attrs.get("task_id"), "frame": [],
                               "outside": [], "xyxy": [], "rotation": [],
                               "attrs": []}
            elif name == "image":
                self._in_image = True
        elif self._track is not None:
            if depth == 3 and name == "box":
                t, get = self._track, attrs.get
                t["frame"].append(get("frame"))
                t["outside"].append(get("outside") == "1")
                t["xyxy"].append((get("xtl"), get("ytl"), get("xbr"), get("ybr")))
                t["rotation"].append(get("rotation"))
                t["attrs"].append({})
                self._in_box = True
            elif depth == 4 and self._in_box and name == "attribute":
                self._attr, self._text = attrs.get("name"), []
        elif self._in_image and depth == 3:
            self.images_with_shapes += 1
            self._in_image = False  # count each image once

    def characters(self, content: str) -> None:
        if self._meta is not None:
            self._meta.data(content)
        elif self._attr is not None:
            self._text.append(content)

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        depth = self.depth
        self.depth -= 1
        if self._meta is not None:
            self._meta.end(name)
            if depth == 2:
                self.meta, self._meta = self._meta.close(), None
        elif self._track is not None:
            if depth == 4 and self._attr is not None:
                self._track["attrs"][-1][self._attr] = "".join(self._text).strip()
                self._attr = None
            elif depth == 3:
                self._in_box = False
            elif depth == 2:
                self.tracks.append(self._track)
                self._track = None
        elif depth == 2:
            self._in_image = False


def _action_values(specs: list[dict], attribute: str | None,
                   no_action: str | None) -> tuple[set[str], list[str] | None]:
    """Values meaning "no action", and the declared action labels in order."""
    if attribute is None:
        idle = {no_action if no_action is not None else IDLE_LABEL}
        labels = [s["name"] for s in specs if s["name"] not in idle]
        return idle, labels or None
    idle = set() if no_action is None else {no_action}
    values: list[str] = []
    for spec in specs:
        for attr in spec["attributes"]:
            if attr["name"] == attribute:
                if no_action is None and attr["default"] is not None:
                    idle.add(attr["default"])
                values += attr["values"]
    idle.add("")
    labels = [v for v in dict.fromkeys(values) if v not in idle]
    return idle, labels or None


def _task_video(info: dict, path: Path, shown: str, only: bool) -> VideoAnnotation:
    names = [n for n in (info.get("source"), info.get("name")) if n]
    if only and path.stem != "annotations":
        names.append(path.stem)  # e.g. our own export, named after the video
    where = f"{shown}" + (f", task {info['name']!r}" if info.get("name") else "")
    if info.get("job"):
        where += f", job {info['id']}" if info.get("id") else ", job"
    start, stop = info.get("start"), info.get("stop")
    segment = ((start or 0) + 1, stop + 1) if stop is not None else None
    return VideoAnnotation(names=names, where=where, size=info.get("size"),
                           nframes=info.get("nframes"), tool="cvat", segment=segment,
                           job=bool(info.get("job")),
                           end_frame=None if stop is None else stop + 1)



def _to_track(tr: dict, video: VideoAnnotation, attribute: str | None,
              idle: set[str], specs: list[dict], shown: str) -> Track | None:
    """A `Track` from a parsed <track>, or None when it is not a person track."""
    n = len(tr["frame"])
    if not n:
        return None  # polygons, points, ...: not boxes
    where = f"{shown}: track {tr['id']}"
    if attribute is not None:
        declares = any(a["name"] == attribute for s in specs if s["name"] == tr["label"]
                       for a in s["attributes"])
        if not declares and not any(attribute in a for a in tr["attrs"]):
            return None  # another kind of object (no action attribute)
    try:
        frames = np.array(tr["frame"], dtype=str).astype(np.int64) + 1
        boxes = np.array(tr["xyxy"], dtype=str).astype(np.float64)
        rotation = np.array([r or 0 for r in tr["rotation"]], dtype=str).astype(float)
    except (TypeError, ValueError):
        raise StadError(f"{where}: a <box> lacks a frame or coordinates, or they are "
                        "not numbers") from None
    rotated = np.flatnonzero(rotation % 360 != 0)
    if len(rotated):
        i = rotated[0]
        raise StadError(f"{where}, frame {frames[i] - 1}: rotated box ({rotation[i]:g} "
                        "degrees); only upright boxes are supported")
    if attribute is None:
        action = None if tr["label"] in idle else tr["label"]
        actions = [action] * n
    else:
        actions: list[str | None] = [None] * n
        current = None
        for i in np.argsort(frames, kind="stable"):  # CVAT carries values on
            current = tr["attrs"][i].get(attribute, current)
            actions[i] = None if current is None or current in idle else current
    return Track(video=video.names[0] if video.names else "?", track_id=str(tr["id"]),
                 frames=frames, boxes=boxes, actions=actions, outside=tr["outside"],
                 open_end=True, source=video.where, frame_base=0,
                 end_frame=video.end_frame)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
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
            video, Path(video).name + ".mp4", int(gt.nframes[video]), (w, h), spec,
            tracks, action_attribute, keyframe_tol, dense=True)
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
    iou_thr: float = 0.3,
) -> Path:
    """`stad demo` predictions on `video` -> a CVAT task to correct, `OUT/<name>.xml`.

    Boxes are linked across frames into tracks (greedy IoU), so the user fixes
    tracks, not single boxes; predicted frames become keyframes and CVAT
    interpolates between them. By default each track is a "person" whose
    mutable `action` attribute holds the best action per keyframe (its default
    "no action" marks it, so the import finds it without `--action-attribute`);
    with `action_attribute=None` tracks are split where the action changes and
    labelled with it. The predictions must be of `video`: a different video name,
    frame size or frame count in the demo's JSON (or a predicted frame past the
    video's end) raises `StadError` naming both, and nothing is written.
    """
    from ..video import probe

    video = Path(video)
    info = probe(video)
    preds = load_predictions(demo_json, score_thr=score_thr)
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
    for tid, track in enumerate(tracks):
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


def iter_xml_sources(paths: list[PathLike]) -> Iterator[Path]:
    """Expand folders to the XML and zip files in them (sorted)."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*")
                              if q.suffix.lower() in (".xml", ".zip") and q.is_file())
        else:
            yield p


__all__ = ["LABELS_JSON", "export_cvat", "export_cvat_predictions", "iter_xml_sources",
           "read_cvat"]
