"""`stad_helpers.notebook.tree`: the data folder as the notebooks show it."""

from __future__ import annotations

import pytest

from stad_helpers.errors import StadError
from stad_helpers.notebook import tree, tree_lines


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "multisports"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "multisports_GT.pkl").write_bytes(b"x" * 2048)
    (root / ".stad-output").write_text("hidden, as `tree` hides it")
    frames = root / "rawframes" / "v_1"
    frames.mkdir(parents=True)
    for i in range(1, 31):
        (frames / f"img_{i:05d}.jpg").write_bytes(b"y" * 10)
    return root


def test_tree_shows_names_sizes_and_nesting(folder, capsys):
    tree(folder)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "multisports/  (31 files, 2.3 KiB)"
    assert "├── annotations/  (1 file, 2.0 KiB)" in out
    assert "│   └── multisports_GT.pkl  (2.0 KiB)" in out
    assert "└── rawframes/  (30 files, 300 B)" in out
    assert "        ├── img_00001.jpg  (10 B)" in out
    assert not any(".stad-output" in line for line in out)


def test_long_folders_are_truncated_with_a_count(folder):
    lines = tree_lines(folder, max_entries=5)
    frames = [line for line in lines if "img_" in line]
    assert len(frames) == 5
    assert lines[-1] == "        └── … 25 more (250 B)"


def test_max_depth_stops_descending(folder):
    lines = tree_lines(folder, max_depth=1)
    assert lines[1:] == ["├── annotations/  (1 file, 2.0 KiB)",
                         "└── rawframes/  (30 files, 300 B)"]


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(StadError, match="no such file or folder"):
        tree(tmp_path / "nope")
