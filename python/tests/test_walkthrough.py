"""examples/python/walkthrough.py runs end to end and ends with the core's ROC curves."""

import runpy
from pathlib import Path

import matplotlib
import numpy as np

WALKTHROUGH = Path(__file__).resolve().parents[2] / "examples" / "python" / "walkthrough.py"


def test_walkthrough_runs_and_plots_the_roc_curves(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    names = runpy.run_path(str(WALKTHROUGH), run_name="__main__")
    out = capsys.readouterr().out
    assert "certified: True" in out and "verified: True" in out
    png = tmp_path / "membership_roc.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = names["curves"]
    assert set(curves) == {"original", "unlearned", "retrained"}
    for curve in curves.values():
        assert len(curve.fpr) == len(curve.tpr) >= 2
        assert np.all(np.diff(curve.fpr) >= 0) and np.all(np.diff(curve.tpr) >= 0)
        assert (curve.fpr[0], curve.tpr[0], curve.fpr[-1], curve.tpr[-1]) == (0, 0, 1, 1)
