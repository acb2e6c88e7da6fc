"""Label Studio video rectangle tracks: read its JSON export, write tasks to import.

Label Studio stores a video rectangle region as a `sequence` of keyframes
`{frame, enabled, x, y, width, height, rotation, time}`: frames count from 1, the
box is in percent of the frame, boxes between keyframes are interpolated
linearly, a keyframe with `enabled: false` is shown on its own frame only (it
ends the region's lifespan until the next keyframe), and an enabled last
keyframe holds to the end of what Label Studio was given: the region's
`framesCount` (else the end of the video). The region's action is its `labels`
(a region labelled `no_action`, default "no action", or not at all, is a person
standing by).

A task annotated several times (several annotators, or one annotator twice):
the annotation marked ground truth, else the latest (`updated_at`, else
`created_at`, else the last listed), or, with `annotator`, that annotator's
latest (matched against the user id, email or name in `completed_by`; tasks it
did not annotate are left out). The choice is reported in the import's summary.

Both JSON exports are read: "JSON" (tasks, each with `data` and `annotations`
whose `result` holds `videorectangle` regions) and "JSON-MIN" (one flat record
per annotation: the task's data fields such as `video`, the task `id`, and per
control tag its region values, e.g. `box: [{framesCount, sequence, labels}]`,
plus `annotator`, `annotation_id`, `created_at`, `updated_at`; written by
label-studio-converter's `convert_to_json_min`). JSON-MIN records are turned
back into tasks (records of one task id are its annotations), so both give the
same GT; JSON-MIN keeps no region ids, so tracks are numbered in file order.

Label Studio turns time into frames with the `framerate` of the project's
`<Video>` tag (default 24): when that differs from the video's, every frame number
is off. Each keyframe also stores its `time` (seconds), right whatever the
framerate: the import then places boxes by time onto the video's real frames
(`retime_label_studio`, as for variable-rate videos) and warns; only an export
without times is refused (its `framesCount` disagrees with the video).

Used in: 05_your_own_data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Union
from xml.sax.saxutils import quoteattr

from ..data.gt import MultiSportsGT
from ..data.layout import TRAINVAL, VIDEO_SUFFIX
from ..errors import StadError
from ..fileio import atomic_open, dump_json
from .interpolate import keyframe_indices
from .tracks import IDLE_LABEL, Track, VideoAnnotation, as_gt, gt_to_tracks
from .videos import VIDEO_EXTS

PathLike = Union[str, os.PathLike]
TASKS_JSON = "label_studio_tasks.json"
CONFIG_XML = "label_config.xml"
DEFAULT_URL = "/data/local-files/?d=" + TRAINVAL + "/{video}" + VIDEO_SUFFIX


def read_label_studio(
    path: PathLike, no_action: str | None = None, annotator: str | None = None,
    notes: list[str] | None = None,
) -> tuple[list[VideoAnnotation], None]:
    """The video rectangle tracks of every annotated task in a Label Studio JSON export.

    Boxes stay in percent (`VideoAnnotation.percent`) until the video's size is
    known; frames are 1-based. Of several annotations of one task, one is used
    (see the module docstring; cancelled ones are skipped) and the choice is
    appended to `notes`. Label Studio exports no label list, so the second value
    is None (give the labeling config as `labels` to the import). Raises
    `StadError` for unreadable JSON or bad regions, naming the file and task.

    Raises:
        StadError: A file that cannot be read as JSON, a task that is not an
            object, or bad regions (naming the file and the task).
    """
    notes = [] if notes is None else notes
    path = Path(path)
    tasks, json_min = _read_tasks(path)
    if json_min:
        notes.append(f"{path}: read as a Label Studio JSON-MIN export "
                     f"({len(tasks)} task(s))")
    idle = {no_action if no_action is not None else IDLE_LABEL, ""}
    out = []
    several, missing = [], []
    for ti, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise StadError(f"task {ti}: expected an object, got "
                            f"{type(task).__name__}", path)
        where = f"{path}, task {task.get('id', ti)}"
        annotation, count = _pick_annotation(task, annotator)
        if count > 1 and annotation is not None:
            several.append(f"{task.get('id', ti)} ({count}, used "
                           f"{_annotator_name(annotation) or 'the latest'})")
        if annotation is None:
            if count and annotator is not None:
                missing.append(str(task.get("id", ti)))
            continue  # not annotated yet
        video = _video_ref(task, where)
        ann = VideoAnnotation(names=[video], where=where, percent=True,
                              tool="label-studio")
        results = annotation.get("result") or []
        label_of = {r.get("id"): (r.get("value") or {}).get("labels")
                    for r in results if r.get("type") == "labels"}
        counts, rates = set(), []
        for r in results:
            if r.get("type") != "videorectangle":
                continue
            value = r.get("value") or {}
            if value.get("framesCount"):
                counts.add(int(value["framesCount"]))
            rates += _frame_rates(value)
            labels = value.get("labels") or label_of.get(r.get("id")) or []
            track = _region_track(r, value, labels, idle, video, where)
            if track is not None:
                ann.tracks.append(track)
        if counts:
            ann.nframes = ann.end_frame = max(counts)
            for track in ann.tracks:
                track.end_frame = ann.end_frame
        ann.tool_fps = sorted(rates)[len(rates) // 2] if rates else None
        out.append(ann)
    rule = (f"those of annotator {annotator!r}" if annotator is not None else
            "the ground-truth one, else the latest; --annotator to choose")
    if several:
        notes.append(f"{path}: {len(several)} task(s) annotated several times, "
                     f"used {rule}: task " + ", ".join(several[:10])
                     + (" ..." if len(several) > 10 else ""))
    if missing:
        notes.append(f"warning: {path}: {len(missing)} annotated task(s) have no "
                     f"annotation by {annotator!r} and are left out: task "
                     + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    return out, None


# Keys label-studio-converter's `convert_to_json_min` adds to a record besides the
# task's data and the control tags' values.
_MIN_META = ("id", "annotator", "annotation_id", "created_at", "updated_at",
             "lead_time", "agreement")


def _min_regions(value: object) -> list[dict] | None:
    """The video rectangle values of a JSON-MIN field, or None if it holds none
    (one region may be written bare instead of in a one-item list)."""
    items = value if isinstance(value, list) else [value]
    if items and all(isinstance(v, dict) and isinstance(v.get("sequence"), list)
                     for v in items):
        return items
    return None


def _read_tasks(path: Path) -> tuple[list, bool]:
    """The tasks of a Label Studio export file (JSON, or JSON-MIN turned back into
    tasks) and whether it was JSON-MIN; a file that is not JSON is a StadError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StadError(f"cannot read Label Studio JSON ({exc})", path) from None
    tasks = raw if isinstance(raw, list) else [raw]
    if is_json_min(tasks):
        return tasks_from_json_min(tasks, path), True
    return tasks, False


