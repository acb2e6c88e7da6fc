"""`Tutorial.step`: the notebooks' visible call of one stage, with stub stages.

The stubs write small files, so this checks the bookkeeping (skip line, manifest,
earlier stages, resume) without data or models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stad_helpers.errors import StadError
from stad_helpers.pipeline import Stage, Tutorial


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tutorial(tmp_path):
    """A tutorial whose stages are: `source` (writes a.txt) -> `convert` (a.txt ->
    b.txt) -> `train` (a training stage writing c.txt)."""
    tut = Tutorial("cpu", work_dir=tmp_path / "work", progress=False, device="cpu")
    a, b, c = (tmp_path / "work" / n for n in ("a.txt", "b.txt", "c.txt"))
    tut.source_calls = []
    tut.stages = {s.name: s for s in [
        Stage("source", lambda resume: tut.source_calls.append(_write(a, "A")),
              outputs=lambda: {"a": a}),
        Stage("convert", lambda resume: _write(b, a.read_text() + "B"),
              inputs=lambda: {"a": a}, outputs=lambda: {"b": b}),
        Stage("train", lambda resume: _write(c, "C"),
              inputs=lambda: {"b": b}, outputs=lambda: {"c": c},
              training=lambda: (Path("none.py"), {})),
    ]}
    tut.preflight = lambda stages: None  # no checkpoints to fetch
    tut._check_finished = lambda stage: None  # no real schedule
    tut.paths = (a, b, c)
    return tut


def test_stale_stage_runs_earlier_stages_then_the_visible_call(tutorial, capsys):
    a, b, _ = tutorial.paths
    calls = []

    def convert(src, dst, suffix="?"):
        calls.append((src, dst, suffix))
        return _write(dst, src.read_text() + suffix)

    result = tutorial.step("convert", convert, a, b, suffix="B")
    assert len(tutorial.source_calls) == 1  # the earlier stage ran first
    assert calls == [(a, b, "B")] and result == b and b.read_text() == "AB"
    assert tutorial.up_to_date("convert") and tutorial.up_to_date("source")
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("convert: done in ") and lines[-1].endswith("-> b.txt")


def test_up_to_date_stage_prints_one_line_and_skips_the_call(tutorial, capsys):
    a, b, _ = tutorial.paths
    tutorial.ensure("convert")
    capsys.readouterr()
    called = []
    assert tutorial.step("convert", lambda *args: called.append(args), a, b) is None
    assert called == []
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith("convert: up to date (made ")
    assert out[0].endswith(" from a), skipped")


def test_changed_output_reruns_the_step(tutorial):
    a, b, _ = tutorial.paths
    tutorial.ensure("convert")
    b.write_text("edited by hand")
    assert tutorial.why_stale("convert") == "outputs changed: b"
    tutorial.step("convert", lambda src, dst: _write(dst, "new"), a, b)
    assert b.read_text() == "new" and tutorial.up_to_date("convert")


def test_earlier_rerun_that_restores_the_input_skips_the_step(tutorial, capsys):
    a, b, _ = tutorial.paths
    tutorial.ensure("convert")
    a.write_text("changed")  # `source` reruns and writes "A" again
    called = []
    tutorial.step("convert", lambda *args: called.append(args), a, b)
    assert called == [] and a.read_text() == "A"
    assert capsys.readouterr().out.splitlines()[-1].endswith("skipped")


def test_training_step_passes_resume_only_when_interrupted(tutorial):
    _, _, c = tutorial.paths
    seen = []

    def train(dst, resume=False):
        seen.append(resume)
        if len(seen) == 1:
            raise KeyboardInterrupt  # stopped halfway: manifest stays "running"
        return _write(dst, "C")

    with pytest.raises(KeyboardInterrupt):
        tutorial.step("train", train, c)
    assert tutorial.why_stale("train") == "interrupted"
    tutorial.step("train", train, c)
    assert seen == [False, True] and tutorial.up_to_date("train")


def test_function_without_resume_is_called_without_it(tutorial):
    _, _, c = tutorial.paths
    tutorial.step("train", lambda dst: _write(dst, "C"), c)
    assert tutorial.up_to_date("train")


def test_unknown_stage_is_a_stad_error(tutorial):
    with pytest.raises(StadError, match="unknown stage 'nope'"):
        tutorial.step("nope", print)
