"""A Python file that declares its encoding (PEP 263) is read and fixed in that encoding."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import BUGGY, locations, run_cli, run_json

LATIN1 = b"# -*- coding: latin-1 -*-\n# caf\xe9 au lait\n" + BUGGY.encode("ascii")


def test_declared_latin1_is_analysed_not_cln900(tmp_path: Path) -> None:
    (tmp_path / "bug.py").write_bytes(LATIN1)
    _, report = run_json("bug.py", cwd=tmp_path)
    assert locations(report) == ["line 10 CLN001"]


def test_fix_writes_the_declared_encoding_back(tmp_path: Path) -> None:
    target = tmp_path / "bug.py"
    target.write_bytes(LATIN1)
    result = run_cli("--fix", "bug.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    fixed = target.read_bytes()
    assert fixed.startswith(b"# -*- coding: latin-1 -*-\n# caf\xe9 au lait\n")  # the byte is kept
    assert b"image_features = image_features / image_features.norm(dim=-1, keepdim=True)" in fixed
    assert run_cli("bug.py", cwd=tmp_path).returncode == 0


def test_an_unknown_declared_encoding_is_cln900(tmp_path: Path) -> None:
    (tmp_path / "odd.py").write_bytes(b"# -*- coding: no-such-codec -*-\n" + BUGGY.encode("ascii"))
    _, report = run_json("odd.py", cwd=tmp_path)
    assert [f["code"] for f in report["findings"]] == ["CLN900"]
    assert "encoding" in report["findings"][0]["message"]