def is_json_min(tasks: list) -> bool:
    """True when `tasks` (a parsed export) are JSON-MIN records, not JSON tasks.

    JSON tasks carry `data` and `annotations` (or the older `completions`);
    JSON-MIN records carry neither, but region values (dicts with a `sequence`)
    under a control tag's name, or the `annotator`/`annotation_id` it adds.
    """
    records = [t for t in tasks if isinstance(t, dict)]
    if not records or any({"data", "annotations", "completions"} & t.keys()
                          for t in records):
        return False
    return any(_min_regions(v) is not None or "annotation_id" in t
               for t in records for v in t.values())


def tasks_from_json_min(records: list, path: PathLike) -> list[dict]:
    """JSON-MIN records -> tasks as the JSON export writes them.

    Each record is one annotation of the task named by its `id`: its fields that
    hold region values become `videorectangle` results (region ids
    `<field>-<n>`, in file order), the others the task's `data`; `annotator`,
    `created_at`, `updated_at` become the annotation's `completed_by`, ...
    A record with neither regions nor `annotation_id` is a task not annotated.

    Args:
        records: The parsed JSON-MIN file (a list of objects).
        path: The file, for messages.

    Returns:
        Tasks `{"id", "data", "annotations": [{"result", "completed_by",
        "created_at", "updated_at", "id"}]}`, in order of first appearance.

    Raises:
        StadError: A record that is not an object.
    """
    tasks: dict[object, dict] = {}
    for ri, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise StadError(f"record {ri}: expected an object, got "
                            f"{type(rec).__name__}", path)
        task_id = rec.get("id", f"record {ri}")
        data, results = {}, []
        for name, value in rec.items():
            if name in _MIN_META:
                continue
            regions = _min_regions(value)
            if regions is None:
                data[name] = value
                continue
            results += [{"id": f"{name}-{k}", "type": "videorectangle",
                         "from_name": name, "value": region}
                        for k, region in enumerate(regions)]
        task = tasks.setdefault(task_id, {"id": task_id, "data": data,
                                          "annotations": []})
        if results or "annotation_id" in rec:
            task["annotations"].append(
                {"result": results, "completed_by": rec.get("annotator"),
                 "created_at": rec.get("created_at"),
                 "updated_at": rec.get("updated_at"),
                 "id": rec.get("annotation_id")})
    return list(tasks.values())


