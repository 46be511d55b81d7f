"""Loading, compiling and applying mappings: the shipped files, the broken fixture, partial updates."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import ConfigError, RecordMappingError
from chalicelib.mapping import compile_documents, load_mapping_set
from chalicelib.mapping.examples import map_payload as dry_run
from chalicelib.mapping.examples import run_example, run_examples
from chalicelib.mapping.regression import regression_diff
from chalicelib.mapping.schema import SCHEMA_FILE, schema_text
from cli.mappings import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
BROKEN = Path(__file__).parent / "fixtures" / "broken"
SCALE = ("grade_scale.yaml", load_yaml_text("kind: grade_scale\nlevels: [D, C, B, A, S]\n", "grade_scale.yaml"))

SHIPPED = load_mapping_set(MAPPINGS)


def compile_text(text: str, name: str = "m.yaml"):
    return compile_documents([SCALE, (name, load_yaml_text(text, name))])


BASE = """\
kind: mapping
source: {connector: demo_crm, object: customer}
entity: customer
id: customer.id
timestamp: customer.updated_at
"""


# ----------------------------------------------------------------------------- shipped files


@pytest.mark.parametrize("result", run_examples(SHIPPED), ids=lambda r: f"{r.mapping}: {r.example}")
def test_every_shipped_example_passes(result):
    assert result.passed, "\n".join(result.differences)


def test_shipped_set_covers_the_sources():
    wanted = {
        ("salesforce", "Account"),
        ("salesforce", "Opportunity"),
        ("salesforce", "Lead"),
        ("salesforce", "Task"),
        ("web_events", "event"),
        ("demo_erp", "customer"),
        ("demo_erp", "order"),
        ("hubspot", "company"),
        ("hubspot", "deal"),
        ("odoo", "res.partner"),
        ("odoo", "sale.order"),
        ("odoo", "pos.order"),
        ("shopify", "orders"),
        ("kingdee", "SAL_SaleOrder"),
        ("kingdee", "rebate_settlement"),
        ("kingdee", "BD_MATERIAL"),
        ("distributor_dms", "sell_through"),
        ("demo_crm", "customer"),
        ("demo_erp", "customer"),
        ("demo_erp", "order"),
    }
    assert {(m.connector, m.object) for m in SHIPPED.mappings.values()} == wanted
    assert SHIPPED.grade_scale == ["D", "C", "B", "A", "S"]
    assert all(m.examples for m in SHIPPED.mappings.values())


def test_public_interface():
    m = SHIPPED.find("demo_crm", "customer")
    assert m is not None and SHIPPED.find("demo_crm", "nothing") is None
    assert (m.name, m.entity, m.connector, m.object) == ("demo_crm_customer", "customer", "demo_crm", "customer")
    assert m.file.endswith("mappings/demo_crm_customer.yaml") and len(m.version) == 12
    record = m.apply({"customer": {"id": "C-1", "tier": "Gold", "updated_at": "2026-11-01T08:00:00+08:00"}}, connector="demo_crm_eu")
    assert isinstance(record, CanonicalRecord)
    assert record.source.system == "demo_crm_eu" and record.mapping_version == m.version
    CanonicalRecord.model_validate(record.model_dump())  # what model_construct built is a valid record


def test_schema_file_is_up_to_date():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), "run: python -m chalicelib.mapping.schema"


# ----------------------------------------------------------------------------- configuration errors


def test_broken_fixture_reports_every_problem_with_position():
    with pytest.raises(ConfigError) as info:
        load_mapping_set(BROKEN)
    found = {(Path(p.file).name, p.line, p.column, p.field) for p in info.value.problems}
    expected = {
        ("broken_customer.yaml", 7, 1, "feilds_typo"),
        ("broken_customer.yaml", 9, 9, "fields.name.path"),
        ("broken_customer.yaml", 13, 9, "fields.grade.transforms[0]"),
        ("broken_customer.yaml", 16, 18, "fields.email.transforms[0]"),
        ("broken_customer.yaml", 18, 11, "fields.credit_limit.expr"),
        ("broken_customer.yaml", 19, 3, "fields.colour"),
        ("broken_customer.yaml", 22, 15, "fields.phone.nullable"),
        ("broken_customer.yaml", 24, 12, "fields.is_distributor.value"),
        ("broken_customer.yaml", 25, 3, "fields.region"),
        ("broken_customer.yaml", 30, 11, "fields.city.when"),
        ("no_kind.yaml", 1, 1, "kind"),
    }
    assert found == expected
    text = str(info.value)
    assert "unknown transform 'emial'" in text and "'SS' is not a value of grade" in text
    assert "other_kind.yaml" not in text  # kinds owned by others are ignored


def test_yaml_syntax_errors_are_reported_with_the_rest(tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: mapping\nfields: [\n", encoding="utf-8")
    (tmp_path / "ok.yaml").write_text(BASE + "fields: {nmae: customer.name}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_mapping_set(tmp_path)
    files = {Path(p.file).name for p in info.value.problems}
    assert files == {"bad.yaml", "ok.yaml"}


@pytest.mark.parametrize(
    "extra, field, words",
    [
        ("timezone: Mars/Olympus\n", "timezone", "unknown timezone"),
        ("filter: record.a ==\n", "filter", "syntax error"),
        ("fields: {grade: {path: a, transforms: [{map: {x: Z}}]}}\n", "fields.grade.transforms[0]", "never be stored"),
        ("fields: {placed_at: a}\n", "fields.placed_at", "unknown canonical field"),
        ("fields: {name: {path: a, value: b}}\n", "fields.name", "exactly one"),
        ("fields: {name: {}}\n", "fields.name", "exactly one"),
        ("fields: {name: {path: a, transforms: [{datetime: '%Y-%m-%d'}]}}\n", "fields.name.transforms[0]", "timezone"),
        ("references: {customer_id: {entity: customer, id: a}}\n", "references.customer_id", "unknown canonical field"),
        ("lines: {path: x, fields: {sku: a}}\n", "lines", "no lines"),
        ("entity2: x\n", "entity2", "did you mean 'entity'"),
    ],
)
def test_configuration_problems(extra, field, words):
    with pytest.raises(ConfigError) as info:
        compile_text(BASE + extra)
    assert any(p.field == field and words in p.message for p in info.value.problems), info.value


def test_order_lines_need_the_required_line_fields():
    text = BASE.replace("entity: customer", "entity: order") + "lines: {path: items, fields: {sku: s}}\n"
    with pytest.raises(ConfigError) as info:
        compile_text(text)
    assert "quantity, unit_price" in str(info.value)


def test_duplicate_sources_and_missing_grade_scale():
    doc = load_yaml_text(BASE, "a.yaml")
    with pytest.raises(ConfigError) as info:
        compile_documents([SCALE, ("a.yaml", doc), ("b.yaml", load_yaml_text(BASE, "b.yaml"))])
    assert "already mapped by a.yaml" in str(info.value)
    with pytest.raises(ConfigError) as info:
        compile_documents([("a.yaml", load_yaml_text(BASE + "fields: {grade: t}\n", "a.yaml"))])
    assert "no grade scale" in str(info.value)


def test_version_ignores_comments_order_and_examples():
    a = compile_text(BASE + "fields: {name: customer.name}\n").find("demo_crm", "customer")
    b = compile_text("# comment\n" + BASE + "fields:\n  name: customer.name\nexamples: []\n").find("demo_crm", "customer")
    c = compile_text(BASE + "fields: {name: customer.fullname}\n").find("demo_crm", "customer")
    assert a.version == b.version != c.version


# ----------------------------------------------------------------------------- runtime


DEMO = SHIPPED.find("demo_crm", "customer")
NOW = "2026-11-01T08:00:00+08:00"


def test_absent_vs_null():
    absent = DEMO.apply({"customer": {"id": "C", "updated_at": NOW}})
    assert absent.fields == {}
    nulled = DEMO.apply({"customer": {"id": "C", "updated_at": NOW, "email": None, "name": None, "tier": None}})
    assert nulled.fields == {"email": None}  # email is nullable; name and grade are not: their null is ignored
    assert nulled.categories == {"email": "contact_personal"} and nulled.lineage == {"email": "customer.email"}


def test_whole_parent_null_is_null_not_absent():
    record = SHIPPED.find("salesforce", "Account").apply({"Id": "1", "LastModifiedDate": NOW, "BillingAddress": None})
    assert record.fields == {}  # country/region/city are not nullable: ignored


@pytest.mark.parametrize(
    "payload, code, words",
    [
        ({"customer": {"updated_at": NOW}}, "missing_required", "id"),
        ({"customer": {"id": "C"}}, "missing_required", "timestamp"),
        ({"customer": {"id": "C", "updated_at": "2026-11-01T08:00:00"}}, "bad_type", "timezone"),
        ({"customer": {"id": "C", "updated_at": NOW, "tier": "Titanium"}}, "unknown_value", "Titanium"),
        ({"customer": {"id": "C", "updated_at": NOW, "credit_limit": "lots"}}, "bad_type", "lots"),
        ({"customer": {"id": "C", "updated_at": NOW, "email": "nope"}}, "bad_type", "nope"),
        ({"customer": "C-1"}, "bad_type", "customer"),
        ({"customer": {"id": {"x": 1}, "updated_at": NOW}}, "bad_type", "text"),
    ],
)
def test_record_errors_name_value_connector_and_file(payload, code, words):
    with pytest.raises(RecordMappingError) as info:
        DEMO.apply(payload)
    error = info.value
    assert error.code == code and words in error.message
    assert "demo_crm" in error.message and "mappings/demo_crm_customer.yaml:" in error.message


def test_unknown_grade_message_is_actionable():
    with pytest.raises(RecordMappingError) as info:
        DEMO.apply({"customer": {"id": "C", "updated_at": NOW, "tier": "Titanium"}})
    assert info.value.field == "grade" and info.value.path == "customer.tier"
    assert "add it to this field's `map:`" in info.value.message


def test_non_object_payload():
    with pytest.raises(RecordMappingError) as info:
        DEMO.apply(["not", "a", "dict"])  # type: ignore[arg-type]
    assert info.value.code == "not_an_object"


def test_filter_skips():
    with pytest.raises(RecordMappingError) as info:
        SHIPPED.find("hubspot", "company").apply({"objectId": 1, "occurredAt": 1, "subscriptionType": "company.deletion"})
    assert info.value.code == "filtered_out"


def test_money_is_decimal_and_times_are_aware():
    order = SHIPPED.find("kingdee", "SAL_SaleOrder").apply(
        {
            "FBillNo": "X",
            "FModifyDate": "2026-11-01T10:00:00",
            "FCustId": {"FNumber": "C1"},
            "FBillAllAmount": 0.1,
            "FSaleOrderEntry": [{"FMaterialId": {"FNumber": "S"}, "FQty": 1, "FTaxPrice": 0.1}],
        }
    )
    assert order.fields["total"] == Decimal("0.1") and order.fields["lines"][0]["unit_price"] == Decimal("0.1")
    assert order.source_time == datetime(2026, 11, 1, 2, tzinfo=UTC)
    assert order.references["customer_id"].id == "C1"


def test_line_errors_name_the_line():
    with pytest.raises(RecordMappingError) as info:
        SHIPPED.find("kingdee", "SAL_SaleOrder").apply(
            {
                "FBillNo": "X",
                "FModifyDate": "2026-11-01T10:00:00",
                "FCustId": {"FNumber": "C1"},
                "FSaleOrderEntry": [{"FMaterialId": {"FNumber": "S"}, "FQty": 1, "FTaxPrice": 1}, {"FQty": 1, "FTaxPrice": 1}],
            }
        )
    assert info.value.code == "missing_required" and "line 1" in info.value.message


# ----------------------------------------------------------------------------- tools


def test_dry_run_and_cli(tmp_path, capsys):
    payload = {"customer": {"id": "C-1", "tier": "Gold", "updated_at": NOW}}
    result = dry_run(DEMO, payload)
    assert result["record"]["fields"] == {"grade": "A"} and result["mapping_version"] == DEMO.version
    assert dry_run(DEMO, {"customer": {}})["error"]["code"] == "missing_required"

    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    assert cli_main(["try", str(MAPPINGS / "demo_crm_customer.yaml"), str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["record"]["fields"]["grade"] == "A"
    assert cli_main(["validate", str(MAPPINGS)]) == 0
    assert cli_main(["test", str(MAPPINGS / "hubspot_deal.yaml")]) == 0
    assert "4 passed, 0 failed" in capsys.readouterr().out
    assert cli_main(["validate", str(BROKEN)]) == 1
    assert "broken_customer.yaml:13:9" in capsys.readouterr().err


def test_regression_diff():
    edited = compile_documents(
        [
            SCALE,
            ("demo.yaml", load_yaml_text(BASE + "fields:\n  grade: {path: customer.tier, transforms: [{map: {Gold: S}}]}\n", "demo.yaml")),
        ]
    )
    inputs = [
        InboundRecord(connector="demo_crm", object="customer", dedupe_key=key, received_at=datetime.now(UTC), payload=payload)
        for key, payload in [
            ("k1", {"customer": {"id": "C-1", "tier": "Gold", "name": "Acme", "updated_at": NOW}}),
            ("k2", {"customer": {"id": "C-2", "tier": "Bronze", "updated_at": NOW}}),
        ]
    ]
    changes = {(c.input, c.field): (c.old, c.new) for c in regression_diff(SHIPPED, edited, inputs)}
    assert changes[("k1", "fields.grade")] == ("A", "S")
    assert changes[("k1", "fields.name")] == ("Acme", "<absent>")
    assert changes[("k2", "outcome")] == ("mapped", "error: unknown_value")


ORDER_BASE = """\
kind: mapping
source: {connector: demo_erp, object: order}
entity: order
id: id
timestamp: changed
fields:
  placed_at: {path: placed, transforms: [datetime]}
