"""Label ids of an import, one rule for every format (`LABEL_ID_RULE`).

`labels` when given (a list, a text file with one name per line, a Label Studio
labeling config XML or a `cvat_labels.json`: `read_label_list`), else the order
in which the files declare them (CVAT's label list or action attribute values;
a CSV's `# labels:` line; several files: order of first declaration), else the
action names sorted (`choose_labels`). Every exporter declares its labels, so a
round trip between formats keeps the ids.

Used in: 05_your_own_data (through `import_annotations`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as DET  # noqa: N814 (as the docs write it)

from ..errors import StadError
from .tracks import IDLE_LABEL, PathLike, Track

LABEL_ID_RULE = ("label ids: --labels if given, else the order the files declare "
                 "the labels in (CVAT label list or action attribute values, a "
                 "CSV's '# labels:' line), else the action names sorted")


def choose_labels(labels, declared: list[str] | None, tracks: list[Track],
            notes: list[str]) -> list[str]:
    """The action labels in id order by `LABEL_ID_RULE`; says which part in `notes`."""
    if labels is not None:
        how = "as given"
        if isinstance(labels, (str, os.PathLike)):
            how = f"as listed in {labels}"
            labels = read_label_list(labels)
        names = list(dict.fromkeys(labels))
    elif declared:
        how, names = "in the order the files declare them", list(declared)
    else:
        how = "sorted (the files declare none; --labels to choose the order)"
        names = sorted({a for t in tracks for a in t.actions if a is not None})
    notes.append(f"label ids {how}: " + ", ".join(f"{i} {n}"
                                                  for i, n in enumerate(names)))
    return names


def read_label_list(path: PathLike) -> list[str]:
    """Action labels in id order from a file: one name per line (text), a Label
    Studio labeling config (XML: its `<Label value=...>`s) or CVAT's label JSON
    (`cvat_labels.json`: the label names, or the values of the attribute of a
    single label). The no-action name "no action" is left out of the last two.
    Raises `StadError` for an unreadable file or one that declares no labels.

    Raises:
        StadError: The file cannot be read, is malformed XML or JSON, or
            declares no labels.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise StadError(f"cannot read labels file ({exc})", path) from None
    head = text.lstrip()[:1]
    if head == "<":
        try:
            root = DET.fromstring(text, forbid_dtd=True)
        except (ParseError, defusedxml.DefusedXmlException) as exc:
            raise StadError(f"not a Label Studio labeling config ({exc})",
                            path) from None
        names = [el.get("value") for el in root.iter("Label") if el.get("value")]
    elif head == "[":
        try:
            spec = json.loads(text)
            if (len(spec) == 1 and spec[0].get("attributes")
                    and spec[0]["attributes"][0].get("values")):
                names = list(spec[0]["attributes"][0]["values"])
            else:
                names = [item["name"] for item in spec]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            raise StadError('not a CVAT label JSON (a list of {"name": ...})',
                            path) from None
    else:
        return list(dict.fromkeys(s.strip() for s in text.splitlines() if s.strip()))
    names = [str(n) for n in names if n != IDLE_LABEL]
    if not names:
        raise StadError("the file declares no action labels", path)
    return list(dict.fromkeys(names))
