"""The flake8 front end, through real flake8 runs in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BUGGY = "x = model.encode_image(images)\ns = x @ x.T\n"


def flake8(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CLN", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
    )


def test_reports_with_zero_based_columns_shown_one_based(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import torch\n" + BUGGY)
    result = flake8("a.py", cwd=tmp_path)
    assert result.returncode == 1
    # `s = x @ x.T`: the @ is at 0-based column 6, which flake8 shows as 7.
    assert result.stdout.startswith("a.py:3:7: CLN001 'x' (from encode_image, line 2) reaches '@'")


def test_noqa_silences_a_finding(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = model.encode_image(images)\ns = x @ x.T  # noqa: CLN001\n")
    (tmp_path / "b.py").write_text("x = model.encode_image(images)\ns = x @ x.T  # noqa: E501\n")
    result = flake8("a.py", "b.py", cwd=tmp_path)
    assert "a.py" not in result.stdout
    assert "b.py:2:7: CLN001" in result.stdout


def test_encoders_option_is_read_from_config(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = model.embed_photos(images)\ns = x @ x.T\n")
    assert flake8("a.py", cwd=tmp_path).stdout == ""
    (tmp_path / "setup.cfg").write_text("[flake8]\nclip-encoders = embed_photos, embed_words\n")
    assert "a.py:2:7: CLN001" in flake8("a.py", cwd=tmp_path).stdout


def test_normalizers_option(tmp_path: Path) -> None:
    # Known as a normalizer, unitize() makes unit features, whose mean must be renormalized.
    (tmp_path / "a.py").write_text(
        "img = model.encode_image(images, normalize=True)\n"
        "prototype = unitize(model.encode_text(tokens)).mean(dim=0)\n"
        "s = img @ prototype\n"
    )
    assert flake8("a.py", cwd=tmp_path).stdout == ""
    assert "a.py:3:9: CLN004" in flake8("--clip-normalizers=unitize", "a.py", cwd=tmp_path).stdout


def test_undecodable_bytes_are_one_cln900_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b'x = model.encode_image(i)\ny = "caf\xe9"\ns = x @ x.T\n')
    (tmp_path / "b.py").write_text(BUGGY)
    result = flake8("a.py", "b.py", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("a.py")] == [
        "a.py:2:1: CLN900 clip-lint could not analyse this file: it is not valid UTF-8 "
        "(invalid continuation byte at byte 34)"
    ]
    assert any(line.startswith("b.py:2:7: CLN001") for line in lines)
    assert "Traceback" not in result.stderr


def test_declared_latin1_is_decoded_and_analysed(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b'# -*- coding: latin-1 -*-\nx = model.encode_image(i)\ny = "caf\xe9"\ns = x @ x.T\n')
    assert flake8("a.py", cwd=tmp_path).stdout.startswith("a.py:4:7: CLN001")


def test_stdin(tmp_path: Path) -> None:
    result = flake8("-", cwd=tmp_path, stdin=BUGGY)
    assert result.stdout.startswith("stdin:2:7: CLN001")


def test_syntax_error_is_left_to_e999(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = model.encode_image(i\n")
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CLN,E999", "a.py"], capture_output=True, text=True, cwd=tmp_path
    )
    assert "E999" in result.stdout and "CLN" not in result.stdout
