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
