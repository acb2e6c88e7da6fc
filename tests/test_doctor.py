"""`stad doctor` reports what it checked and fails loudly with a fix hint."""

from __future__ import annotations

import subprocess
import sys

from stad_helpers import doctor
from stad_helpers.cli import main


def test_doctor_passes_on_this_environment():
    res = subprocess.run([sys.executable, "-m", "stad_helpers.cli", "doctor"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    for name in ("python", "torch", "gpu", "mmcv", "mmengine", "mmdet", "mmaction2",
                 "mmcv ops", "checkpoints", "video writing", "ffmpeg", "opencv"):
        assert f" {name} " in res.stdout, name
    assert "nms and RoIAlign run on cpu" in res.stdout
    assert "0 failed" in res.stdout


def test_doctor_exits_nonzero_with_a_hint_on_failure(monkeypatch, capsys):
    def broken():
        return doctor.Check("mmcv ops", doctor.FAIL, "not compiled", "rebuild mmcv")

    monkeypatch.setattr(doctor, "CHECKS", (doctor.check_python, broken))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] mmcv ops" in out and "fix: rebuild mmcv" in out
    assert "2 checks, 1 failed" in out


def test_mmcv_ops_check_detects_wrong_results(monkeypatch):
    import mmcv.ops

    monkeypatch.setattr(mmcv.ops, "nms", lambda b, s, t: (None, __import__("torch")
                                                         .tensor([0, 1, 2])))
    check = doctor.check_mmcv_ops()
    assert check.failed and "nms kept" in check.detail


def _mm_status(checks):
    return {c.name: c for c in checks if c.name in ("mmengine", "mmcv", "mmdet",
                                                     "mmaction2")}


def test_versions_are_checked_against_the_lock_in_a_checkout(tmp_path, monkeypatch):
    import importlib.metadata as md

    have = md.version("mmengine")
    lock = tmp_path / "lock.txt"
    lock.write_text(f"# comment\nmmengine=={have}\nMMCV==0.0.1  # too old\n")
    monkeypatch.setattr(doctor, "LOCK_FILE", lock)
    specs, source = doctor.wanted_versions(lock)
    assert specs == {"mmengine": f"=={have}", "mmcv": "==0.0.1"}
    assert source == "requirements/lock.txt"
    checks = _mm_status(doctor.check_packages())
    assert checks["mmengine"].status == doctor.OK
    mmcv = checks["mmcv"]
    assert mmcv.status == doctor.WARN and "==0.0.1" in mmcv.detail
    assert "lock.txt" in mmcv.detail and "mmcv==0.0.1" in mmcv.hint


def test_versions_are_checked_against_pyproject_ranges_without_a_lock(
        tmp_path, monkeypatch):
    import importlib.metadata as md

    monkeypatch.setattr(doctor, "LOCK_FILE", tmp_path / "absent.txt")
    monkeypatch.setattr(md, "requires", lambda name: [
        "mmengine<99,>=0.1", "mmdet (>=99)", "mmaction2>=1.2; extra == 'x'",
        "mmcv[ops]>=0.1",
    ])
    specs, source = doctor.wanted_versions(tmp_path / "absent.txt")
    assert source == "pyproject ranges"
    assert specs == {"mmengine": "<99,>=0.1", "mmdet": ">=99", "mmcv": ">=0.1"}
    checks = _mm_status(doctor.check_packages())
    assert checks["mmengine"].status == doctor.OK
    assert checks["mmcv"].status == doctor.OK
    assert checks["mmaction2"].status == doctor.OK  # only an extra asks for it
    assert checks["mmdet"].status == doctor.WARN
    assert "pyproject ranges wants >=99" in checks["mmdet"].detail


def test_version_satisfies_reads_pep440_ranges():
    assert doctor.version_satisfies("2.1.0", ">=2.0.0,<2.2.0") is True
    assert doctor.version_satisfies("2.2.0", ">=2.0.0,<2.2.0") is False
    assert doctor.version_satisfies("1.2.0", "==1.2.0") is True
    assert doctor.version_satisfies("1.2.1", "==1.2.0") is False
    assert doctor.version_satisfies("1.2.0", "~~nonsense") is None
