"""examples/python/quickstart.py runs as written."""

import runpy
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "python" / "quickstart.py"


def test_quickstart_runs(capsys):
    runpy.run_path(str(QUICKSTART), run_name="__main__")
    out = capsys.readouterr().out
    assert "certified: True" in out and "verified: True" in out
