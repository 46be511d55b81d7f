"""The package's parsed configuration: the same documents, positions included, and never wrong when a file changes."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from chalicelib.config import parsed_cache
from chalicelib.config.documents import read_documents
from chalicelib.config.kinds import KINDS
from chalicelib.config.yaml_lines import LocatedDict, LocatedList, load_yaml_text
from chalicelib.configuration import load_configuration
from chalicelib.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    for folder in parsed_cache.FOLDERS:
        shutil.copytree(ROOT / folder, tmp_path / folder)
    parsed_cache._loaded.clear()
    yield tmp_path
    parsed_cache._loaded.clear()


def same(a: object, b: object) -> bool:
    """Equal values, and equal positions on every located mapping and list."""
    if isinstance(a, LocatedDict):
        return (
            isinstance(b, LocatedDict)
            and a.position == b.position
            and a.key_positions == b.key_positions
            and a.value_positions == b.value_positions
            and list(a) == list(b)
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, LocatedList):
        return isinstance(b, LocatedList) and (a.position, a.item_positions) == (b.position, b.item_positions) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def test_every_shipped_file_reads_back_from_the_cache_as_parsed(root: Path):
    parsed = {folder: read_documents(root, folder, KINDS) for folder in parsed_cache.FOLDERS}
    parsed_cache.write(root)
    parsed_cache._loaded.clear()
    cached = {folder: read_documents(root, folder, KINDS) for folder in parsed_cache.FOLDERS}
    assert len(parsed_cache.documents(root)) == sum(len(docs) for docs, _ in parsed.values()) > 20  # read from the cache
    for folder in parsed_cache.FOLDERS:
        assert [n for n, _ in cached[folder][0]] == [n for n, _ in parsed[folder][0]]
        assert all(same(a, b) for (_, a), (_, b) in zip(cached[folder][0], parsed[folder][0], strict=True))
    assert load_configuration(root).versions == load_configuration(ROOT).versions


def test_scalars_of_every_yaml_kind_and_odd_keys_survive():
    text = "a: 2026-11-01\nb: 2026-11-01T08:00:00+08:00\nc: [1, 2.5, .inf, null, true, 'x']\n1: int key\n2.5: float key\nnested: {d: []}\n"
    doc = load_yaml_text(text, "x.yaml")
    back = parsed_cache.decode(json.loads(json.dumps(parsed_cache.encode(doc))))
    assert same(back, doc)
    assert back["a"] == date(2026, 11, 1) and back["b"] == datetime(2026, 11, 1, tzinfo=UTC)


def test_an_edited_file_is_parsed_again_and_its_problem_named_at_its_line(root: Path):
    parsed_cache.write(root)
    parsed_cache._loaded.clear()
    path = root / "mappings" / "demo_crm_customer.yaml"
    path.write_text(path.read_text().replace("kind: mapping", "kind: mapping\nsurprise: 1", 1))
    with pytest.raises(ConfigError) as caught:
        load_configuration(root)
    problem = next(p for p in caught.value.problems if p.file == "mappings/demo_crm_customer.yaml")
    assert "surprise" in str(problem) and problem.line >= 2


@pytest.mark.parametrize(
    "damage",
    ["not json", json.dumps({"version": 99, "files": {}}), json.dumps({"version": 1, "files": {"mappings/grade_scale.yaml": "x"}}), "[]"],
)
def test_a_damaged_or_foreign_cache_is_ignored(root: Path, damage: str):
    (root / parsed_cache.FILE_NAME).write_text(damage)
    assert load_configuration(root).versions == load_configuration(ROOT).versions


def test_a_cache_entry_that_does_not_decode_is_parsed_instead(root: Path):
    parsed_cache.write(root)
    cache = json.loads((root / parsed_cache.FILE_NAME).read_text())
    name = next(iter(cache["files"]))
    cache["files"][name]["document"] = {"d": [["only two", "items"]], "p": [1, 1]}
    (root / parsed_cache.FILE_NAME).write_text(json.dumps(cache))
    parsed_cache._loaded.clear()
    assert load_configuration(root).versions == load_configuration(ROOT).versions


def test_a_file_that_does_not_parse_is_left_out_of_the_cache_and_reported_at_run_time(root: Path):
    (root / "mappings" / "broken.yaml").write_text("kind: mapping\nfields: [unclosed\n")
    parsed_cache.write(root)
    assert "mappings/broken.yaml" not in parsed_cache.documents(root) and "mappings/grade_scale.yaml" in parsed_cache.documents(root)
    with pytest.raises(ConfigError) as caught:
        load_configuration(root)
    assert any(p.file == "mappings/broken.yaml" and "invalid YAML" in p.message for p in caught.value.problems)
