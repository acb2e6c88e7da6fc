"""The `stad` command line as users type it: options anywhere, values checked where
they are parsed (naming the option), one `--cfg-options`, no argparse internals,
no silently missing command, and no third-party deprecation noise."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from _paths import ROOT, run_python

import stad_helpers.cli as cli
from stad_helpers.cli import build_parser, main
from stad_helpers.cli._common import parse_cfg_options
from stad_helpers.notebook import quiet_third_party_warnings

CLI_DIR = ROOT / "stad_helpers" / "cli"


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    """Existing inputs of each kind, as the strings a user types."""
    for name in ("a.xml", "b.xml", "cfg.py", "ckpt.pth", "gt.pkl", "v.mp4"):
        (tmp_path / name).write_text("x")
    (tmp_path / "videos").mkdir()
    return {p.stem.replace(".", "_"): str(p) for p in tmp_path.iterdir()} | {
        "out": str(tmp_path / "out")}


def _parse(argv: list[str]):
    return build_parser().parse_args(argv)


# ---------------------------------------------------------------------------
# Options anywhere among the positional arguments
# ---------------------------------------------------------------------------
def test_import_options_anywhere(files):
    """The reported case: SRC... no longer swallows OUT typed after an option."""
    a, b, videos, out = files["a"], files["b"], files["videos"], files["out"]
    expected = ([Path(a), Path(b)], Path(out), Path(videos), 0.5)
    for argv in (
        [a, b, "--videos", videos, out, "--test-ratio", "0.5"],
        [a, b, out, "--videos", videos, "--test-ratio", "0.5"],
        ["--test-ratio", "0.5", a, "--videos", videos, b, out],
        ["--videos", videos, "--test-ratio", "0.5", a, b, out],
    ):
        args = _parse(["data", "import", "cvat", *argv])
        assert (args.sources, args.out, args.videos, args.test_ratio) == expected, argv
        assert args.format == "cvat"


@pytest.mark.parametrize("argv, check", [
    (["demo", "{v}", "--det-score-thr", "0.3", "{out}", "--config", "{cfg}",
      "--checkpoint", "{ckpt}", "--det-config", "{cfg}", "--det-checkpoint",
      "https://x/y.pth"],
     lambda a, f: (str(a.out), a.det_score_thr, a.det_checkpoint) == (
         f["out"], 0.3, "https://x/y.pth")),
    (["evaluate", "{cfg}", "--data", "{videos}", "{ckpt}", "--cfg-options", "a=1"],
     lambda a, f: a.checkpoint == f["ckpt"] and a.cfg_options == ["a=1"]),
    (["train", "--resume", "det", "--data", "{videos}", "{cfg}"],
     lambda a, f: (a.kind, a.resume, str(a.config)) == ("det", True, f["cfg"])),
    (["detect", "{cfg}", "--out", "{out}", "{ckpt}", "--data", "{videos}"],
     lambda a, f: a.det_checkpoint == f["ckpt"] and str(a.out) == f["out"]),
    (["convert", "frames", "{videos}", "--workers", "2", "{out}"],
     lambda a, f: (a.out_dir, a.workers) == (f["out"], 2)),
    (["convert", "proposals", "{gt}", "--score-thr", "0.5", "{gt}", "{out}"],
     lambda a, f: a.score_thr == 0.5 and a.out == f["out"]),
    (["data", "export", "cvat", "--score-thr", "0.2", "{v}", "--from-predictions",
      "{gt}", "{out}"],
     lambda a, f: (str(a.src), str(a.from_predictions), str(a.out)) == (
         f["v"], f["gt"], f["out"])),
    (["data", "synth", "--seed", "3", "{out}", "--videos", "4"],
     lambda a, f: (a.seed, a.videos, str(a.out)) == (3, 4, f["out"])),
])
def test_every_command_takes_options_between_positionals(files, argv, check):
    assert check(_parse([s.format(**files) for s in argv]), files)


def test_a_list_option_before_out_never_takes_it_silently(files, capsys):
    """`--classes A B OUT.json`: the list takes OUT; the command stops, naming it."""
    with pytest.raises(SystemExit) as info:
        main(["convert", "infer-anno", files["videos"], "--classes", "person",
              files["out"]])
    assert info.value.code == 2
    assert "required: out" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Values checked where they are parsed
# ---------------------------------------------------------------------------
DEMO = ["demo", "{v}", "{out}", "--config", "{cfg}", "--checkpoint", "{ckpt}",
        "--det-config", "{cfg}", "--det-checkpoint", "{ckpt}"]


@pytest.mark.parametrize("argv, option, value", [
    (DEMO, "--det-score-thr", "-0.5"),
    (DEMO, "--action-score-thr", "1.5"),
    (DEMO, "--det-score-thr", "nan"),
    (DEMO, "--predict-stepsize", "0"),
    (DEMO, "--output-stepsize", "-1"),
    (DEMO, "--output-fps", "0"),
    (["detect", "{cfg}", "{ckpt}", "--data", "{videos}", "--out", "{out}"],
     "--score-thr", "2"),
    (["detect", "{cfg}", "{ckpt}", "--data", "{videos}", "--out", "{out}"],
     "--batch-size", "0"),
    (["detect", "{cfg}", "{ckpt}", "--data", "{videos}", "--out", "{out}"],
     "--min-coverage", "1.01"),
    (["convert", "proposals", "{gt}", "{gt}", "{out}"], "--score-thr", "-1"),
    (["convert", "frames", "{videos}", "{out}"], "--workers", "0"),
    (["convert", "frames", "{videos}", "{out}"], "--quality", "101"),
    (["data", "import", "cvat", "{a}", "--videos", "{videos}", "{out}"],
     "--test-ratio", "1"),
    (["data", "import", "cvat", "{a}", "--videos", "{videos}", "{out}"],
     "--seed", "-3"),
    (["data", "synth", "{out}"], "--videos", "0"),
    (["data", "export", "cvat", "{v}", "{out}"], "--score-thr", "1.2"),
    (["data", "export", "label-studio", "{gt}", "{out}"], "--fps", "-25"),
])
def test_bad_values_are_refused_naming_the_option(files, capsys, argv, option,
                                                  value):
    with pytest.raises(SystemExit) as info:
        main([*(s.format(**files) for s in argv), option, value])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(rf"error: argument {option}: must be .*{re.escape(value)}", last)


@pytest.mark.parametrize("argv, name", [
    (["data", "validate", "{missing}"], "DATA|GT.pkl"),
    (["data", "import", "cvat", "{a}", "{missing}", "--videos", "{videos}",
      "{out}"], "SRC"),
    (["data", "import", "cvat", "{a}", "--videos", "{missing}", "{out}"],
     "--videos"),
    (["data", "import", "cvat", "{a}", "--videos", "{a}", "{out}"], "--videos"),
    (DEMO[:3] + ["--config", "{missing}"] + DEMO[5:], "--config"),
    (DEMO + ["--label-map", "{missing}"], "--label-map"),
    (["evaluate", "{cfg}", "{missing}"], "CHECKPOINT"),
    (["train", "det", "{missing}"], "CONFIG"),
    (["convert", "frames", "{missing}", "{out}"], "videos_root"),
])
def test_missing_inputs_are_refused_naming_the_argument(files, capsys, argv, name):
    paths = files | {"missing": files["out"] + "-missing"}
    with pytest.raises(SystemExit) as info:
        main([s.format(**paths) for s in argv])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: argument {name}: " in last
    assert "not found" in last or "is not a " in last


def test_cfg_options_is_one_shared_option(files, capsys):
    sources = {p.name: p.read_text() for p in CLI_DIR.glob("*.py")}
    assert [n for n, s in sources.items() if '"--cfg-options"' in s] == ["_common.py"]
    assert [n for n, s in sources.items() if "def parse_cfg_options" in s] == [
        "_common.py"]
    # typed before the positionals, it would take them: refused, saying why
    with pytest.raises(SystemExit):
        main(["evaluate", "--cfg-options", "a=1", files["cfg"], files["ckpt"]])
    assert "is not KEY=VALUE (put --cfg-options after" in capsys.readouterr().err


def test_cfg_options_parse_like_mmengine(files):
    pytest.importorskip("mmengine")
    typed = ["train_cfg.max_iters=7", "a.b=[1,2]", "c=None", "d=(1,2)", "e=x"]
    expected = {"train_cfg.max_iters": 7, "a.b": [1, 2], "c": None, "d": (1, 2),
                "e": "x"}
    for argv in (["train", "det", files["cfg"]], ["evaluate", files["cfg"],
                                                   files["ckpt"]],
                 [s.format(**files) for s in DEMO]):
        args = _parse([*argv, "--cfg-options", *typed])
        assert parse_cfg_options(args.cfg_options) == expected, argv[0]
    assert parse_cfg_options(None) == {}


# ---------------------------------------------------------------------------
# Structure: public argparse only, every group present
# ---------------------------------------------------------------------------
def test_no_private_argparse_internals():
    private = re.compile(r"\._actions\b|_SubParsersAction|_option_string_actions|"
                         r"_name_parser_map|\._subparsers\b|argparse\._")
    for path in CLI_DIR.glob("*.py"):
        assert not private.search(path.read_text()), path.name


def test_a_missing_command_module_is_an_error(monkeypatch):
    monkeypatch.setattr(cli, "GROUPS", (*cli.GROUPS, "no_such_group"))
    with pytest.raises(ModuleNotFoundError, match="no_such_group"):
        build_parser()


def test_every_group_is_registered(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("doctor", "data", "convert", "train", "detect", "evaluate",
                    "demo", "run-all"):
        assert re.search(rf"^\s+{command}\s", out, re.M), command
    with pytest.raises(SystemExit):
        main(["data", "--help"])
    out = capsys.readouterr().out
    for command in ("validate", "synth", "download", "stats", "import", "export"):
        assert command in out


# ---------------------------------------------------------------------------
# Warnings: other packages' deprecations hidden, the project's shown
# ---------------------------------------------------------------------------
def _emitted(message: str, category: type[Warning], module: str) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet_third_party_warnings()
        warnings.warn_explicit(message, category, f"{module}.py", 1, module=module)
    return bool(caught)


@pytest.mark.parametrize("message, category, module, shown", [
    ("pkg_resources is deprecated as an API", UserWarning, "mmengine.utils", False),
    ("pkg_resources is deprecated as an API", DeprecationWarning, "mmcv", False),
    ("Deprecated call to `pkg_resources.declare_namespace`", DeprecationWarning,
     "pkg_resources", False),
    ("torch.meshgrid: pass the indexing argument", UserWarning, "torch.functional",
     False),
    ("`np.bool` is deprecated", FutureWarning, "mmdet.models", False),
    ("proposals cover only 40% of the annotated people", UserWarning,
     "stad_helpers.convert.to_proposals", True),
    ("proposals cover only 40% of the annotated people", UserWarning,
     "stad_helpers.cli.convert", True),
    ("proposals cover only 40% of the annotated people", UserWarning, "__main__",
     True),
    ("some deprecation of ours", DeprecationWarning, "stad_helpers.data", True),
])
def test_warning_filter(message, category, module, shown):
    assert _emitted(message, category, module) is shown


def test_stad_prints_no_third_party_noise(tmp_path):
    """Loading an `mmdet::` config makes mmengine import pkg_resources, which warns
    (setuptools >= 81); through `stad` only the command's own line is printed."""
    pytest.importorskip("mmengine")
    config = next((ROOT / "configs" / "det").glob("faster-rcnn_r18-slim_*.py"))
    plain = run_python("import stad_helpers; from stad_helpers.train import "
                       f"load_config; load_config({str(config)!r})")
    assert plain.returncode == 0, plain.stderr
    noisy = "pkg_resources is deprecated" in plain.stderr  # setuptools < 81: silent
    (tmp_path / "data").mkdir()  # no annotations: a StadError after the config
    argv = ["train", "det", str(config), "--work-dir", str(tmp_path / "work"),
            "--data", str(tmp_path / "data")]
    code = f"import sys; from stad_helpers.cli import main; sys.exit(main({argv!r}))"
    result = run_python(code)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stad train: error: "), (
        noisy, result.stderr)
