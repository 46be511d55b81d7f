"""Names that cross files are checked against the loaded connectors, at file:line:column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chalicelib.configuration import load_configuration
from chalicelib.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def config_root(tmp_path: Path) -> Path:
    for folder in ("connectors", "mappings"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def problems_after(root: Path, file: str, old: str, new: str) -> list[str]:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_configuration(root)
    return [f"{p.file}:{p.line}:{p.column}: {p.message}" for p in caught.value.problems]


def test_the_shipped_configuration_names_only_systems_it_has(config_root):
    load_configuration(config_root)


def test_an_owner_system_with_a_typo_is_refused_where_it_is_written(config_root):
    found = problems_after(config_root, "mappings/triggers.yaml", "grade: demo_crm ", "grade: CRM      ")
    assert len(found) == 1 and found[0].startswith("mappings/triggers.yaml:11:12: unknown system 'CRM'; the connectors are: ")


def test_a_mapping_owner_naming_no_connector_is_refused(config_root):
    found = problems_after(config_root, "mappings/demo_erp_order.yaml", "owner: demo_erp", "owner: demo-erp")
    line = _line(config_root, "mappings/demo_erp_order.yaml", "owner:")
    assert len(found) == 1 and found[0].startswith(f"mappings/demo_erp_order.yaml:{line}:8: unknown system 'demo-erp'"), found


def test_a_distributor_code_of_a_system_no_connector_provides_is_refused(config_root):
    file = "mappings/rebate_policies/key_sku_sell_in.yaml"
    found = problems_after(config_root, file, "{system: kingdee, code: DIST002}", "{system: k3cloud, code: DIST002}")
    line = _line(config_root, file, "k3cloud")
    assert len(found) == 1 and found[0].startswith(f"{file}:{line}:14: unknown system 'k3cloud'")


def test_a_distributor_written_as_a_bare_source_code_is_refused(config_root):
    file = "mappings/rebate_policies/key_sku_sell_in.yaml"
    found = problems_after(config_root, file, "{system: kingdee, code: DIST002}", "cust-dist-002")
    assert len(found) == 1 and "'cust-dist-002' is not a canonical customer id (cus_…)" in found[0], found


def test_same_as_to_an_unknown_connector_is_refused(config_root):
    file = "mappings/demo_erp_customer.yaml"
    found = problems_after(config_root, file, "\nexamples:", "\nreferences:\n  same_as: {connector: crm2, id: crm_id}\n\nexamples:")
    line = _line(config_root, file, "same_as")
    assert len(found) == 1 and found[0].startswith(f"{file}:{line}:24: unknown connector 'crm2'; configured: "), found


def _line(root: Path, file: str, text: str) -> int:
    return next(n for n, line in enumerate((root / file).read_text(encoding="utf-8").splitlines(), 1) if text in line)