def _pick_annotation(task: dict, annotator: str | None = None
                     ) -> tuple[dict | None, int]:
    """(the annotation to use or None, how many the task has)."""
    anns = [a for a in task.get("annotations") or []
            if isinstance(a, dict) and not a.get("was_cancelled")]
    count = len(anns)
    if annotator is not None:
        want = annotator.strip().lower()
        anns = [a for a in anns if want in _annotator_keys(a)]
    if not anns:
        return None, count
    gt = [a for a in anns if a.get("ground_truth")]
    if gt:
        return gt[-1], count
    order = sorted(range(len(anns)), key=lambda i: (
        str(anns[i].get("updated_at") or anns[i].get("created_at") or ""), i))
    return anns[order[-1]], count


def list_annotators(path: PathLike) -> list[str]:
    """Who annotated the tasks of a Label Studio JSON export (email, else user
    name, else id), sorted; for messages about `--annotator`.

    Raises:
        StadError: A file that cannot be read as JSON.
    """
    path = Path(path)
    tasks, _ = _read_tasks(path)
    names = set()
    for task in tasks:
        for a in (task.get("annotations") or []) if isinstance(task, dict) else []:
            if isinstance(a, dict) and not a.get("was_cancelled"):
                name = _annotator_name(a)[len("annotation by "):]
                names.add(f"user id {name}" if name.isdigit() else name or "(unknown)")
    return sorted(names)


