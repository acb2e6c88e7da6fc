"""CVAT ("CVAT for video 1.1") import: the tracks of its XML or zip, with their meaning.

`read_cvat` takes the raw content `cvat_xml.parse_cvat_xml` streams out of the
file (safely: see there) and makes it tracks. Task, job and project exports are
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
default value is the no-action value, as `export_cvat_predictions` writes), or,
in a file with a single label (e.g. "person") whose boxes carry one attribute
with several values (e.g. "activity": none, walk, run), that attribute (said in
the notes). An `action_attribute` no label or box has is an error listing those
present (with the near match: `Activity` for `activity`); tracks without it are
other objects, left out and counted in the notes (all of them: an error). A
track labelled `no_action` (default "no action"), or whose attribute holds the
attribute's default value (or `no_action` when given), is a person standing by:
no tube, but its boxes still train the person detector (`idle_tubes`).
`outside="1"` ends a visible stretch.

Writing CVAT files is `cvat_export`'s job.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import StadError
from .cvat_xml import parse_cvat_xml, to_int
from .tracks import IDLE_LABEL, PathLike, Track, VideoAnnotation


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

    Raises:
        StadError: The file is missing, not a (zipped) CVAT-for-video 1.1 XML
            (e.g. a 'CVAT for images' export), refused (DTD, entities), or a
            track is of an undescribed task or holds bad boxes.
    """
    notes = [] if notes is None else notes
    path = Path(path)
    xml = parse_cvat_xml(path)
    shown, parsed, label_specs = xml.shown, xml.tracks, xml.label_specs
    tasks = xml.tasks
    if not parsed and xml.images_with_shapes:
        raise StadError("this is a 'CVAT for images' export; export the task as "
                        "'CVAT for video 1.1' instead", shown)
    if not tasks:
        tasks = {None: {"name": None, "source": None}}
    if len(tasks) == 1:
        info = next(iter(tasks.values()))
        info["source"] = info.get("source") or xml.meta_source

    present = _attribute_names(label_specs, parsed)
    if action_attribute is None:
        action_attribute = _declared_action_attribute(label_specs, no_action)
        if action_attribute is not None:
            notes.append(f"the action is the attribute {action_attribute!r} the "
                         "CVAT file declares for it (--action-attribute to choose "
                         "another)")
        else:
            action_attribute = _single_label_attribute(label_specs, no_action, shown,
                                                       notes)
    elif action_attribute not in present:
        raise StadError(_no_such_attribute(action_attribute, present), shown)
    idle_values, labels = _action_values(label_specs, action_attribute, no_action)
    videos = {tid: _task_video(info, path, shown, len(tasks) == 1)
              for tid, info in tasks.items()}
    dropped: dict[str, int] = {}  # label -> tracks without the action attribute
    boxed = 0
    for tr in parsed:
        task_id = tr["task_id"]
        if len(tasks) == 1:
            video = next(iter(videos.values()))
        elif task_id in videos:
            video = videos[task_id]
        else:
            raise StadError(f"track {tr['id']} belongs to task {task_id!r}, which the "
                            "file's <meta> does not describe", shown)
        if not tr["frame"]:
            continue  # polygons, points, ...: not boxes
        boxed += 1
        if not _has_attribute(tr, action_attribute, label_specs):
            dropped[tr["label"]] = dropped.get(tr["label"], 0) + 1
            continue  # another kind of object (no action attribute)
        video.tracks.append(_to_track(tr, video, action_attribute, idle_values,
                                      shown))
    if dropped:
        what = ", ".join(f"{n} {label!r}" for label, n in sorted(dropped.items()))
        if sum(dropped.values()) == boxed:
            raise StadError(f"no track has the action attribute {action_attribute!r}"
                            f" (tracks by label: {what}); "
                            + _no_such_attribute(action_attribute, present), shown)
        notes.append(f"{shown}: {sum(dropped.values())} track(s) without the "
                     f"attribute {action_attribute!r} left out as another kind of "
                     f"object (by label: {what})")
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


def _attribute_names(specs: list[dict], parsed: list[dict]) -> list[str]:
    """Every attribute name the file declares or a box carries, in file order."""
    names = [a["name"] for s in specs for a in s["attributes"] if a["name"]]
    names += [k for tr in parsed for attrs in tr["attrs"] for k in attrs]
    return list(dict.fromkeys(names))


def _no_such_attribute(name: str, present: list[str]) -> str:
    """The message for an action attribute no label or box has."""
    if not present:
        return (f"no label or box has an attribute {name!r} (the file has no "
                "attributes: leave out --action-attribute to take the action from "
                "the track labels)")
    msg = (f"no label or box has an attribute {name!r}; attributes present: "
           + ", ".join(map(repr, present)))
    lower = {p.lower(): p for p in present}
    near = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
    if near:
        msg += f" (did you mean --action-attribute {lower[near[0]]!r}?)"
    return msg


def _has_attribute(tr: dict, attribute: str | None, specs: list[dict]) -> bool:
    """Whether a parsed track carries the action (always, without an attribute)."""
    if attribute is None:
        return True
    return (any(a["name"] == attribute for s in specs if s["name"] == tr["label"]
                for a in s["attributes"])
            or any(attribute in a for a in tr["attrs"]))


def _single_label_attribute(specs: list[dict], no_action: str | None, shown: str,
                            notes: list[str]) -> str | None:
    """The action attribute of a file with one label and per-box attribute(s).

    A file with exactly one label (e.g. "person") whose boxes carry one
    per-box (mutable) attribute with several values (e.g. "activity": none,
    walk, run) annotates the action in that attribute: it is used, and said in
    `notes`. Otherwise attributes with several values are named in `notes` as
    unused, with the option to pick one.
    """
    idle = no_action if no_action is not None else IDLE_LABEL
    labels = [s for s in specs if s["name"] != idle]
    if len(labels) != 1:
        return None
    spec = labels[0]
    several = [a for a in spec["attributes"] if a["name"] and len(a["values"]) > 1]
    per_box = [a for a in several if a["mutable"]]
    if len(per_box) == 1:
        attr = per_box[0]
        notes.append(f"{shown}: the only label {spec['name']!r} has the attribute "
                     f"{attr['name']!r} ({', '.join(attr['values'])}): it is taken "
                     f"as the action, {attr['default']!r} meaning no action "
                     "(--action-attribute to choose another)")
        return attr["name"]
    if several:
        notes.append(f"warning: {shown}: the only label {spec['name']!r} is the "
                     "action; its attributes "
                     + ", ".join(repr(a["name"]) for a in several)
                     + " are not used (--action-attribute NAME to take the action "
                       "from one)")
    return None


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
                                         to_int(t) if to_int(t) is not None else 0))
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
              idle: set[str], shown: str) -> Track:
    """A `Track` from a parsed <track> of boxes (that carries the action)."""
    n = len(tr["frame"])
    where = f"{shown}: track {tr['id']}"
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


def iter_xml_sources(paths: list[PathLike]) -> Iterator[Path]:
    """Expand folders to the XML and zip files in them (sorted)."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*")
                              if q.suffix.lower() in (".xml", ".zip") and q.is_file())
        else:
            yield p


__all__ = ["iter_xml_sources", "read_cvat"]
