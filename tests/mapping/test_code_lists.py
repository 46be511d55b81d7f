"""Shared code lists: one vocabulary per system, used by mappings with `code_list: <name>`."""

from __future__ import annotations

import pytest

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.errors import ConfigError, RecordMappingError
from chalicelib.mapping import compile_documents
from tests.mapping.test_mappings import SCALE, SHIPPED

GRADES = """\
kind: code_list
name: customer_grade
values: [D, C, B, A, S]
systems:
  crm:
    A: [Gold, 金牌]
    S: Platinum
  erp:
    D: [Standard]
    A: [Gold]
"""


def mapping(connector: str, transform: str = "code_list: customer_grade") -> str:
    return f"""\
kind: mapping
source: {{connector: {connector}, object: customer}}
entity: customer
id: id
timestamp: updated_at
fields:
  grade:
    path: tier
    transforms:
      - {transform}
"""


def compile_files(*files: tuple[str, str], systems: dict[str, str] | None = None):
    return compile_documents([SCALE, *((name, load_yaml_text(text, name)) for name, text in files)], systems)


def problems_of(*files: tuple[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        compile_files(*files)
    return [str(p) for p in info.value.problems]


NOW = "2026-11-01T08:00:00+08:00"


def grade(mapping_set, connector: str, tier: str):
    found = mapping_set.find(connector, "customer")
    return found.apply({"id": "1", "updated_at": NOW, "tier": tier}).fields["grade"]


def test_each_system_reads_its_own_codes():
    mappings = compile_files(("grades.yaml", GRADES), ("crm.yaml", mapping("crm")), ("erp.yaml", mapping("erp")))
    assert grade(mappings, "crm", " gold ") == "A" and grade(mappings, "crm", "platinum") == "S"
    assert grade(mappings, "erp", "Standard") == "D"
    with pytest.raises(RecordMappingError) as info:
        grade(mappings, "crm", "Standard")  # an erp code, not a crm one
    assert info.value.code == "unknown_value" and "'Standard'" in info.value.message
    assert "add it under systems.crm of code list 'customer_grade' (grades.yaml)" in info.value.message
    assert set(mappings.code_lists) == {"customer_grade"}


def test_the_system_is_the_connectors_system_not_its_name():
    mappings = compile_files(("grades.yaml", GRADES), ("eu.yaml", mapping("crm_eu")), systems={"crm_eu": "crm"})
    assert grade(mappings, "crm_eu", "金牌") == "A"


def test_an_unknown_code_list_is_reported_at_the_transform():
    found = problems_of(("grades.yaml", GRADES), ("crm.yaml", mapping("crm", "code_list: customer_grades")))
    assert found == ["crm.yaml:10:9: fields.grade.transforms[0]: unknown code list 'customer_grades' (known: customer_grade)"]


def test_a_system_the_list_does_not_cover_is_reported_at_the_transform():
    found = problems_of(("grades.yaml", GRADES), ("pos.yaml", mapping("pos")))
    message = "code list 'customer_grade' (grades.yaml) has no codes for system 'pos': add them under systems:"
    assert found == [f"pos.yaml:10:9: fields.grade.transforms[0]: {message}"]


def test_an_unknown_canonical_value_is_reported_in_the_code_list():
    bad = GRADES.replace("    S: Platinum", "    SS: Platinum")
    assert problems_of(("grades.yaml", bad)) == ["grades.yaml:7:5: systems.crm.SS: 'SS' is not one of this list's values (D, C, B, A, S)"]


def test_a_source_code_meaning_two_values_is_reported():
    bad = GRADES.replace("    S: Platinum", "    S: [Platinum, GOLD]")
    assert problems_of(("grades.yaml", bad)) == ["grades.yaml:7:19: systems.crm.S[1]: source value 'GOLD' already means 'A' for crm"]


def test_values_off_the_grade_scale_cannot_feed_the_grade():
    bad = GRADES.replace("values: [D, C, B, A, S]", "values: [D, C, B, A, S, VIP]")
    found = problems_of(("grades.yaml", bad), ("crm.yaml", mapping("crm")))
    message = "code list value 'VIP' is not a value of grade (allowed: D, C, B, A, S): it can never be stored"
    assert found == [f"crm.yaml:10:9: fields.grade.transforms[0]: {message}"]


def test_a_code_list_file_needs_its_parts():
    found = problems_of(("grades.yaml", "kind: code_list\nname: g\nvalues: []\n"))
    assert any("grades.yaml:3" in p and "values" in p for p in found) and any("systems" in p for p in found)


def test_editing_a_code_list_changes_the_version_of_the_mappings_that_use_it():
    before = compile_files(("grades.yaml", GRADES), ("crm.yaml", mapping("crm"))).find("crm", "customer").version
    edited = GRADES.replace("S: Platinum", "S: [Platinum, 钻石]")
    after = compile_files(("grades.yaml", edited), ("crm.yaml", mapping("crm"))).find("crm", "customer").version
    assert before != after


def test_the_shipped_grade_mappings_share_one_code_list():
    assert set(SHIPPED.code_lists) >= {"customer_grade", "product_category"}
    codes = SHIPPED.code_lists["customer_grade"].codes
    assert set(codes) == {"salesforce", "hubspot", "odoo"}
    assert tuple(SHIPPED.code_lists["customer_grade"].values) == tuple(SHIPPED.grade_scale)