def _annotator_keys(annotation: dict) -> set[str]:
    """Every way `--annotator` may name who made `annotation` (lower case)."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        name = " ".join(str(who.get(k) or "") for k in ("first_name", "last_name"))
        keys = {who.get("id"), who.get("email"), who.get("username"), name.strip()}
    else:
        keys = {who}
    return {str(k).strip().lower() for k in keys if k not in (None, "")}


def _annotator_name(annotation: dict | None) -> str:
    who = (annotation or {}).get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("username") or who.get("id")
    return "" if who in (None, "") else f"annotation by {who}"


def _video_ref(task: dict, where: str) -> str:
    data = task.get("data") or {}
    if isinstance(data.get("video"), str):
        return data["video"]
    strings = [v for v in data.values() if isinstance(v, str)]
    for s in strings:
        if any(s.lower().split("?")[0].endswith(e) for e in VIDEO_EXTS) or "?d=" in s:
            return s
    if strings:
        return strings[0]
    raise StadError(f"{where}: the task's data names no video")


def _region_track(r: dict, value: dict, labels: list, idle: set[str], video: str,
                  where: str) -> Track | None:
    rid = r.get("id", "?")
    seq = sorted(value.get("sequence") or [], key=lambda k: k.get("frame", 0))
    if not seq:
        return None
    if len({str(x) for x in labels}) > 1:
        raise StadError(f"{where}, region {rid}: several labels {labels}; give each "
                        "region one action")
    action = str(labels[0]) if labels else None
    if action in idle:
        action = None
    frames, boxes, outside = [], [], []
    for i, k in enumerate(seq):
        try:
            f = int(k["frame"])
            x, y = float(k["x"]), float(k["y"])
            w, h = float(k["width"]), float(k["height"])
        except (KeyError, TypeError, ValueError):
            raise StadError(f"{where}, region {rid}: keyframe {i} lacks frame, x, y, "
                            "width or height, or they are not numbers") from None
        if float(k.get("rotation") or 0) % 360 != 0:
            raise StadError(f"{where}, region {rid}, frame {f}: rotated box "
                            f"({k['rotation']} degrees); only upright boxes are "
                            "supported")
        frames.append(f)
        boxes.append([x, y, x + w, y + h])
        outside.append(False)
        nxt = int(seq[i + 1]["frame"]) if i + 1 < len(seq) else None
        if not k.get("enabled", True) and (nxt is None or nxt > f + 1):
            frames.append(f + 1)  # lifespan ends: hidden from the next frame on
            boxes.append([x, y, x + w, y + h])
            outside.append(True)
    return Track(video=video, track_id=str(rid), frames=frames, boxes=boxes,
                 actions=[action] * len(frames), outside=outside, open_end=True,
                 source=where, frame_base=1)


def _frame_rates(value: dict) -> list[float]:
    """Label Studio's framerate as each keyframe of a region shows it: it stores
    `time = frame / framerate` (frame 1 at 1/framerate s)."""
    rates = []
    for k in value.get("sequence") or []:
        try:
            frame, time = float(k["frame"]), float(k["time"])
        except (KeyError, TypeError, ValueError):
            continue
        if frame > 0 and time > 0:
            rates.append(frame / time)
    return rates


def retime_label_studio(ann: VideoAnnotation, times, nframes: int,
                        path: PathLike) -> str:
    """Move Label Studio's frame numbers onto a variable-rate video's frames.

    Label Studio counts frames by time at its project `framerate` r (the time of
    frame f is f / r, the end of its interval), which is right only for a video
    whose frames come every 1/r s. For a video whose rate varies (phones,
    `video.probe(...).variable_frame_rate`), keyframe f is the frame the video
    shows at (f - 0.5) / r s (the middle of Label Studio's frame), found through
    the video's real timestamps (`video.frame_times`, `video.frame_at`); of
    keyframes that land on one frame the last is kept. The region ends
    (`framesCount`) move the same way. Changes `ann` in place.

    Args:
        ann: A Label Studio annotation (`tool_fps` from its keyframes' times).
        times: `video.frame_times` of the video, `(nframes,)` seconds.
        nframes: Frames of the video.
        path: The video, for the note.

    Returns:
        A line for the import's notes, starting "warning: ".
    """
    import numpy as np

    from ..video import frame_at

    rate = ann.tool_fps
    if not rate:
        return (f"warning: {ann.where}: {path} has a variable frame rate and the "
                "export gives no keyframe times; frame numbers used as Label "
                "Studio counted them (boxes may land on nearby frames)")

    def real(frame: int) -> int:
        return min(nframes, frame_at(times, (frame - 0.5) / rate))

    for track in ann.tracks:
        mapped = [real(int(f)) for f in track.frames]
        last = {m: i for i, m in enumerate(mapped)}  # the last keyframe per frame
        keep = sorted(last.values(), key=lambda i: mapped[i])
        track.frames = np.asarray([mapped[i] for i in keep], np.int64)
        track.boxes = track.boxes[keep]
        track.outside = track.outside[keep]
        track.actions = [track.actions[i] for i in keep]
        if track.end_frame is not None:
            track.end_frame = real(track.end_frame)
    if ann.end_frame is not None:
        ann.end_frame = real(ann.end_frame)
    if ann.nframes is not None:
        ann.nframes = real(ann.nframes)
    return (f"warning: {ann.where}: {path} has a variable frame rate; Label Studio's "
            f"frames (counted at {rate:g} fps) were moved to the video's frames "
            "through its timestamps")


def export_label_studio(
    gt: MultiSportsGT | PathLike,
    out_dir: PathLike,
    fps: float = 25.0,
    url_template: str = DEFAULT_URL,
) -> Path:
    """Write `label_studio_tasks.json` (tasks with annotations) and `label_config.xml`.

    Make a project with the config (its `framerate` is `fps`: it must be the
    videos' frame rate), serve the videos (e.g. local storage) so that
    `url_template` (`{video}` = 'sport/name') points at them, and import the
    tasks. Keyframes are kept only where interpolation would miss a box; each
    tube's last keyframe is disabled, ending it. Importing the file back gives the
    same GT to float precision (percentages are written in full).

    Args:
        gt: A `MultiSportsGT` or its file.
        out_dir: Folder for the two files.
        fps: The videos' frame rate.
        url_template: Video URL with `{video}` for the key 'sport/name'.

    Returns:
        The path of `label_studio_tasks.json`.

    Raises:
        StadError: The GT is unreadable or invalid, or an action has the name
            kept for "no action".
    """
    gt = as_gt(gt)
    out_dir = Path(out_dir)
    if IDLE_LABEL in gt.labels:
        raise StadError(f"an action is called {IDLE_LABEL!r}, the name kept for "
                        "people standing by; rename it")
    tasks = []
    for vi, video in enumerate(gt.videos):
        h, w = gt.resolution[video]
        n = int(gt.nframes[video])
        results = []
        for track in gt_to_tracks(gt, video):
            results.append(_region(track, f"v{vi}t{track.track_id}", w, h, n, fps))
        tasks.append({"data": {"video": url_template.format(video=video)},
                      "annotations": [{"result": results}]})
    path = out_dir / TASKS_JSON
    dump_json(tasks, path)
    with atomic_open(out_dir / CONFIG_XML, "w") as fh:
        fh.write(label_config(gt.labels, fps))
    return path


def _region(track: Track, rid: str, w: int, h: int, n: int, fps: float) -> dict:
    keep = keyframe_indices(track.boxes, 0.0)
    seq = []
    for j, i in enumerate(keep):
        x1, y1, x2, y2 = (float(v) for v in track.boxes[i])
        frame = int(track.frames[i])
        seq.append({"frame": frame, "enabled": j < len(keep) - 1, "rotation": 0,
                    "x": x1 / w * 100, "y": y1 / h * 100,
                    "width": (x2 - x1) / w * 100, "height": (y2 - y1) / h * 100,
                    "time": frame / fps})
    action = track.actions[0] if track.actions[0] is not None else IDLE_LABEL
    return {"id": rid, "type": "videorectangle", "from_name": "box",
            "to_name": "video", "origin": "manual",
            "value": {"framesCount": n, "duration": n / fps, "sequence": seq,
                      "labels": [action]}}


def label_config(labels: list[str], fps: float = 25.0) -> str:
    """A Label Studio labeling config for action tubes (plus "no action")."""
    items = "\n".join(f"    <Label value={quoteattr(name)}/>"
                      for name in [*labels, IDLE_LABEL])
    return (f"<View>\n  <Labels name=\"videoLabels\" toName=\"video\" "
            f"allowEmpty=\"true\">\n{items}\n  </Labels>\n"
            f"  <Video name=\"video\" value=\"$video\" framerate=\"{fps:g}\"/>\n"
            f"  <VideoRectangle name=\"box\" toName=\"video\"/>\n</View>\n")


def iter_json_sources(paths: list[PathLike]) -> Iterator[Path]:
    """The JSON files of `paths`: a folder gives every `*.json` below it (sorted),
    a file itself (its existence is checked by the reader).
    """
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*.json") if q.is_file())
        else:
            yield p
