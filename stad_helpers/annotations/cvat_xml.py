"""CVAT XML, the file level: open it (or the XML in a zip), parse it safely, stream it.

The XML comes from outside, so it is parsed with defusedxml, with DTDs, entity
declarations and external references refused (a "billion laughs" file fails at
once, before any expansion), and streamed (SAX) so a long video's export does
not have to fit in memory: `<meta>` is kept as a small tree, each `<track>`'s
boxes as lists of strings. `parse_cvat_xml` returns that raw content
(`CvatXml`); `cvat.read_cvat` gives it its meaning (tasks, actions, frames).
The format is CVAT's "CVAT for video 1.1"
(https://docs.cvat.ai/docs/manual/advanced/xml_format/).

Used in: 05_your_own_data (through `import_annotations`).
"""

from __future__ import annotations

import contextlib
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Union
from xml.etree import ElementTree as StdET
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler

import defusedxml
from defusedxml.expatreader import DefusedExpatParser

from ..errors import StadError

PathLike = Union[str, os.PathLike]


@dataclass
class CvatXml:
    """The raw content of a CVAT-for-video XML, before any meaning is given to it.

    `tracks`: one dict per `<track>` with its `id`, `label`, `task_id` and, per
    `<box>`, lists `frame`, `outside`, `xyxy`, `rotation` (strings as written)
    and `attrs` (attribute name -> text). `tasks`: task (or job) id -> what its
    `<meta>` declares (see `read_meta`). `label_specs`: the declared labels and
    their attributes. `shown`: the file's name for messages
    (`export.zip:annotations.xml` for the XML in a zip).
    """

    shown: str
    tracks: list[dict]
    images_with_shapes: int  # <image>s holding shapes: a "CVAT for images" file
    tasks: dict
    label_specs: list[dict]
    meta_source: str | None  # the meta-level <source>, if any


def parse_cvat_xml(path: PathLike) -> CvatXml:
    """Parse a CVAT XML (or the `annotations.xml` of a zip) into a `CvatXml`.

    Raises `StadError` naming the file when it is missing, not a zip or XML
    that can be read, not well-formed (with line and column), declares a DTD or
    entities (refused), or does not have `<annotations>` at its root.

    Raises:
        StadError: As listed above.
    """
    path = Path(path)
    handler = _CvatHandler()
    with open_xml(path) as (fh, shown):
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
    tasks, specs, meta_source = ({}, [], None) if handler.meta is None else (
        read_meta(handler.meta))
    return CvatXml(shown=shown, tracks=handler.tracks,
                   images_with_shapes=handler.images_with_shapes, tasks=tasks,
                   label_specs=specs, meta_source=meta_source)


@contextlib.contextmanager
def open_xml(path: Path) -> Iterator[tuple[IO[bytes], str]]:
    """(binary file, name for messages) of an XML file, or of the XML in a zip.

    Raises:
        StadError: The file is missing, a zip that cannot be opened, or a zip
            with no `annotations.xml` and not exactly one other XML file.
    """
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


def to_int(text: str | None) -> int | None:
    """`int(text)`, or None when `text` is None or not an integer."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def read_meta(meta: StdET.Element) -> tuple[dict, list[dict], str | None]:
    """Tasks (id -> info), label specs and the meta-level <source> of a <meta>."""
    tasks = {}
    containers = [meta.find("task"), meta.find("job"),
                  *meta.findall("project/tasks/task")]
    for i, el in enumerate(containers):
        if el is None:
            continue
        width, height = to_int(_text(el, "original_size/width")), to_int(
            _text(el, "original_size/height"))
        if width is None:  # a job's meta has original_size beside <job>
            width, height = to_int(_text(meta, "original_size/width")), to_int(
                _text(meta, "original_size/height"))
        start, stop = to_int(_text(el, "start_frame")), to_int(_text(el, "stop_frame"))
        step = re.search(r"step\s*=\s*(\d+)", _text(el, "frame_filter", "") or "")
        tasks[_text(el, "id")] = {
            "name": _text(el, "name"),
            "source": _text(el, "source"),
            "size": (width, height) if width and height else None,
            "nframes": stop + 1 if stop is not None and stop >= 0 else None,
            "start": start, "stop": stop, "step": max(1, int(step[1])) if step else 1,
            "frames": to_int(_text(el, "size")), "subset": _text(el, "subset"),
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
