"""What a cached result read is stored once, under the hash of its text, and entries name it
(``records/``): a warm run reads and checks each record once. A record that is missing, damaged
or stale never lets an entry answer; both front ends then analyse again and store it again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import pytest

from clip_lint.project.cache import CACHE_DIR_NAME, RECORDS, Cache

from front_ends import clip_lint, flake8, write_files

HELPER = "def features(model, images):\n    return model.encode_image(images)\n"
USER = "from pkg.helper import features\n\n\ndef rank(model, images, text):\n    return features(model, images) @ text.T\n"
FILES: Dict[str, str] = {
    "pyproject.toml": "[project]\nname = 'p'\n",
    "pkg/__init__.py": "",
    "pkg/helper.py": HELPER,
    "pkg/a.py": USER,
    "pkg/b.py": USER.replace("rank", "rank_b"),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_files(tmp_path, FILES)
    return tmp_path


def records(project: Path) -> list:
    return sorted((project / CACHE_DIR_NAME / RECORDS).glob("*.json"))


@pytest.mark.parametrize("front_end", [clip_lint, flake8])
@pytest.mark.parametrize("damage", ["delete", "garble", "other-json"])
def test_a_missing_or_damaged_record_is_a_miss(project: Path, front_end, damage: str) -> None:
    expected = front_end("--no-cache" if front_end is clip_lint else "--clip-no-cache", "pkg", cwd=project).stdout
    assert "CLN001" in expected
    assert front_end("pkg", cwd=project).stdout == expected
    stored = records(project)
    assert stored
    for record in stored:
        if damage == "delete":
            record.unlink()
        elif damage == "garble":
            record.write_bytes(record.read_bytes()[:-20])
        else:  # valid JSON that is not what the name's hash says: it must not be trusted
            record.write_text(json.dumps({"files": {}, "probes": []}))
    assert front_end("pkg", cwd=project).stdout == expected
    assert front_end("pkg", cwd=project).stdout == expected  # stored again, and answers
    assert {path.name for path in records(project)} == {path.name for path in stored}


@pytest.mark.parametrize("front_end", [clip_lint, flake8])
def test_an_edit_to_a_module_that_records_name_makes_every_entry_naming_them_stale(project: Path, front_end) -> None:
    assert front_end("pkg", cwd=project).stdout.count("CLN001") == 2
    (project / "pkg" / "helper.py").write_text("def features(model, images):\n    return images\n")
    assert "CLN001" not in front_end("pkg", cwd=project).stdout
    (project / "pkg" / "helper.py").write_text(HELPER)
    assert front_end("pkg", cwd=project).stdout.count("CLN001") == 2


def test_a_record_is_named_by_the_hash_of_its_text_and_written_once(tmp_path: Path) -> None:
    cache = Cache.create(str(tmp_path / "cache"))
    assert cache is not None
    record = {"files": {"/a.py": "0" * 64}, "probes": [["file", "/b.py", True]]}
    first = cache.store_record(record)
    assert cache.store_record(json.loads(json.dumps(record))) == first
    assert len(list((tmp_path / "cache" / RECORDS).iterdir())) == 1
    seen = []
    checked: Dict[str, bool] = {}
    assert cache.record_holds(first, lambda stored: seen.append(stored) or True, checked)
    assert cache.record_holds(first, lambda stored: seen.append(stored) or True, checked)
    assert seen == [record]  # checked once in a run
    assert not cache.record_holds({"record": "f" * 64}, lambda stored: True)
    assert not cache.record_holds({"record": "../../etc/passwd"}, lambda stored: True)
    assert not cache.record_holds(record, lambda stored: True)  # an entry of the old format
    (stored,) = (tmp_path / "cache" / RECORDS).iterdir()
    stored.write_text(json.dumps({"files": {}, "probes": []}))  # valid, but not the text its name hashes
    assert not cache.record_holds(first, lambda stored: True)