examples:
  - name: placed at midnight UTC
    input: {id: O-1, changed: "2026-11-01T00:00:00Z", placed: "2026-11-01T00:00:00Z"}
    expect:
      source_time: "2026-11-01T00:00:00+00:00"
      fields: {placed_at: %s}
"""


@pytest.mark.parametrize(
    "written, passes",
    [
        ('"2026-11-01T00:00:00+00:00"', True),  # the same offset written another way
        ('"2026-11-01T00:00:00Z"', True),
        ('"2026-11-01T08:00:00+08:00"', False),  # the same instant, but the record does not hold this offset
        ('"2026-11-01T00:00:01Z"', False),
        ('"2026-11-01"', False),
        ("not a time", False),
    ],
)
def test_example_times_compare_as_times_not_text(written, passes):
    mapping = compile_text(ORDER_BASE % written).find("demo_erp", "order")
    [result] = [run_example(mapping, example) for example in mapping.examples]
    assert result.passed is passes, result.differences
    if not passes:
        assert result.differences[0].startswith("fields.placed_at: expected")


def docs_block(marker: str) -> str:
    text = (ROOT / "docs" / "mappings.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```yaml\n(.*?)```", text, re.S)
    assert match, f"docs/mappings.md has no {marker} block"
    return match.group(1)


RATE_BASED = """\
kind: mapping
source: {connector: odoo, object: pos.order}
entity: pos_sale
id: id
timestamp: changed
lines:
  path: lines
  fields:
    sku: sku
    quantity: qty
    unit_price: price_unit
%s
examples:
  - name: 3 x 100.00 at 12.5 %% off
    input: {id: 1, changed: "2026-11-01T00:00:00Z", lines: [{sku: A, qty: 3, price_unit: 100.00, discount: 12.5}]}
    expect:
      fields:
        lines: [{sku: A, quantity: "3", unit_price: "100.0", discount: "37.50"}]
"""


def test_docs_rate_based_discount_is_the_shipped_rule_and_gives_the_line_amount():
    snippet = docs_block("rate-discount")
    assert snippet in (MAPPINGS / "odoo_pos_order.yaml").read_text(encoding="utf-8")  # the docs quote the shipped file
    mapping = compile_text(RATE_BASED % snippet.rstrip("\n")).find("odoo", "pos.order")
    [result] = [run_example(mapping, example) for example in mapping.examples]
    assert result.passed, result.differences
    [line_] = mapping.apply(
        {"id": 1, "changed": NOW, "lines": [{"sku": "A", "qty": 3, "price_unit": Decimal("100.00"), "discount": 12.5}]}
    ).fields["lines"]
    assert line_["unit_price"] * line_["quantity"] - line_["discount"] == Decimal("262.50")  # the net amount of the line
