"""The analysis process: warm across requests, restarted after a stall, and given back the open texts."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest

from clip_lint.frontends.cli import FileSettings, build_parser
from clip_lint.frontends.runner import CHECK
from clip_lint.frontends.server.analysis import Source
from clip_lint.frontends.server.worker import AnalysisFailed, AnalysisProcess

STALL = '''\
import time

import clip_lint.engine.analyzer as analyzer

_run = analyzer.Analyzer.run


def _run_or_stall(self):
    if "HANG_THE_ANALYSIS" in self.source:
        time.sleep(600)
    return _run(self)


analyzer.Analyzer.run = _run_or_stall
'''

NORMALIZED_HELPER = """\
import torch.nn.functional as F


def embed(model, images):
    return F.normalize(model.encode_image(images), dim=-1)
"""


def test_a_stalled_check_is_stopped_and_the_next_one_sees_the_open_texts(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "sitecustomize.py").write_text(STALL, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(faults), os.environ.get("PYTHONPATH")])))
    analysis = AnalysisProcess(partial(FileSettings, build_parser().parse_args([]), CHECK), deadline=3.0)
    caller = os.path.realpath(project / "pkg" / "main.py")
    helper = os.path.realpath(project / "pkg" / "helpers.py")
    try:
        analysis.call("set_texts", {helper: NORMALIZED_HELPER})  # an unsaved buffer
        (before,) = analysis.call("check", Source(caller, (project / "pkg" / "main.py").read_text())).spots
        assert "'image_features'" not in before.message
        stalling = "def f(model, x, y):  # HANG_THE_ANALYSIS\n    return model.encode_image(x) @ model.encode_text(y).T\n"
        with pytest.raises(AnalysisFailed, match="did not finish within 3 s"):
            analysis.call("check", Source(os.path.realpath(project / "stall.py"), stalling))
        checked = analysis.call("check", Source(caller, (project / "pkg" / "main.py").read_text()))
        assert [spot.message for spot in checked.spots] == [before.message]  # the new process has the buffer
        assert helper in checked.reads
        assert analysis.restarts == 1
    finally:
        analysis.close()
