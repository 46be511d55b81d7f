"""`salesbridge dictionary show`: the canonical model with owners, categories, fillers and code lists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from chalicelib.api.dictionary import build, render_text
from chalicelib.configuration import load_configuration
from tests.cli.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]


def line_of(file: str, text: str) -> int:
    lines = (ROOT / file).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


def field(data: dict, entity: str, name: str) -> dict:
    found = next(e for e in data["entities"] if e["name"] == entity)
    return next(f for f in found["fields"] if f["name"] == name)


def test_json_names_owner_category_fillers_and_code_lists_of_the_shipped_files():
    result = run_cli("dictionary", "show", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [e["name"] for e in data["entities"]] == [
        "customer",
        "product",
        "order",
        "pos_sale",
        "rebate_settlement",
        "lead",
        "opportunity",
        "activity",
    ]
    stage = field(data, "opportunity", "stage")
    assert (stage["owner"], [f["system"] for f in stage["filled_by"]]) == ("salesforce", ["salesforce"])
    kind = field(data, "activity", "type")  # a CRM task and a page view both say what happened: nobody owns it
    assert sorted(f["system"] for f in kind["filled_by"]) == ["salesforce", "web_events"] and kind["owner"] is None

    grade = field(data, "customer", "grade")
    assert (grade["owner"], grade["owner_from"], grade["categories"]) == ("demo_crm", "triggers", ["commercial"])
    fillers = {f["system"]: f for f in grade["filled_by"]}
    assert set(fillers) == {"demo_crm", "hubspot", "odoo", "salesforce"}
    assert fillers["odoo"]["at"] == f"mappings/odoo_res_partner.yaml:{line_of('mappings/odoo_res_partner.yaml', '  grade:')}"
    assert fillers["odoo"]["source"] == "x_customer_level" and fillers["odoo"]["code_lists"] == ["customer_grade"]
    assert fillers["demo_crm"]["code_lists"] == []  # the quick start keeps its inline map

    floor = field(data, "product", "floor_price")
    assert floor["owner"] == "kingdee" and floor["owner_from"] == "mapping" and floor["type"] == "decimal"
    assert [f["at"] for f in floor["filled_by"]] == [
        f"mappings/kingdee_material.yaml:{line_of('mappings/kingdee_material.yaml', '  floor_price:')}"
    ]
    status = field(data, "customer", "status")
    assert status["filled_by"] == [] and status["owner"] is None and status["owner_from"] == ""
    email = field(data, "customer", "email")  # claimed by the mappings of two systems: nobody owns it
    assert (email["owner"], email["owner_from"]) == (None, "most_recent")

    lists = {c["name"]: c for c in data["code_lists"]}
    assert lists["customer_grade"]["values"] == ["D", "C", "B", "A", "S"]
    assert lists["customer_grade"]["systems"]["odoo"]["S"] == ["钻石", "Diamond"]
    assert sorted(lists["customer_grade"]["used_by"])[0].startswith("customer.grade (mappings/hubspot_company.yaml:")
    assert lists["product_category"]["used_by"] == [
        f"product.category (mappings/kingdee_material.yaml:{line_of('mappings/kingdee_material.yaml', '  category:')})"
    ]


def test_the_table_shows_each_filler_on_its_own_line():
    result = run_cli("dictionary", "show", "--entity", "customer")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("customer")
    grade_row = next(i for i, line in enumerate(lines) if line.split()[:1] == ["grade"])
    assert "demo_crm (owners:)" in lines[grade_row] and "commercial" in lines[grade_row]
    following = lines[grade_row : grade_row + 4]
    assert any("odoo: mappings/odoo_res_partner.yaml:" in line and "[code list customer_grade]" in line for line in following)
    assert "code lists" not in result.stdout and "product" not in lines[0]


def test_a_contested_field_shows_the_identity_preference():
    config = load_configuration(ROOT)
    preferred = config.survivorship.preference_of("customer", "name")
    assert preferred, "mappings/identity.yaml prefers systems for customer.name"
    customer = next(e for e in build(config).entities if e.name == "customer")
    name = next(f for f in customer.fields if f.name == "name")
    assert (name.owner, name.owner_from, name.preference) == (None, "preference", preferred)
    assert "— prefer " + " > ".join(preferred) in render_text(build(config), "customer")


def test_owners_follow_the_configuration(tmp_path):
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "connectors", tmp_path / "connectors")
    triggers = tmp_path / "mappings" / "triggers.yaml"
    triggers.write_text(triggers.read_text().replace("    grade: demo_crm ", "    grade: odoo "), encoding="utf-8")
    dictionary = build(load_configuration(tmp_path))
    customer = next(e for e in dictionary.entities if e.name == "customer")
    grade = next(f for f in customer.fields if f.name == "grade")
    assert (grade.owner, grade.owner_from) == ("odoo", "triggers")
    assert "odoo (owners:)" in render_text(dictionary, "customer")


def test_a_broken_configuration_is_reported_not_shown(tmp_path):
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "connectors", tmp_path / "connectors")
    code_list = tmp_path / "mappings" / "code_lists" / "customer_grade.yaml"
    code_list.write_text(code_list.read_text(encoding="utf-8").replace("    D: [Prospect]", "    E: [Prospect]"), encoding="utf-8")
    result = run_cli("dictionary", "show", "--root", str(tmp_path))
    assert result.returncode == 1 and result.stdout == ""
    assert "mappings/code_lists/customer_grade.yaml:" in result.stderr and "'E' is not one of this list's values" in result.stderr


def test_an_unknown_entity_is_a_usage_error():
    result = run_cli("dictionary", "show", "--entity", "invoice")
    assert result.returncode == 2 and "unknown entity 'invoice'" in result.stderr and "Traceback" not in result.stderr
