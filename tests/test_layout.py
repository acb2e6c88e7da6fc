"""`stad_helpers.data.layout`: the dataset layout, spelled in one place.

The key and file-name formats are checked against their sources (MultiSports,
MMAction2's AVA image keys and rawframe template), and the package is checked to
spell none of them anywhere else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from stad_helpers.data import layout

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stad_helpers"
# Strings only layout.py may hold in code (docstrings and comments may quote them).
SPELLED_IN_LAYOUT = ("multisports_GT.pkl", ".mp4,", "multisports_det_anno",
                     "multisports_proposals", "label_map.txt", "05d}.jpg")


@pytest.mark.parametrize("video, frame", [
    ("basketball/v_x_c001", 1), ("basketball/v_x_c001", 17),
    ("synthetic_gym/v_0007_c001", 9999), ("a,b/v", 12345),
])
def test_ava_key_round_trips(video, frame):
    key = layout.ava_key(video, frame)
    assert layout.parse_ava_key(key) == (video, frame)
    assert key == layout.AVA_KEY_TMPL.format(video=video, frame=frame)
    assert layout.ava_keys([video, "x/y"], [frame, 3]) == [key, "x/y.mp4,0003"]
    # MMAction2's AVADataset: f'{video_id},{timestamp:04d}', video_id with .mp4.
    assert key == f"{video}.mp4,{frame:04d}"


def test_ava_key_example_and_numpy_frames():
    np = pytest.importorskip("numpy")
    assert layout.ava_key("basketball/v_x_c001", np.int32(17)) == \
        "basketball/v_x_c001.mp4,0017"
    assert layout.parse_ava_key("sport/v.mp4, 0017") == ("sport/v", 17)


@pytest.mark.parametrize("bad", ["sport/v.mp4", "sport/v.mp4,", "sport/v.mp4,x1", ""])
def test_parse_ava_key_refuses_non_keys(bad):
    with pytest.raises(ValueError, match="AVA image key"):
        layout.parse_ava_key(bad)


def test_split_file_names_the_split_of_the_files():
    # The GT's 'test_videos' are the validation set: its files say _val.
    out = Path("anno") / "multisports_det_anno.json"
    assert layout.split_file(out, "train").name == "multisports_det_anno_train.json"
    assert layout.split_file(out, "test").name == "multisports_det_anno_val.json"
    assert layout.split_file(out, "val") == layout.split_file(out, "test")
    assert layout.split_file(out, "train").parent == out.parent
    assert layout.split_file("p.pkl", "test", ".pkl") == Path("p_val.pkl")
    with pytest.raises(ValueError, match="must end with .pkl"):
        layout.split_file(out, "train", ".pkl")
    with pytest.raises(ValueError, match="unknown split"):
        layout.split_file(out, "trainval")
    for split in layout.SPLITS:
        assert layout.GT_SPLIT[layout.file_split(split)] == split
        assert layout.GT_SPLIT_KEY[split] == f"{split}_videos"


def test_files_of_a_split_agree_with_split_file():
    anno = Path("root") / layout.ANNOTATIONS
    for split in layout.SPLITS:
        assert layout.det_anno_file(anno, split) == layout.split_file(
            layout.det_anno_out(anno), split)
        assert layout.proposals_file(anno, split) == layout.split_file(
            layout.proposals_out(anno), split)
        assert layout.ava_csv(anno, split).suffix == ".csv"
    # The names of the original tutorial's files (MMAction2 projects/stad_tutorial).
    assert layout.det_anno_file(anno, "test").name == "multisports_det_anno_val.json"
    assert layout.proposals_file(anno, "val").name == "multisports_proposals_val.pkl"
    files = layout.annotation_files(anno)
    assert files["gt"] == layout.gt_file("root")
    assert files["val_csv"].name == "multisports_val.csv"
    assert len(set(files.values())) == len(files)


def test_rawframe_names_sort_in_frame_order():
    # The tutorial's frames: ffmpeg's `%05d.jpg`, numbered from 1.
    assert layout.rawframe_name(17) == "00017.jpg"
    assert layout.rawframe_relpath("sport/v", 17) == "sport/v/00017.jpg"  # any OS
    names = [layout.rawframe_name(f) for f in (1, 2, 10, 99, 100, 99999)]
    assert names == sorted(names)
    path = layout.rawframe_path("frames", "sport/v", 3)
    assert path == Path("frames") / "sport" / "v" / "00003.jpg"
    assert int(path.stem) == 3


def test_video_path_prefers_trainval(tmp_path):
    video = "sport/v"
    expected = tmp_path / layout.TRAINVAL / "sport" / "v.mp4"
    assert layout.video_path(tmp_path, video) == expected  # missing: where expected
    test = tmp_path / layout.TEST / "sport" / "v.mp4"
    test.parent.mkdir(parents=True)
    test.touch()
    assert layout.video_path(tmp_path, video) == test
    expected.parent.mkdir(parents=True)
    expected.touch()
    assert layout.video_path(tmp_path, video) == expected


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _spelled(path: Path, root: Path = ROOT) -> list[str]:
    """'file:line: literal' for each string literal (not a docstring) of `path`
    that spells a name only layout.py may spell."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # its parts are checked as a whole
            skip |= {id(part) for part in ast.walk(node) if part is not node}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            text = ast.unparse(node)  # f'{video}.mp4,{frame:04d}' as written
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            value = node.value
            text = value.decode("latin-1") if isinstance(value, bytes) else value
        else:
            continue
        if any(s in text for s in SPELLED_IN_LAYOUT):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {text[:80]!r}")
    return sorted(found, key=lambda s: int(s.split(":")[1]))


def test_no_module_but_layout_spells_the_layout():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "data" / "layout.py":
            continue
        offenders += _spelled(path)
    assert offenders == [], "ask stad_helpers.data.layout instead:\n" + "\n".join(
        offenders)


def test_the_check_sees_literals_but_not_docstrings(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('"""multisports_GT.pkl in a docstring is fine."""\n'
                   "# so is multisports_proposals in a comment\n"
                   "def f(v, i):\n"
                   '    """Names v.mp4,0001."""\n'
                   '    return f"{v}.mp4,{i:04d}", f"{v}/{i:05d}.jpg"\n'
                   'GT = "annotations/" "multisports_GT.pkl"\n')
    spelled = [s.split(": ", 1)[1] for s in _spelled(src, tmp_path)]
    assert len(spelled) == 3, spelled
    assert ".mp4," in spelled[0] and "05d}.jpg" in spelled[1]
    assert "multisports_GT.pkl" in spelled[2]


def test_validate_does_not_import_gt():
    """`data/validate.py` asks only the layout: no gt <-> validate import cycle."""
    tree = ast.parse((PACKAGE / "data" / "validate.py").read_text())
    imported = {(node.module or "") for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert "gt" not in imported and not any(m.endswith(".gt") for m in imported)
    assert "layout" in imported
